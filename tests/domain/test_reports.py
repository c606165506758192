"""Daily status reports as cameras send them (CAMERAS.md), and the vendor variations seen in the field."""

from __future__ import annotations

import random
from datetime import datetime

import pytest

from addax.domain.reports import DailyReport, parse_daily_report
from tests.domain.report_samples import SWIFT_ENDURO, WILLFINE


def report(text: str | bytes) -> DailyReport:
    parsed = parse_daily_report(text.encode() if isinstance(text, str) else text)
    assert parsed is not None
    return parsed


def willfine_with(line: str, replacement: str) -> str:
    assert line in WILLFINE
    return WILLFINE.replace(line, replacement)


def test_willfine_report() -> None:
    assert report(WILLFINE) == DailyReport(
        imei="861234567890123",
        camera_id=None,
        signal_csq=15,
        temperature_c=24.0,
        battery_pct=60,
        sd_free_mb=59405,
        sd_total_mb=59628,
        latitude=52.098737,
        longitude=5.125504,
        pictures_taken=8932,
        pictures_sent=8900,
        reported_at_local=datetime(2025, 12, 5, 15, 46, 47),
        problems=(),
    )


def test_swift_enduro_report() -> None:
    parsed = report(SWIFT_ENDURO)

    assert parsed.imei == "861234567890124"
    assert parsed.camera_id is None  # "CamID:" is empty
    assert (parsed.signal_csq, parsed.temperature_c, parsed.battery_pct) == (22, 21.0, 100)
    assert (parsed.sd_free_mb, parsed.sd_total_mb) == (14848, 30413)  # GB -> MB
    assert parsed.latitude == pytest.approx(-(32 + 56 / 60 + 6 / 3600))
    assert parsed.longitude == pytest.approx(117 + 9 / 60 + 36 / 3600)
    assert (parsed.pictures_taken, parsed.pictures_sent) == (120, 118)
    assert parsed.reported_at_local == datetime(2025, 12, 5, 15, 46, 47)  # two spaces before the time
    assert parsed.problems == ()


def test_swift_enduro_camera_id_when_set() -> None:
    assert report(SWIFT_ENDURO.replace("CamID:", "CamID: RIDGE-3")).camera_id == "RIDGE-3"


def test_other_key_spellings_and_case() -> None:
    text = """imei = 861234567890123
Signal Strength: 18
TEMPERATURE: -3.5 C
Battery Level: 85 %
SD Card: 1000M/2000M
Location: 52.1, 5.1
Total Pictures: 10
Sent Pictures: 9
Date Time: 2025-12-05 06:00:00
"""
    parsed = report(text)

    assert (parsed.imei, parsed.signal_csq, parsed.temperature_c, parsed.battery_pct) == (
        "861234567890123",
        18,
        -3.5,
        85,
    )
    assert (parsed.sd_free_mb, parsed.sd_total_mb, parsed.latitude, parsed.longitude) == (1000, 2000, 52.1, 5.1)
    assert (parsed.pictures_taken, parsed.pictures_sent) == (10, 9)
    assert parsed.reported_at_local == datetime(2025, 12, 5, 6, 0, 0)


def test_windows_line_endings() -> None:
    assert report(WILLFINE.replace("\n", "\r\n")) == report(WILLFINE)


def test_utf8_byte_order_mark() -> None:
    assert report(b"\xef\xbb\xbf" + WILLFINE.encode()) == report(WILLFINE)


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252"])
def test_degree_sign_in_a_legacy_code_page(encoding: str) -> None:
    raw = willfine_with("Temp:24℃", "Temp:24°C").replace("\n", "\r\n").encode(encoding)

    assert report(raw).temperature_c == 24.0


def test_a_bom_before_latin1_text() -> None:
    raw = b"\xef\xbb\xbf" + willfine_with("Temp:24℃", "Temp:-7°C").encode("latin-1")

    parsed = report(raw)

    assert (parsed.imei, parsed.temperature_c) == ("861234567890123", -7.0)


def test_utf16_report() -> None:
    assert report(WILLFINE.encode("utf-16")) == report(WILLFINE)


def test_fahrenheit_is_converted() -> None:
    assert report(willfine_with("Temp:24℃", "Temp:75°F")).temperature_c == 23.9


def test_missing_lines_are_none_without_fuss() -> None:
    parsed = report("IMEI:861234567890123\nBattery:40%\n")

    assert (parsed.imei, parsed.battery_pct) == ("861234567890123", 40)
    assert (parsed.signal_csq, parsed.sd_total_mb, parsed.latitude, parsed.reported_at_local) == (None,) * 4
    assert parsed.problems == ()


def test_csq_99_means_unknown() -> None:
    parsed = report(willfine_with("CSQ:15", "CSQ:99"))

    assert parsed.signal_csq is None
    assert parsed.problems == ()


def test_csq_as_the_modem_answers_it() -> None:
    assert report(willfine_with("CSQ:15", "CSQ:17,99")).signal_csq == 17


@pytest.mark.parametrize(
    ("line", "replacement", "field", "note"),
    [
        ("CSQ:15", "CSQ:45", "signal_csq", "CSQ '45' is outside 0-31"),
        ("Battery:60%", "Battery:160%", "battery_pct", "Battery '160%' is outside 0-100%"),
        ("Battery:60%", "Battery:6.1V", "battery_pct", "Battery '6.1V' is a voltage, not a percentage"),
        ("Temp:24℃", "Temp:250℃", "temperature_c", "Temp '250℃' is out of range"),
        ("SD:59405M/59628M", "SD:60000M/59628M", "sd_total_mb", "SD '60000M/59628M' is not a plausible free/total"),
        ("SD:59405M/59628M", "SD:No card", "sd_free_mb", "SD 'No card' is not free/total"),
        ("GPS:52.098737,5.125504", "GPS:95.5,5.1", "latitude", "GPS '95.5,5.1' is out of range or (0,0); ignored"),
        ("GPS:52.098737,5.125504", "GPS:No Fix", "latitude", "GPS 'No Fix' is not readable"),
        ("Total:8932", "Total:lots", "pictures_taken", "Total 'lots' has no number"),
        ("Total:8932", "Total:99999999999999", "pictures_taken", "beyond any camera's counter"),
        ("SD:59405M/59628M", "SD:1M/9999999999999G", "sd_total_mb", "is not a plausible free/total"),
        ("IMEI:861234567890123", "IMEI:86123456789", "imei", "IMEI '86123456789' is not 15 digits"),
        ("Date:05/12/2025 15:46:47", "Date:01/01/2000 00:01:10", "reported_at_local", "looks like a reset clock"),
        ("Date:05/12/2025 15:46:47", "Date:yesterday", "reported_at_local", "Date 'yesterday' is not readable"),
        ("SD:59405M/59628M", "SD:" + "9" * 5000, "sd_free_mb", "sd value of 5000 characters ignored"),
    ],
)
def test_out_of_range_or_unreadable_values_are_none_with_a_note(
    line: str, replacement: str, field: str, note: str
) -> None:
    parsed = report(willfine_with(line, replacement))

    assert getattr(parsed, field) is None
    assert len(parsed.problems) == 1
    assert note in parsed.problems[0]


def test_gps_at_zero_zero_is_ignored() -> None:
    parsed = report(willfine_with("GPS:52.098737,5.125504", "GPS:0.000000,0.000000"))

    assert (parsed.latitude, parsed.longitude) == (None, None)
    assert "(0,0)" in parsed.problems[0]


@pytest.mark.parametrize(
    ("gps", "latitude", "longitude"),
    [
        ("52.098737,5.125504", 52.098737, 5.125504),
        ("-33.9249 18.4241", -33.9249, 18.4241),
        ("N52°05'55.45\" E5°07'31.81\"", 52.0987361, 5.1255028),
        ("52°05'55.45\"N,5°07'31.81\"E", 52.0987361, 5.1255028),
        ("S32*56'06\" W117*09'36\"", -32.935, -117.16),
        ("E117*09'36\" S32*56'06\"", -32.935, 117.16),  # longitude first
        ("N52*05.924 E5*07.530", 52.0987333, 5.1255),  # degrees and decimal minutes
    ],
)
def test_gps_decimal_and_degrees_minutes_seconds(gps: str, latitude: float, longitude: float) -> None:
    parsed = report(willfine_with("GPS:52.098737,5.125504", f"GPS:{gps}"))

    assert parsed.latitude == pytest.approx(latitude, abs=1e-6)
    assert parsed.longitude == pytest.approx(longitude, abs=1e-6)


@pytest.mark.parametrize(
    ("sd", "free", "total"),
    [
        ("59405M/59628M", 59405, 59628),
        ("59405MB/59628MB", 59405, 59628),
        ("14.5GB/29.7GB", 14848, 30413),
        ("14.5/29.7G", 14848, 30413),
        ("512 MB / 30 GB", 512, 30720),
        ("59405/59628", 59405, 59628),
    ],
)
def test_sd_free_and_total_in_any_unit(sd: str, free: int, total: int) -> None:
    parsed = report(willfine_with("SD:59405M/59628M", f"SD:{sd}"))

    assert (parsed.sd_free_mb, parsed.sd_total_mb) == (free, total)


@pytest.mark.parametrize(
    ("date_lines", "expected"),
    [
        ("Date:05/12/2025 15:46:47", datetime(2025, 12, 5, 15, 46, 47)),
        ("Date:05/12/2025  15:46:47", datetime(2025, 12, 5, 15, 46, 47)),
        ("Date:2025/12/05 15:46:47", datetime(2025, 12, 5, 15, 46, 47)),
        ("Date:05/12/2025\nTime:15:46:47", datetime(2025, 12, 5, 15, 46, 47)),
    ],
)
def test_report_date_is_day_first_local_time(date_lines: str, expected: datetime) -> None:
    assert report(willfine_with("Date:05/12/2025 15:46:47", date_lines)).reported_at_local == expected


def test_a_month_first_date_is_read_with_a_note() -> None:
    parsed = report(willfine_with("Date:05/12/2025 15:46:47", "Date:12/31/2025 15:46:47"))

    assert parsed.reported_at_local == datetime(2025, 12, 31, 15, 46, 47)
    assert "read as MM/DD/YYYY" in parsed.problems[0]


def test_the_first_of_two_lines_with_one_key_wins() -> None:
    assert report(WILLFINE + "Battery:10%\n").battery_pct == 60


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"Hello,\nthe camera is on the big oak.\n",
        b"Date:05/12/2025 15:46:47\nCamID:RIDGE-3\n",  # a date and a name do not make a report
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01IMEI:861234567890123\nCSQ:15\n",  # a JPEG
        WILLFINE.encode() * 1000,  # far too large for a report
    ],
    ids=["empty", "prose", "date-and-name", "binary", "huge"],
)
def test_what_is_not_a_status_report(raw: bytes) -> None:
    assert parse_daily_report(raw) is None


def test_garbage_in_known_keys_never_raises() -> None:
    rng = random.Random(5)
    keys = ["IMEI", "CSQ", "Temp", "Battery", "SD", "GPS", "Total", "Send times", "Date", "Time", "CamID"]
    atoms = [
        "9" * 400,
        "-",
        "/",
        "°",
        "℃",
        "*",
        "'",
        '"',
        "N",
        "S",
        "E",
        ",",
        " ",
        "1.5",
        "99",
        "G",
        "%",
        "V",
        "F",
        ":",
    ]
    for _ in range(3000):
        lines = [
            f"{rng.choice(keys)}:{''.join(rng.choices(atoms, k=rng.randint(0, 8)))}" for _ in range(rng.randint(2, 9))
        ]
        raw = "\r\n".join(lines).encode(rng.choice(["utf-8", "utf-16", "cp1252"]), errors="replace")
        parse_daily_report(raw)  # no exception is the test
