import io
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image

from addax.domain.field_work import (
    Activity,
    Condition,
    FieldWorkError,
    activity,
    attention_order,
    check_reference_photo,
    clean_tag,
    problems,
)

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("age", "expected"),
    [
        (timedelta(minutes=5), Activity.RECENT),
        (timedelta(hours=23, minutes=59), Activity.RECENT),
        (timedelta(hours=24), Activity.STALE),
        (timedelta(days=6, hours=23), Activity.STALE),
        (timedelta(days=7), Activity.SILENT),
        (None, Activity.SILENT),
    ],
)
def test_activity_by_age_of_last_contact(age: timedelta | None, expected: Activity) -> None:
    assert activity(NOW - age if age is not None else None, NOW) is expected


def test_colours_are_green_amber_red() -> None:
    assert [a.colour for a in Activity] == ["#2e7d32", "#f0a020", "#c62828"]


def test_cameras_needing_attention_come_first() -> None:
    healthy = Condition("active", NOW - timedelta(hours=1), battery_pct=90, sd_free_mb=20_000, signal_csq=20)
    low_battery = Condition("active", NOW - timedelta(hours=1), battery_pct=10, sd_free_mb=20_000)
    silent_and_full = Condition("active", NOW - timedelta(days=9), battery_pct=10, sd_free_mb=100)
    pending = Condition("pending", None)
    retired = Condition("retired", None, battery_pct=0)
    assert problems(healthy, NOW) == []
    assert problems(low_battery, NOW) == ["battery 10%"]
    assert problems(silent_and_full, NOW) == ["silent for over a week", "battery 10%", "SD card 100 MB free"]
    assert problems(pending, NOW) == ["waiting for approval", "never heard from"]
    assert problems(retired, NOW) == []
    cameras = [retired, healthy, low_battery, pending, silent_and_full]
    ordered = sorted(cameras, key=lambda camera: attention_order(camera, NOW))
    assert ordered == [silent_and_full, pending, low_battery, healthy, retired]


def test_tags_are_trimmed_and_lower_case() -> None:
    assert clean_tag("  North\tRidge ") == "north ridge"
    with pytest.raises(FieldWorkError):
        clean_tag(" ")
    with pytest.raises(FieldWorkError):
        clean_tag("x" * 41)


def _encoded(kind: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), "green").save(buffer, format=kind)
    return buffer.getvalue()


def test_a_reference_photo_is_a_whole_jpeg_or_png() -> None:
    assert check_reference_photo(_encoded("JPEG")).content_type == "image/jpeg"
    png = check_reference_photo(_encoded("PNG"))
    assert (png.content_type, png.extension, png.width, png.height) == ("image/png", "png", 40, 30)
    with pytest.raises(FieldWorkError, match="not a JPEG or PNG"):
        check_reference_photo(b"<svg xmlns='http://www.w3.org/2000/svg'/>")
    with pytest.raises(FieldWorkError, match="not a JPEG or PNG"):
        check_reference_photo(_encoded("JPEG")[:200])  # cut off in transfer
    with pytest.raises(FieldWorkError, match="only JPEG or PNG"):
        check_reference_photo(_encoded("GIF"))
    with pytest.raises(FieldWorkError, match="larger than"):
        check_reference_photo(b"\xff\xd8" + bytes(9 * 1024 * 1024))
