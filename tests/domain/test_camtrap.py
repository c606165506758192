"""Camtrap DP rows from Addax's values: ids, times with offsets, boxes, verifications winning, events."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from addax.domain import camtrap
from addax.domain.camtrap import Deployment, EventTally, HumanCheck, Media, ModelBox, Photo, Selection

BERLIN = ZoneInfo("Europe/Berlin")
AT = datetime(2024, 5, 10, 4, 0, tzinfo=UTC)


def deployment(id: int = 1, **changes: object) -> Deployment:
    values: dict[str, object] = dict(
        id=id,
        camera_identity="SN1",
        camera_name="gate",
        make="Browning",
        model="BTC-8E",
        site_id=3,
        site_name="North gate",
        latitude=52.5,
        longitude=13.4,
        starts_on=date(2024, 5, 1),
        ends_on=None,
        first_taken_at=None,
        last_taken_at=None,
    )
    values.update(changes)
    return Deployment(**values)  # type: ignore[arg-type]


def photo(**changes: object) -> Photo:
    values: dict[str, object] = dict(
        media_id="ab" * 32,
        deployment_id="SN1-20240501",
        taken=AT.astimezone(BERLIN),
        stage="done",
        threshold=0.5,
        processed_at=AT,
    )
    values.update(changes)
    return Photo(**values)  # type: ignore[arg-type]


DEER = ModelBox("animal", 0.9, (0.2, 0.4, 0.25, 0.25), "mdv5a", "Capreolus capreolus", "roe deer", 0.8, "deepfaune")


def test_deployment_ids_are_stable_and_unique() -> None:
    ids = camtrap.deployment_ids([deployment(7), deployment(3), deployment(9, camera_identity="SN2")])
    assert ids == {3: "SN1-20240501", 7: "SN1-20240501-2", 9: "SN2-20240501"}


def test_a_deployment_runs_from_its_first_day_to_its_last_photo_or_day_cut_to_the_selection() -> None:
    open_one = deployment(last_taken_at=AT + timedelta(days=3))
    start, end = camtrap.deployment_span(open_one, BERLIN, (None, None))
    assert camtrap.timestamp(start) == "2024-05-01T00:00:00+02:00"
    assert camtrap.timestamp(end) == "2024-05-13T06:00:00+02:00"
    closed = deployment(ends_on=date(2024, 5, 20))
    assert camtrap.timestamp(camtrap.deployment_span(closed, BERLIN, (None, None))[1]) == "2024-05-20T23:59:59+02:00"
    bounds = Selection(first_day=date(2024, 5, 5), last_day=date(2024, 5, 6)).bounds(BERLIN)
    start, end = camtrap.deployment_span(closed, BERLIN, bounds)
    assert (camtrap.timestamp(start), camtrap.timestamp(end)) == (
        "2024-05-05T00:00:00+02:00",
        "2024-05-06T23:59:59+02:00",
    )
    row = camtrap.deployment_row(closed, "SN1-20240501", (start, end))
    assert row["cameraModel"] == "Browning-BTC-8E" and row["locationName"] == "North gate"


def test_a_selection_refuses_days_in_the_wrong_order_and_bad_dates() -> None:
    with pytest.raises(camtrap.ExportFilterError, match="after"):
        Selection(first_day=date(2024, 5, 2), last_day=date(2024, 5, 1))
    with pytest.raises(camtrap.ExportFilterError, match="2024-05-31"):
        camtrap.parse_day("31/05/2024", "--from")


def test_media_times_carry_the_cameras_offset_or_the_projects_zone() -> None:
    media = Media(1, "cd" * 32, 1, "photo", AT, 60, "IMG 1.JPG", "k", 10, private=False)
    assert camtrap.media_row(media, "d", BERLIN, "p")["timestamp"] == "2024-05-10T05:00:00+01:00"
    media = Media(1, "cd" * 32, 1, "video", AT, None, "../../x.mp4", "k", 10, private=True, tags=("Favourite",))
    row = camtrap.media_row(media, "d", BERLIN, "p")
    assert row["timestamp"] == "2024-05-10T06:00:00+02:00"
    assert (row["fileMediatype"], row["filePublic"], row["favorite"]) == ("video/mp4", False, True)
    assert camtrap.media_path(media, "SN/1") == f"media/SN_1/{'cd' * 6}-x.mp4"
    with pytest.raises(ValueError, match="offset"):
        camtrap.timestamp(datetime(2024, 1, 1))


def test_model_boxes_from_the_threshold_with_their_species() -> None:
    weak = ModelBox("person", 0.3, (0.1, 0.1, 0.1, 0.1), "mdv5a")
    found = camtrap.media_observations(photo(boxes=(DEER, weak)))
    assert len(found) == 1
    deer = found[0]
    assert (deer.observation_type, deer.scientific_name, deer.method, deer.classified_by, deer.probability) == (
        "animal",
        "Capreolus capreolus",
        "machine",
        "deepfaune",
        0.8,
    )
    assert deer.bbox == (0.2, 0.4, 0.25, 0.25)
    assert [o.observation_type for o in camtrap.media_observations(photo(boxes=(weak,)))] == ["blank"]
    assert [o.observation_type for o in camtrap.media_observations(photo(stage="stored"))] == ["unclassified"]
    person = ModelBox("person", 0.7, (0.9, 0.9, 0.5, 0.5), "mdv5a")
    human = camtrap.media_observations(photo(boxes=(person,)))[0]
    assert human.observation_type == "human" and human.bbox == (0.9, 0.9, 0.1, 0.1)  # cut to the frame
    assert human.probability == 0.7 and human.classified_by == "mdv5a"


def test_a_verification_wins_over_the_model() -> None:
    check = HumanCheck(
        boxes=[
            {
                "detection": 0,
                "label": "animal",
                "taxon": "Vulpes vulpes",
                "common_name": "red fox",
                "count": 2,
                "bbox": [0.1, 0.2, 0.3, 0.4],
            }
        ],
        blank=False,
        individuals=None,
        notes="two foxes",
        by="ann@example.org",
        at=AT,
    )
    found = camtrap.media_observations(photo(boxes=(DEER,), check=check))
    assert [(o.scientific_name, o.count, o.method, o.classified_by, o.comments) for o in found] == [
        ("Vulpes vulpes", 2, "human", "ann@example.org", "two foxes")
    ]
    blank = HumanCheck(boxes=[], blank=True, individuals=None, notes="", by=None, at=AT)
    found = camtrap.media_observations(photo(boxes=(DEER,), check=blank))
    assert [(o.observation_type, o.method, o.classified_by) for o in found] == [("blank", "human", "a former user")]


def test_an_event_counts_the_most_in_one_photo_and_prefers_verified_photos() -> None:
    tally = EventTally("e1", "d1")
    two_deer = photo(boxes=(DEER, DEER), taken=AT.astimezone(BERLIN))
    tally.add(two_deer, camtrap.media_observations(two_deer))
    later = photo(boxes=(DEER,), taken=(AT + timedelta(seconds=10)).astimezone(BERLIN))
    tally.add(later, camtrap.media_observations(later))
    empty = photo(taken=(AT + timedelta(seconds=20)).astimezone(BERLIN))
    tally.add(empty, camtrap.media_observations(empty))
    [row] = tally.rows()
    assert (row["scientificName"], row["count"], row["observationLevel"], row["mediaID"]) == (
        "Capreolus capreolus",
        2,
        "event",
        None,
    )
    assert (row["eventStart"], row["eventEnd"]) == ("2024-05-10T06:00:00+02:00", "2024-05-10T06:00:20+02:00")
    assert row["bboxX"] is None and row["classificationMethod"] == "machine"

    check = HumanCheck(boxes=[], blank=True, individuals=None, notes="", by="a@b.org", at=AT)
    checked = photo(boxes=(DEER,), check=check)
    tally.add(checked, camtrap.media_observations(checked))
    assert [(r["observationType"], r["classificationMethod"]) for r in tally.rows()] == [("blank", "human")]


def test_package_metadata() -> None:
    assert camtrap.spatial([(52.5, 13.4)]) == {"type": "Point", "coordinates": [13.4, 52.5]}
    polygon = camtrap.spatial([(52.5, 13.4), (52.4, 13.5)])
    assert polygon["coordinates"][0][0] == polygon["coordinates"][0][-1] == [13.4, 52.4]
    entries = camtrap.taxonomic({"Vulpes vulpes": "red fox", "Cervidae": None, "Mammalia": None, "Ursus a b": None})
    assert [(e["scientificName"], e.get("taxonRank")) for e in entries] == [
        ("Cervidae", "family"),
        ("Mammalia", "class"),
        ("Ursus a b", "subspecies"),
        ("Vulpes vulpes", "species"),
    ]
    assert [license["scope"] for license in camtrap.license_entries("CC0-1.0")] == ["data", "media"]
    assert camtrap.package_name("Wölfe & Co") == "w-lfe-co"
    assert camtrap.cell(0.1 + 0.2) == "0.3" and camtrap.cell(1e-7) == "0" and camtrap.cell(False) == "false"
    assert camtrap.timestamp(datetime(2024, 1, 1, tzinfo=timezone(timedelta(hours=-5)))) == "2024-01-01T00:00:00-05:00"
