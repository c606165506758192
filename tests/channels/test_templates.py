"""Every kind of alert renders to a subject, text, HTML and a Telegram message that fits."""

from __future__ import annotations

from typing import Any

import pytest

from addax.channels.templates import CAPTION_LIMIT, KINDS, MESSAGE_LIMIT, render, truncate_html

DETECTION: dict[str, Any] = {
    "rule": "Deer at night",
    "project": "Forest",
    "label": "animal",
    "taxon": "Capreolus capreolus",
    "common_name": "roe deer",
    "score": 0.934,
    "count": 2,
    "site": "North gate",
    "camera": "cam-07",
    "local_time": "2026-11-29 02:14 +01:00",
    "image_id": 42,
    "event_id": 7,
}
PAYLOADS: dict[str, dict[str, Any]] = {
    "detection": DETECTION,
    "status": {
        "title": "cam-07 sent nothing for 26 hours",
        "project": "Forest",
        "rule": "Theft watch",
        "lines": ["Last photo 2026-11-28 00:10", "Battery 12%"],
        "cleared": False,
    },
    "reminder": {"project": "Forest", "message": "Change the SD cards", "date": "2026-12-01", "by": "anna"},
    "digest": {
        "date": "2026-11-28",
        "projects": [
            {
                "name": "Forest",
                "photos": 120,
                "events": {"animal": 10, "person": 1, "vehicle": 0},
                "top_species": [{"name": "roe deer", "count": 6}, {"name": "red fox", "count": 2}],
                "attention": ["cam-03: battery low"],
                "alerts": 3,
            }
        ],
    },
    "species_report": {
        "project": "Forest",
        "period": "weekly",
        "from": "2026-11-23",
        "to": "2026-11-29",
        "trap_days": 70.0,
        "rows": [
            {
                "taxon": "Capreolus capreolus",
                "common_name": "roe deer",
                "events": 12,
                "independent": 8,
                "individuals": 11,
                "per_100_trap_days": 11.43,
                "best_image_id": 42,
                "photo_cid": "species-1@addax",
            },
            {
                "taxon": "Vulpes vulpes",
                "common_name": None,
                "events": 2,
                "independent": 2,
                "individuals": 2,
                "per_100_trap_days": 2.86,
                "best_image_id": None,
                "photo_cid": None,
            },
        ],
    },
}
URL = "https://addax.example"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("public_url", [URL, ""])
def test_every_kind_renders(kind: str, public_url: str) -> None:
    rendered = render(kind, PAYLOADS[kind], instance_name="Addax", public_url=public_url)
    assert rendered.subject.startswith("[Addax] ")
    assert "\n" not in rendered.subject
    assert rendered.text.strip() and rendered.html.startswith("<!DOCTYPE html>")
    assert rendered.telegram.strip()
    assert len(rendered.telegram) <= (CAPTION_LIMIT if kind == "detection" else MESSAGE_LIMIT)
    assert (URL in rendered.text) == bool(public_url)
    assert (URL in rendered.html) == bool(public_url)


def test_a_detection_says_what_how_sure_how_many_where_and_when() -> None:
    rendered = render("detection", DETECTION, instance_name="Addax", public_url=URL + "/")
    assert rendered.subject == "[Addax] roe deer at North gate (cam-07), 02:14"
    for part in ("roe deer", "Capreolus capreolus", "93%", "North gate", "cam-07", "2026-11-29 02:14 +01:00"):
        assert part in rendered.text and part in rendered.html
    assert "How many:  2" in rendered.text and ">How many</td><td" in rendered.html
    assert f"{URL}/images/42" in rendered.text
    assert f'href="{URL}/images/42"' in rendered.html
    assert f'<a href="{URL}/images/42">' in rendered.telegram
    for part in ("Roe deer", "animal", "93%", "North gate", "cam-07", "2026-11-29 02:14 +01:00"):
        assert part in rendered.telegram


def test_no_link_without_a_public_url() -> None:
    rendered = render("detection", DETECTION, instance_name="Addax", public_url="")
    assert "/images/" not in rendered.text + rendered.html + rendered.telegram
    assert "href" not in rendered.telegram


def test_a_detection_without_species_or_site() -> None:
    payload = {**DETECTION, "label": "person", "taxon": None, "common_name": None, "site": None, "count": 1}
    rendered = render("detection", payload, instance_name="Wildlife", public_url="")
    assert rendered.subject == "[Wildlife] person at cam-07, 02:14"
    assert "None" not in rendered.text + rendered.html + rendered.telegram


def test_a_hostile_camera_name_is_escaped_in_html_and_telegram() -> None:
    payload = {**DETECTION, "camera": "<script>alert(1)</script>", "site": 'A & B "gate"'}
    rendered = render("detection", payload, instance_name="Addax", public_url=URL)
    assert "<script>" not in rendered.html and "&lt;script&gt;" in rendered.html
    assert "<script>" not in rendered.telegram and "&lt;script&gt;" in rendered.telegram
    assert "A &amp; B" in rendered.telegram
    assert "<script>alert(1)</script>" in rendered.text  # plain text is not HTML


def test_the_caption_fits_even_with_a_huge_name_and_keeps_the_link() -> None:
    payload = {**DETECTION, "camera": "<cam>" * 5000, "site": "&" * 3000, "common_name": "deer " * 1000}
    rendered = render("detection", payload, instance_name="Addax", public_url=URL)
    assert len(rendered.telegram) <= CAPTION_LIMIT
    assert f'<a href="{URL}/images/42">' in rendered.telegram
    assert len(rendered.subject) < 500


def test_a_long_status_is_cut_cleanly() -> None:
    payload = {**PAYLOADS["status"], "lines": [f"<line {n}> & more" for n in range(2000)]}
    rendered = render("status", payload, instance_name="Addax", public_url=URL)
    assert len(rendered.telegram) <= MESSAGE_LIMIT
    assert rendered.telegram.endswith("…")
    assert "<line" not in rendered.telegram


def test_truncate_html_closes_open_tags_and_never_splits_an_entity() -> None:
    html = "<b>" + "a&amp;" * 50 + '</b> <a href="https://x.example/images/1">' + "link " * 50 + "</a>"
    for limit in range(20, len(html)):
        cut = truncate_html(html, limit)
        assert len(cut) <= limit
        assert cut.count("<b>") == cut.count("</b>") and cut.count("<a ") == cut.count("</a>")
        assert "&" not in cut.replace("&amp;", ""), cut
    assert truncate_html(html, len(html)) == html


def test_status_cleared_says_it_is_over() -> None:
    rendered = render("status", {**PAYLOADS["status"], "cleared": True}, instance_name="Addax", public_url="")
    assert "over" in rendered.subject.lower()
    assert "This is over now." in rendered.text and "This is over now." in rendered.html
    assert "Over" in rendered.telegram


def test_species_report_shows_inline_photos_in_a_table() -> None:
    rendered = render("species_report", PAYLOADS["species_report"], instance_name="Addax", public_url=URL)
    assert rendered.subject == "[Addax] Weekly species report for Forest, 2026-11-23 to 2026-11-29"
    assert '<img src="cid:species-1@addax"' in rendered.html
    assert rendered.html.count("<img") == 1  # the fox has no photo
    assert "<table" in rendered.html and "11.4" in rendered.html and "Vulpes vulpes" in rendered.html
    assert "70 trap days" in rendered.text


def test_digest_and_reminder_carry_their_numbers() -> None:
    digest = render("digest", PAYLOADS["digest"], instance_name="Addax", public_url="")
    assert digest.subject == "[Addax] Daily digest for 2026-11-28"
    for part in ("Forest", "120", "10 animal", "roe deer (6)", "cam-03: battery low"):
        assert part in digest.text and part in digest.html and part in digest.telegram
    reminder = render("reminder", PAYLOADS["reminder"], instance_name="Addax", public_url="")
    assert "Change the SD cards" in reminder.subject
    assert "2026-12-01" in reminder.text and "anna" in reminder.telegram


def test_an_unknown_kind_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown notification kind 'weather'"):
        render("weather", {}, instance_name="Addax", public_url="")
