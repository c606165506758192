"""The gallery's URL filters and sequences collapsed to tiles."""

from __future__ import annotations

from datetime import UTC, date, datetime

from addax.domain.gallery import GalleryQuery, collapse, parse_query


def test_filters_round_trip_through_the_url() -> None:
    query = GalleryQuery(
        project=3,
        site=7,
        since=date(2026, 11, 28),
        until=date(2026, 11, 28),
        label="animal",
        species="Capreolus capreolus",
        min_score=0.5,
        verified=False,
        sequences=False,
    )
    url = query.to_url()
    assert url.startswith("/gallery?project=3&site=7&since=2026-11-28")
    assert "species=Capreolus+capreolus" in url and "verified=0" in url and "sequences=0" in url
    from urllib.parse import parse_qsl, urlsplit

    assert parse_query(dict(parse_qsl(urlsplit(url).query))) == query


def test_no_filter_is_a_bare_path_and_nonsense_is_ignored() -> None:
    assert GalleryQuery().to_url() == "/gallery"
    odd = parse_query(
        {
            "project": "x",
            "site": "-1",
            "since": "yesterday",
            "label": "dragon",
            "min_score": "7",
            "verified": "maybe",
            "species": "  ",
        }
    )
    assert odd == GalleryQuery()


def test_days_are_midnights_in_the_projects_zone() -> None:
    query = GalleryQuery(since=date(2026, 11, 28), until=date(2026, 11, 28))
    since, until = query.time_range("Europe/Berlin")
    assert since == datetime(2026, 11, 27, 23, tzinfo=UTC) and until == datetime(2026, 11, 28, 23, tzinfo=UTC)
    summer = GalleryQuery(since=date(2026, 7, 1)).time_range("Europe/Berlin")
    assert summer == (datetime(2026, 6, 30, 22, tzinfo=UTC), None)


def test_a_sequence_is_one_tile_even_across_pages() -> None:
    seen: set[int] = set()
    first = collapse(
        [{"id": 9, "event_id": 2, "event_photos": 3}, {"id": 8, "event_id": 2}, {"id": 7, "event_id": None}], seen
    )
    assert [(tile.image_id, tile.photos) for tile in first] == [(9, 3), (7, 1)]
    second = collapse([{"id": 6, "event_id": 2}, {"id": 5, "event_id": 1, "event_photos": 2}], seen)
    assert [(tile.image_id, tile.photos) for tile in second] == [(5, 2)]
    every_photo = collapse([{"id": 6, "event_id": 2}, {"id": 5, "event_id": 2}], set(), sequences=False)
    assert [tile.image_id for tile in every_photo] == [6, 5]


def test_the_gallery_filters_by_the_labels_a_box_can_have_and_blank() -> None:
    from addax.domain import alert_rules, megadetector, verification
    from addax.domain.gallery import LABELS

    assert LABELS == (*megadetector.LABELS, "blank")
    assert verification.LABELS is megadetector.LABELS is alert_rules.LABELS  # one source
