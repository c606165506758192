"""Classifier adapters: crops and names, checked against answers worked out by hand."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from addax.models.classifiers import Guess, crop_tensor, name_box, parse_taxonomy, taxonomy_for
from addax.models.deepfaune import (
    DEEPFAUNE_CROPS,
    DEEPFAUNE_INPUT_SIZE,
    DEEPFAUNE_LABELS,
    DEEPFAUNE_SCIENTIFIC,
    square_crop_box,
)
from addax.models.manifest import CropPreparation, Manifest, ManifestError
from addax.models.speciesnet import SPECIESNET_CROPS, SPECIESNET_INPUT_SIZE, crop_box

PROBABILITIES = CropPreparation(outputs="probabilities")
FLAT = ("Vulpes vulpes|red fox", "Meles meles|badger", "Sus scrofa|wild boar")

# SpeciesNet-style labels and one row of probabilities that sums to 1.
ROE = "a1;mammalia;cetartiodactyla;cervidae;capreolus;capreolus;european roe deer"
SPECIESNET_LABELS = (
    ROE,  # 0.40
    "a2;mammalia;cetartiodactyla;cervidae;cervus;elaphus;red deer",  # 0.15
    "a3;mammalia;cetartiodactyla;cervidae;dama;dama;fallow deer",  # 0.05
    "a4;mammalia;cetartiodactyla;cervidae;;;deer family",  # 0.01
    "a5;mammalia;carnivora;canidae;vulpes;vulpes;red fox",  # 0.04
    "a6;mammalia;cetartiodactyla;suidae;sus;scrofa;wild boar",  # 0.03
    "f1856211-cfb7-4a5b-9158-c0f72fd09ee6;;;;;;blank",  # 0.02
    "a7;mammalia;cetartiodactyla;cervidae;capreolus;;capreolus species",  # 0.30
)
SPECIESNET_ROW = np.array([0.40, 0.15, 0.05, 0.01, 0.04, 0.03, 0.02, 0.30])


def speciesnet_manifest(tmp_path: Path, *, geofence: dict | None = None, threshold: float = 0.65) -> Manifest:
    geofence_file = None
    if geofence is not None:
        geofence_file = tmp_path / "geofence.json"
        geofence_file.write_text(json.dumps(geofence), encoding="utf-8")
    return Manifest(
        name="speciesnet",
        path=tmp_path / "speciesnet.toml",
        kind="classifier",
        family="speciesnet",
        file=tmp_path / "speciesnet.onnx",
        input_size=SPECIESNET_INPUT_SIZE,
        labels=SPECIESNET_LABELS,
        crops=PROBABILITIES,
        rollup_threshold=threshold,
        geofence_file=geofence_file,
    )


# ---------------------------------------------------------------------------------------------------- scores


def test_logits_go_through_a_softmax() -> None:
    taxonomy = parse_taxonomy(FLAT, "classifier")
    # softmax(ln 1, ln 2, ln 5) = 1/8, 2/8, 5/8
    guesses = name_box(np.log(np.array([1.0, 2.0, 5.0], dtype=np.float32)), taxonomy, CropPreparation())
    assert guesses == [
        Guess("Sus scrofa", "wild boar", 0.625),
        Guess("Meles meles", "badger", 0.25),
        Guess("Vulpes vulpes", "red fox", 0.125),
    ]
    # softmax(2, 1, 0) = e^2, e, 1 over 11.1073: 0.66524, 0.24473, 0.09003
    guesses = name_box(np.array([2.0, 1.0, 0.0]), taxonomy, CropPreparation(outputs="logits"))
    assert [g.score for g in guesses] == [0.6652, 0.2447, 0.09]


def test_probabilities_are_taken_as_given() -> None:
    taxonomy = parse_taxonomy(FLAT, "classifier")
    guesses = name_box(np.array([0.1, 0.7, 0.1]), taxonomy, PROBABILITIES)  # need not sum to 1
    assert guesses == [
        Guess("Meles meles", "badger", 0.7),
        Guess("Vulpes vulpes", "red fox", 0.1),  # a tie keeps the output order
        Guess("Sus scrofa", "wild boar", 0.1),
    ]


def test_scores_are_rounded_to_four_places() -> None:
    taxonomy = parse_taxonomy(("Vulpes vulpes", "Meles meles"), "classifier")
    assert name_box(np.array([0.123456, 0.876544]), taxonomy, PROBABILITIES) == [
        Guess("Meles meles", None, 0.8765),
        Guess("Vulpes vulpes", None, 0.1235),
    ]


def test_a_row_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(ValueError, match="4 scores for 3 labels"):
        name_box(np.zeros(4), parse_taxonomy(FLAT, "classifier"), PROBABILITIES)


def test_the_top_guesses_best_first() -> None:
    labels = [f"Species {letter}" for letter in "abcdefg"]
    taxonomy = parse_taxonomy(labels, "classifier")
    row = np.array([0.05, 0.30, 0.02, 0.20, 0.15, 0.25, 0.03])
    assert [(g.taxon, g.score) for g in name_box(row, taxonomy, PROBABILITIES)] == [
        ("Species b", 0.30),
        ("Species f", 0.25),
        ("Species d", 0.20),
        ("Species e", 0.15),
        ("Species a", 0.05),
    ]
    assert [g.taxon for g in name_box(row, taxonomy, PROBABILITIES, top=2)] == ["Species b", "Species f"]


# ------------------------------------------------------------------------------------------- allowed species


def test_allowed_species_are_renormalised() -> None:
    taxonomy = parse_taxonomy(FLAT, "classifier")
    row = np.array([0.5, 0.3, 0.2])
    # by common name and by scientific name, ignoring case: 0.3 / 0.5 and 0.2 / 0.5
    assert name_box(row, taxonomy, PROBABILITIES, allowed=frozenset({"Badger", "sus scrofa"})) == [
        Guess("Meles meles", "badger", 0.6),
        Guess("Sus scrofa", "wild boar", 0.4),
    ]
    assert name_box(row, taxonomy, PROBABILITIES, allowed=frozenset({"wolf"})) == []


# ----------------------------------------------------------------------------------- thresholds and roll-up


def test_flat_labels_below_their_threshold_roll_up_to_animalia() -> None:
    taxonomy = parse_taxonomy(FLAT, "classifier")
    row = np.array([0.5, 0.3, 0.2])
    assert name_box(row, taxonomy, PROBABILITIES)[0] == Guess("Vulpes vulpes", "red fox", 0.5)  # default 0
    assert name_box(row, taxonomy, PROBABILITIES, thresholds={"red fox": 0.8}, top=3) == [
        Guess("Animalia", "animal", 1.0),
        Guess("Vulpes vulpes", "red fox", 0.5),
        Guess("Meles meles", "badger", 0.3),
    ]
    # keyed by the scientific name, and a threshold that is met
    assert name_box(row, taxonomy, PROBABILITIES, thresholds={"vulpes VULPES": 0.5})[0].taxon == "Vulpes vulpes"


def test_labels_that_are_no_animal_are_not_rolled_up_nor_summed() -> None:
    taxonomy = parse_taxonomy(("blank", "Vulpes vulpes|red fox", "Meles meles|badger"), "classifier")
    row = np.array([0.2, 0.5, 0.3])
    # Animalia sums the fox and the badger only
    assert name_box(row, taxonomy, PROBABILITIES, thresholds={"Vulpes vulpes": 0.9})[0] == Guess(
        "Animalia", "animal", 0.8
    )
    row = np.array([0.6, 0.3, 0.1])
    assert name_box(row, taxonomy, PROBABILITIES, thresholds={"blank": 0.9})[0] == Guess("blank", None, 0.6)


def test_speciesnet_rolls_up_to_the_lowest_taxon_that_reaches_the_threshold(tmp_path: Path) -> None:
    taxonomy = taxonomy_for(speciesnet_manifest(tmp_path))
    crops = PROBABILITIES

    # roe deer 0.40 < 0.65 (rollup_threshold): genus Capreolus = 0.40 + 0.30 (capreolus species) = 0.70
    assert name_box(SPECIESNET_ROW, taxonomy, crops) == [
        Guess("Capreolus", "capreolus species", 0.7),
        Guess("Capreolus capreolus", "european roe deer", 0.4),
        Guess("Capreolus", "capreolus species", 0.3),
        Guess("Cervus elaphus", "red deer", 0.15),
        Guess("Dama dama", "fallow deer", 0.05),
    ]
    # 0.80: Capreolus 0.70 is short; family Cervidae = 0.40 + 0.15 + 0.05 + 0.01 + 0.30 = 0.91
    by_name = {"european roe deer": 0.8}
    assert name_box(SPECIESNET_ROW, taxonomy, crops, thresholds=by_name)[0] == Guess("Cervidae", "deer family", 0.91)
    # 0.93: order Cetartiodactyla = 0.91 + 0.03 (wild boar) = 0.94; no label names the order
    by_taxon = {"Capreolus capreolus": 0.93}
    assert name_box(SPECIESNET_ROW, taxonomy, crops, thresholds=by_taxon)[0] == Guess("Cetartiodactyla", None, 0.94)
    # 0.95: class Mammalia = 0.94 + 0.04 (red fox) = 0.98
    assert name_box(SPECIESNET_ROW, taxonomy, crops, thresholds={ROE: 0, "Capreolus capreolus": 0.95})[0] == Guess(
        "Mammalia", None, 0.98
    )
    # 0.99: nothing reaches it, Animalia = every animal, so 1 - 0.02 (blank) = 0.98
    assert name_box(SPECIESNET_ROW, taxonomy, crops, thresholds=by_taxon | {"Capreolus capreolus": 0.99})[0] == Guess(
        "Animalia", "animal", 0.98
    )
    # a threshold met: no roll-up
    assert name_box(SPECIESNET_ROW, taxonomy, crops, thresholds={"european roe deer": 0.4})[0] == Guess(
        "Capreolus capreolus", "european roe deer", 0.4
    )


def test_speciesnet_threshold_comes_from_the_manifest(tmp_path: Path) -> None:
    taxonomy = taxonomy_for(speciesnet_manifest(tmp_path, threshold=0.4))
    assert name_box(SPECIESNET_ROW, taxonomy, PROBABILITIES)[0] == Guess(
        "Capreolus capreolus", "european roe deer", 0.4
    )


def test_generic_labels_with_ranks_roll_up_too() -> None:
    taxonomy = parse_taxonomy(SPECIESNET_LABELS, "classifier")
    assert name_box(SPECIESNET_ROW, taxonomy, PROBABILITIES)[0].taxon == "Capreolus capreolus"  # default 0
    assert name_box(SPECIESNET_ROW, taxonomy, PROBABILITIES, thresholds={"european roe deer": 0.65})[0] == Guess(
        "Capreolus", "capreolus species", 0.7
    )


# ---------------------------------------------------------------------------------------------- geofence

GEOFENCE = {
    "mammalia;cetartiodactyla;cervidae;capreolus;capreolus": {"allow": {"FRA": [], "DEU": ["DE-BY"]}},
    "mammalia;cetartiodactyla;cervidae;cervus;elaphus": {"block": {"USA": [], "CAN": ["CA-AB"]}},
}


def test_the_geofence_drops_species_out_of_their_range(tmp_path: Path) -> None:
    taxonomy = taxonomy_for(speciesnet_manifest(tmp_path, geofence=GEOFENCE))
    guesses = name_box(SPECIESNET_ROW, taxonomy, PROBABILITIES, country="usa")
    # roe deer (not allowed in the USA) and red deer (blocked there) are gone, nothing is renormalised;
    # capreolus species 0.30 < 0.65, genus Capreolus 0.30 (a fenced species does not count at genus level),
    # family Cervidae: 0.30 + 0.05 + 0.01 shown + 0.40 + 0.15 fenced = 0.91
    assert guesses == [
        Guess("Cervidae", "deer family", 0.91),
        Guess("Capreolus", "capreolus species", 0.3),
        Guess("Dama dama", "fallow deer", 0.05),
        Guess("Vulpes vulpes", "red fox", 0.04),
        Guess("Sus scrofa", "wild boar", 0.03),
    ]
    unfenced = name_box(SPECIESNET_ROW, taxonomy, PROBABILITIES)
    assert unfenced[1] == Guess("Capreolus capreolus", "european roe deer", 0.4)
    # allowed in France and Germany (regions are not known, so a region list allows the country), red deer
    # blocked only in a region of Canada
    for country in ("FRA", "DEU"):
        assert name_box(SPECIESNET_ROW, taxonomy, PROBABILITIES, country=country) == unfenced
    in_canada = name_box(SPECIESNET_ROW, taxonomy, PROBABILITIES, country="CAN")
    assert Guess("Cervus elaphus", "red deer", 0.15) in in_canada
    assert [g.taxon for g in in_canada].count("Capreolus capreolus") == 0  # not on the allow list


def test_a_rolled_up_taxon_out_of_range_is_skipped(tmp_path: Path) -> None:
    geofence = {"mammalia;cetartiodactyla;cervidae;capreolus;": {"allow": {"FRA": []}}}
    taxonomy = taxonomy_for(speciesnet_manifest(tmp_path, geofence=geofence))
    # roe deer itself has no rule; genus Capreolus (0.70) is fenced out, the family (0.91) is next
    assert name_box(SPECIESNET_ROW, taxonomy, PROBABILITIES, country="USA")[0] == Guess("Cervidae", "deer family", 0.91)
    assert name_box(SPECIESNET_ROW, taxonomy, PROBABILITIES, country="FRA")[0].taxon == "Capreolus"


def test_geofence_then_allowed_species(tmp_path: Path) -> None:
    taxonomy = taxonomy_for(speciesnet_manifest(tmp_path, geofence=GEOFENCE))
    allowed = frozenset({"red deer", "fallow deer"})
    assert name_box(SPECIESNET_ROW, taxonomy, PROBABILITIES, allowed=allowed, country="USA") == [
        Guess("Dama dama", "fallow deer", 1.0)
    ]
    # without a country: 0.15 / 0.20 and 0.05 / 0.20
    assert name_box(SPECIESNET_ROW, taxonomy, PROBABILITIES, allowed=allowed) == [
        Guess("Cervus elaphus", "red deer", 0.75),
        Guess("Dama dama", "fallow deer", 0.25),
    ]


def test_an_unreadable_geofence_names_the_manifest(tmp_path: Path) -> None:
    manifest = speciesnet_manifest(tmp_path, geofence={})
    manifest.geofence_file.write_text("{not json", encoding="utf-8")  # type: ignore[union-attr]
    with pytest.raises(ManifestError, match=r"speciesnet\.toml: geofence_file"):
        taxonomy_for(manifest)
    manifest.geofence_file.unlink()  # type: ignore[union-attr]
    with pytest.raises(ManifestError, match="cannot be read"):
        taxonomy_for(manifest)


# ---------------------------------------------------------------------------------------------- DeepFaune


def test_deepfaune_labels_carry_scientific_names() -> None:
    assert len(DEEPFAUNE_LABELS) == 40 and len(set(DEEPFAUNE_LABELS)) == 40
    assert set(DEEPFAUNE_LABELS) <= set(DEEPFAUNE_SCIENTIFIC)
    assert DEEPFAUNE_LABELS[9] == "roe deer" and DEEPFAUNE_LABELS[35] == "fox" and DEEPFAUNE_LABELS[-1] == "cow"
    taxonomy = parse_taxonomy(DEEPFAUNE_LABELS, "deepfaune")
    row = np.zeros(40)
    row[9], row[35], row[36] = 0.7, 0.2, 0.1
    assert name_box(row, taxonomy, PROBABILITIES, top=3) == [
        Guess("Capreolus capreolus", "roe deer", 0.7),
        Guess("Vulpes vulpes", "fox", 0.2),
        Guess("Vulpes lagopus", "arctic fox", 0.1),
    ]
    assert name_box(row, taxonomy, PROBABILITIES, allowed=frozenset({"Vulpes vulpes", "micromammal"})) == [
        Guess("Vulpes vulpes", "fox", 1.0),
        Guess("micromammal", "micromammal", 0.0),
    ]


def test_deepfaune_crop_preparation() -> None:
    assert DEEPFAUNE_INPUT_SIZE == 224
    assert DEEPFAUNE_CROPS == CropPreparation(
        resize="squash", mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225), outputs="logits"
    )
    assert SPECIESNET_INPUT_SIZE == 480 and SPECIESNET_CROPS == CropPreparation()


def test_deepfaune_makes_the_box_square() -> None:
    # wide box 40 x 20: 10 more rows above and below
    assert square_crop_box((80, 40, 120, 60), 200, 100) == (80, 30, 120, 70)
    # tall box 10 x 50: 20 more columns on each side
    assert square_crop_box((90, 10, 100, 60), 200, 100) == (70, 10, 120, 60)
    # at the top edge: cut there, a 40 x 30 rectangle
    assert square_crop_box((80, 0, 120, 20), 200, 100) == (80, 0, 120, 30)
    # int() as DeepFaune: 20.2 x 10.4 grows by int(4.9) = 4
    assert square_crop_box((10.7, 20.2, 30.9, 30.6), 200, 100) == (10, 16, 30, 34)


def test_deepfaune_crop_tensor_is_square_and_normalised() -> None:
    a, b, c = (128, 64, 32), (0, 0, 0), (255, 255, 255)
    rgb = np.empty((100, 200, 3), dtype=np.uint8)
    rgb[:] = c
    rgb[30:70, 80:120] = b  # what squaring adds
    rgb[40:60, 80:120] = a  # the box
    tensor = crop_tensor(rgb, (0.4, 0.4, 0.2, 0.2), 40, DEEPFAUNE_CROPS, "deepfaune")
    assert tensor.shape == (3, 40, 40) and tensor.dtype == np.float32
    # (128/255 - 0.485) / 0.229, (64/255 - 0.456) / 0.224, (32/255 - 0.406) / 0.225
    expected_a = [0.07406456, -0.91526611, -1.24671024]
    expected_b = [-0.485 / 0.229, -0.456 / 0.224, -0.406 / 0.225]  # -2.11790, -2.03571, -1.80444
    for channel in range(3):
        np.testing.assert_allclose(tensor[channel, 10:30], expected_a[channel], rtol=1e-5)
        np.testing.assert_allclose(tensor[channel, :10], expected_b[channel], rtol=1e-5)
        np.testing.assert_allclose(tensor[channel, 30:], expected_b[channel], rtol=1e-5)


def test_deepfaune_resizes_with_a_bicubic_filter() -> None:
    rgb = np.zeros((2, 2, 3), dtype=np.uint8)
    rgb[0, 1] = rgb[1, 0] = 200
    tensor = crop_tensor(rgb, (0.0, 0.0, 1.0, 1.0), 6, CropPreparation(), "deepfaune")
    bicubic = np.asarray(Image.fromarray(rgb).resize((6, 6), Image.Resampling.BICUBIC), dtype=np.float32) / 255
    np.testing.assert_array_equal(tensor, bicubic.transpose(2, 0, 1))
    bilinear = crop_tensor(rgb, (0.0, 0.0, 1.0, 1.0), 6, CropPreparation(), "classifier")
    assert not np.array_equal(tensor, bilinear)


# ---------------------------------------------------------------------------------------------- SpeciesNet


def test_speciesnet_truncates_corner_and_size() -> None:
    # 0.1 * 30 = 3, 0.35 * 30 = 10.5 -> 10 wide, 0.2 * 10 = 2, 0.5 * 10 = 5 high
    assert crop_box((0.1, 0.2, 0.35, 0.5), 30, 10) == (3, 2, 13, 7)
    # poking out of the photo: cut at its edge
    assert crop_box((0.9, 0.9, 0.3, 0.3), 10, 10) == (9, 9, 10, 10)


def test_speciesnet_resizes_bilinear_without_antialiasing_through_uint8() -> None:
    rgb = np.full((4, 4, 3), 255, dtype=np.uint8)
    rgb[:2, :2] = np.array([[0, 100], [200, 40]], dtype=np.uint8)[:, :, None]
    tensor = crop_tensor(rgb, (0.0, 0.0, 0.5, 0.5), 4, SPECIESNET_CROPS, "speciesnet")
    # 2 -> 4 samples the input at -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to the last pixel):
    # weights (1, 0), (0.75, 0.25), (0.25, 0.75), (0, 1) along each axis; rows [0, 100] -> [0, 25, 75, 100] and
    # [200, 40] -> [200, 160, 80, 40]; between them 0.75/0.25 gives 58.75, 76.25 and 0.25/0.75 gives 126.25, 78.75.
    # Back to uint8 as torchvision: (v / 255) * 255.999 truncated, that is v * 1.0039 truncated: 58.75 -> 58.98 -> 58,
    # 76.25 -> 76.55 -> 76, 126.25 -> 126.74 -> 126, but 78.75 -> 79.06 -> 79; whole values stay
    expected = np.array(
        [[0, 25, 75, 100], [50, 58, 76, 85], [150, 126, 79, 55], [200, 160, 80, 40]], dtype=np.float32
    ) / np.float32(255)
    for channel in range(3):
        np.testing.assert_array_equal(tensor[channel], expected)


# ---------------------------------------------------------------------------------------------- crops


def test_squash_with_exact_normalisation() -> None:
    rgb = np.full((100, 200, 3), 200, dtype=np.uint8)
    rgb[50:100, 50:150] = (10, 20, 30)
    crops = CropPreparation(mean=(0.1, 0.2, 0.3), std=(0.5, 0.25, 0.125))
    tensor = crop_tensor(rgb, (0.25, 0.5, 0.5, 0.5), 8, crops, "classifier")
    assert tensor.shape == (3, 8, 8) and tensor.dtype == np.float32
    # (10/255 - 0.1) / 0.5, (20/255 - 0.2) / 0.25, (30/255 - 0.3) / 0.125
    for channel, value in enumerate([-0.12156863, -0.48627451, -1.45882353]):
        np.testing.assert_allclose(tensor[channel], value, rtol=1e-6)


def test_a_box_out_of_the_photo_is_clipped_not_padded() -> None:
    rgb = np.zeros((100, 100, 3), dtype=np.uint8)
    rgb[:, :] = (0, 0, 255)
    rgb[90:, 90:] = (255, 0, 0)
    tensor = crop_tensor(rgb, (0.9, 0.9, 0.3, 0.3), 16, CropPreparation(), "classifier")
    np.testing.assert_array_equal(tensor[0], 1.0)  # only the red corner: no blue, no black
    np.testing.assert_array_equal(tensor[2], 0.0)
    tensor = crop_tensor(rgb, (0.9, 0.9, 0.3, 0.3), 16, CropPreparation(), "speciesnet")
    np.testing.assert_array_equal(tensor[0], 1.0)


def test_letterbox_pads_the_clipped_crop_with_black() -> None:
    rgb = np.zeros((100, 100, 3), dtype=np.uint8)
    rgb[:, :] = (0, 0, 255)
    rgb[90:, 80:] = (255, 0, 0)
    crops = CropPreparation(resize="letterbox", mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
    # the box reaches x 1.2 and y 1.1: clipped to 20 x 10 red pixels, scaled 8/20 to 8 x 4, 2 black rows each side
    tensor = crop_tensor(rgb, (0.8, 0.9, 0.4, 0.2), 8, crops, "classifier")
    np.testing.assert_array_equal(tensor[0, 2:6], 1.0)  # red: (1 - 0.5) / 0.5
    np.testing.assert_array_equal(tensor[0, :2], -1.0)  # black: (0 - 0.5) / 0.5
    np.testing.assert_array_equal(tensor[0, 6:], -1.0)
    np.testing.assert_array_equal(tensor[2], -1.0)  # no blue anywhere


def test_center_crop_keeps_the_middle() -> None:
    rgb = np.zeros((10, 20, 3), dtype=np.uint8)
    rgb[:, :10] = 100
    rgb[:, 10:] = 200
    # shorter side already 10: columns 5..14 of the crop
    tensor = crop_tensor(rgb, (0.0, 0.0, 1.0, 1.0), 10, CropPreparation(resize="center-crop"), "classifier")
    np.testing.assert_allclose(tensor[0, :, :5], 100 / 255, rtol=1e-6)
    np.testing.assert_allclose(tensor[0, :, 5:], 200 / 255, rtol=1e-6)
    # twice as large: scaled to 20 x 10 first, the blend sits only at the middle columns
    big = np.asarray(Image.fromarray(rgb).resize((40, 20), Image.Resampling.NEAREST))
    tensor = crop_tensor(big, (0.0, 0.0, 1.0, 1.0), 10, CropPreparation(resize="center-crop"), "classifier")
    np.testing.assert_allclose(tensor[0, :, :4], 100 / 255, rtol=1e-6)
    np.testing.assert_allclose(tensor[0, :, 6:], 200 / 255, rtol=1e-6)


def test_crop_padding_widens_the_box() -> None:
    rgb = np.zeros((100, 100, 3), dtype=np.uint8)
    rgb[30:70, 30:70] = 50
    rgb[40:60, 40:60] = 150
    # 0.2 wide plus half of it on each side: 0.3 .. 0.7, 40 pixels, no resampling at size 40
    tensor = crop_tensor(rgb, (0.4, 0.4, 0.2, 0.2), 40, CropPreparation(crop_padding=0.5), "classifier")
    np.testing.assert_allclose(tensor[1, 10:30, 10:30], 150 / 255, rtol=1e-6)
    ring = np.ones((40, 40), dtype=bool)
    ring[10:30, 10:30] = False
    np.testing.assert_allclose(tensor[1][ring], 50 / 255, rtol=1e-6)
    assert math.isclose(float(tensor[1].min()), 50 / 255, rel_tol=1e-6)  # nothing from outside the padded box
