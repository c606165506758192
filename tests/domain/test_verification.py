"""The verification body: three shapes, and every wrong field named."""

from __future__ import annotations

from typing import Any

import pytest

from addax.domain.verification import (
    ModelBox,
    Verification,
    VerificationError,
    VerifiedBox,
    parse_verification,
    species_from_text,
    verification_from_row,
)

ROE = ModelBox(0, "animal", 0.9, (0.1, 0.1, 0.2, 0.3), "Capreolus capreolus", "roe deer")
FOX = ModelBox(1, "animal", 0.6, (0.5, 0.5, 0.1, 0.1), "Vulpes vulpes", "red fox")
FAINT = ModelBox(2, "person", 0.2, (0.7, 0.1, 0.1, 0.2))
BOXES = (ROE, FOX, FAINT)


def test_confirm_takes_the_top_1_of_every_box_at_or_above_the_threshold() -> None:
    verification = parse_verification({"confirm": True, "notes": " ok "}, BOXES, threshold=0.5)
    assert [box.detection for box in verification.boxes] == [0, 1]
    assert verification.taxa == ["Capreolus capreolus", "Vulpes vulpes"] and verification.labels == ["animal"]
    assert verification.boxes[0].common_name == "roe deer" and verification.notes == "ok"
    assert not verification.blank


def test_confirming_a_photo_without_boxes_above_the_threshold_says_it_is_blank() -> None:
    verification = parse_verification({"confirm": True}, (FAINT,), threshold=0.5)
    assert verification.blank and verification.boxes == () and verification.labels == [] and verification.taxa == []


def test_a_flat_body_names_the_species_of_the_whole_photo() -> None:
    verification = parse_verification({"species": "Cervus elaphus", "common_name": "red deer", "count": 2}, BOXES)
    (whole,) = verification.boxes
    assert whole == VerifiedBox(None, "animal", "Cervus elaphus", "red deer", 2, None)
    assert verification.individuals == 2 and verification.taxa == ["Cervus elaphus"]


def test_a_flat_body_counts_the_model_boxes_of_its_label_and_knows_the_models_common_name() -> None:
    verification = parse_verification({"taxon": "Vulpes vulpes"}, BOXES, threshold=0.5)
    assert verification.boxes[0].count == 2 and verification.boxes[0].common_name == "red fox"
    people = parse_verification({"label": "person"}, BOXES, threshold=0.5)
    assert people.labels == ["person"] and people.taxa == [] and people.boxes[0].count == 1


def test_blank_clears_labels_and_taxa() -> None:
    verification = parse_verification({"blank": True, "notes": "wind"}, BOXES)
    assert verification.blank and verification.labels == [] and verification.taxa == []
    assert parse_verification({"boxes": [], "blank": True}, BOXES).blank


def test_per_box_corrects_one_box_drops_another_and_adds_a_missed_one() -> None:
    body = {
        "boxes": [
            {"detection": 0, "taxon": "Cervus elaphus", "common_name": "red deer", "count": 2},
            {"detection": None, "label": "person", "bbox": [0.6, 0.6, 0.2, 0.3]},
        ],
        "individuals": 3,
        "notes": "a hiker too",
    }
    verification = parse_verification(body, BOXES)
    deer, hiker = verification.boxes
    assert deer == VerifiedBox(0, "animal", "Cervus elaphus", "red deer", 2, ROE.bbox)
    assert hiker == VerifiedBox(None, "person", None, None, 1, (0.6, 0.6, 0.2, 0.3))
    assert verification.labels == ["animal", "person"] and verification.taxa == ["Cervus elaphus"]
    assert verification.individuals == 3


def test_a_kept_box_keeps_the_models_label_and_common_name_of_the_same_taxon() -> None:
    (box,) = parse_verification(
        {
            "boxes": [
                {"detection": 2},
            ]
        },
        BOXES,
    ).boxes
    assert box.label == "person" and box.taxon is None
    (fox,) = parse_verification({"boxes": [{"detection": 1, "species": "Vulpes vulpes"}]}, BOXES).boxes
    assert fox.common_name == "red fox"


def test_the_stored_json_reads_back_as_the_same_verification() -> None:
    verification = parse_verification({"confirm": True}, BOXES)
    again = verification_from_row(verification.boxes_json(), blank=False, individuals=None, notes="")
    assert again == verification
    assert isinstance(again, Verification)


BAD: list[tuple[Any, str]] = [
    ([], "body"),
    ({"confirm": False}, "confirm"),
    ({"confirm": True, "taxon": "x"}, "taxon"),
    ({"taxon": 3}, "taxon"),
    ({"species": "x" * 201}, "species"),
    ({"taxon": "a", "species": "b"}, "species"),
    ({"notes": "only notes"}, "taxon"),
    ({"taxon": "Vulpes", "label": "cat"}, "label"),
    ({"taxon": "Vulpes", "count": 0}, "count"),
    ({"taxon": "Vulpes", "count": 1.5}, "count"),
    ({"taxon": "Vulpes", "count": True}, "count"),
    ({"taxon": "Vulpes", "common_name": ["fox"]}, "common_name"),
    ({"taxon": "Vulpes", "notes": 5}, "notes"),
    ({"taxon": "Vulpes", "notes": "n" * 2001}, "notes"),
    ({"taxon": "Vulpes", "colour": "red"}, "colour"),
    ({"blank": "yes"}, "blank"),
    ({"blank": True, "taxon": "Vulpes"}, "blank"),
    ({"boxes": {}}, "boxes"),
    ({"boxes": ["x"]}, "boxes[0]"),
    ({"boxes": [{"detection": 7}]}, "boxes[0].detection"),
    ({"boxes": [{"detection": "0"}]}, "boxes[0].detection"),
    ({"boxes": [{"detection": 0}, {"detection": 0}]}, "boxes[1].detection"),
    ({"boxes": [{"detection": None, "taxon": "Vulpes"}]}, "boxes[0].bbox"),
    ({"boxes": [{"bbox": [0.1, 0.1, 0.2]}]}, "boxes[0].bbox"),
    ({"boxes": [{"bbox": [0.1, 0.1, 0, 0.2]}]}, "boxes[0].bbox"),
    ({"boxes": [{"bbox": [0.9, 0.1, 0.5, 0.2]}]}, "boxes[0].bbox"),
    ({"boxes": [{"bbox": [0.1, "a", 0.5, 0.2]}]}, "boxes[0].bbox"),
    ({"boxes": [{"detection": 0, "label": "cow"}]}, "boxes[0].label"),
    ({"boxes": [{"detection": 0, "taxon": 1}]}, "boxes[0].taxon"),
    ({"boxes": [{"detection": 0, "common_name": 1}]}, "boxes[0].common_name"),
    ({"boxes": [{"detection": 0, "count": -1}]}, "boxes[0].count"),
    ({"boxes": [{"detection": 0, "shape": "round"}]}, "boxes[0].shape"),
    ({"boxes": [{"detection": 0, "taxon": "a", "species": "b"}]}, "boxes[0].species"),
    ({"boxes": [{"detection": 0}], "blank": True}, "blank"),
    ({"boxes": [], "individuals": -1}, "individuals"),
    ({"boxes": [], "individuals": "3"}, "individuals"),
    ({"boxes": [], "label": "animal"}, "label"),
]


@pytest.mark.parametrize(("body", "field"), BAD)
def test_a_wrong_field_is_named(body: Any, field: str) -> None:
    with pytest.raises(VerificationError) as raised:
        parse_verification(body, BOXES)
    assert raised.value.field == field
    assert str(raised.value).startswith(f"{field}: ")


KNOWN = {"Capreolus capreolus": "roe deer", "Vulpes vulpes": "red fox", "Canis lupus": None}


@pytest.mark.parametrize(
    ("typed", "species"),
    [
        ("roe deer", ("Capreolus capreolus", "roe deer")),
        ("  VULPES   vulpes ", ("Vulpes vulpes", "red fox")),
        ("canis lupus", ("Canis lupus", None)),
        ("red deer (Cervus elaphus)", ("Cervus elaphus", "red deer")),
        ("Cervus elaphus (red deer)", ("Cervus elaphus", "red deer")),
        ("Martes", ("Martes", None)),
        ("", None),
    ],
)
def test_typed_species_are_found_among_the_known_or_split_into_taxon_and_common_name(
    typed: str, species: tuple[str, str | None] | None
) -> None:
    assert species_from_text(typed, KNOWN) == species
