"""Daily status reports of cellular cameras: ``key: value`` lines of text, one report a day.

Willfine and Swift Enduro write the same facts with other keys and formats (see CAMERAS.md), and
other vendors vary them again; keys are therefore matched loosely (case, spaces and punctuation
ignored) and every value is parsed on its own, so that one bad line costs only that value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

MAX_REPORT_BYTES = 64 * 1024  # a report is a few hundred bytes; anything far larger is another file
MAX_VALUE_CHARS = 100

# Normalised key (lower case, letters and digits only) -> the field it fills.
_FIELDS: Mapping[str, str] = {
    **dict.fromkeys(("imei", "imeino", "imeinumber", "modemimei"), "imei"),
    **dict.fromkeys(("camid", "cameraid", "camname", "cameraname"), "camera_id"),
    **dict.fromkeys(("csq", "signal", "signalstrength", "signalcsq", "rssi"), "csq"),
    **dict.fromkeys(("temp", "temperature", "tmp", "tempc", "temperaturec"), "temperature"),
    **dict.fromkeys(("battery", "bat", "batt", "batterylevel", "power"), "battery"),
    **dict.fromkeys(("sd", "sdcard", "sdfreetotal", "storage"), "sd"),
    **dict.fromkeys(("gps", "location", "position", "gpsposition"), "gps"),
    **dict.fromkeys(("total", "totalpics", "totalpictures", "totalphotos", "pictures"), "total"),
    **dict.fromkeys(("send", "sent", "sendtimes", "sendpics", "sentpics", "sentpictures"), "sent"),
    **dict.fromkeys(("date", "datetime", "reporttime", "localtime"), "date"),
    "time": "time",
}
# Fields that only a status report has; a date or a name alone does not make a report.
_EVIDENCE = frozenset(("imei", "csq", "temperature", "battery", "sd", "gps", "total", "sent"))
_SEPARATOR = re.compile(r"[:=：]")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_SD = re.compile(
    r"(\d{1,12}(?:\.\d{1,6})?)\s*([KMGT]?)I?B?\s*/\s*(\d{1,12}(?:\.\d{1,6})?)\s*([KMGT]?)I?B?", re.IGNORECASE
)
_MB_PER_UNIT = {"K": 1 / 1024, "M": 1, "G": 1024, "T": 1024 * 1024}
_DATE_FORMATS = ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d-%m-%Y %H:%M:%S", "%d.%m.%Y %H:%M:%S")
_YEAR_FIRST_FORMATS = ("%Y/%m/%d %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y:%m:%d %H:%M:%S")
_EARLIEST_PLAUSIBLE_YEAR = 2005


@dataclass(frozen=True, slots=True)
class DailyReport:
    imei: str | None
    camera_id: str | None
    signal_csq: int | None  # modem signal 0-31
    temperature_c: float | None
    battery_pct: int | None
    sd_free_mb: int | None
    sd_total_mb: int | None
    latitude: float | None
    longitude: float | None
    pictures_taken: int | None
    pictures_sent: int | None
    reported_at_local: datetime | None  # the camera's local time, naive
    problems: tuple[str, ...] = ()


def parse_daily_report(raw: bytes) -> DailyReport | None:
    """The report in ``raw``; None when it is no status report (binary, huge, or too few known keys).

    A value that is missing, unreadable or out of range is None, with a note in ``problems``.
    """
    text = _decode(raw) if len(raw) <= MAX_REPORT_BYTES else None
    problems: list[str] = []
    values = _known_values(text or "", problems)
    if len(values.keys() & _EVIDENCE) < 2:
        return None
    sd_free, sd_total = sd_card(values.get("sd", ""), problems)
    latitude, longitude = position(values.get("gps", ""), problems)
    return DailyReport(
        imei=imei(values.get("imei", ""), problems),
        camera_id=values.get("camera_id") or None,
        signal_csq=signal_csq(values.get("csq", ""), problems),
        temperature_c=temperature_c(values.get("temperature", ""), problems),
        battery_pct=battery_pct(values.get("battery", ""), problems),
        sd_free_mb=sd_free,
        sd_total_mb=sd_total,
        latitude=latitude,
        longitude=longitude,
        pictures_taken=picture_count("Total", values.get("total", ""), problems),
        pictures_sent=picture_count("Send", values.get("sent", ""), problems),
        reported_at_local=reported_at(values.get("date", ""), values.get("time", ""), problems),
        problems=tuple(problems),
    )


def _decode(raw: bytes) -> str | None:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            return None
    if b"\x00" in raw:
        return None  # binary, not text
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        # A degree sign or ℃ in a legacy code page: cp1252 for most, Latin-1 takes any byte.
        try:
            return raw.decode("cp1252")
        except UnicodeDecodeError:
            return raw.decode("latin-1")


def _known_values(text: str, problems: list[str]) -> dict[str, str]:
    """Field -> raw value for each line with a known key; the first line of a key wins."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        separator = _SEPARATOR.search(line)
        if separator is None:
            continue
        key = re.sub(r"[^0-9a-z]", "", line[: separator.start()].casefold())
        field = _FIELDS.get(key)
        if field is None or field in values:
            continue
        value = line[separator.end() :].strip()
        if len(value) > MAX_VALUE_CHARS:  # no real value is this long; it also bounds the work per line
            problems.append(f"{field} value of {len(value)} characters ignored")
            value = ""
        values[field] = value
    return values


def imei(text: str, problems: list[str]) -> str | None:
    digits = re.sub(r"[\s-]", "", text)
    if re.fullmatch(r"\d{15}", digits):
        return digits
    if text:
        problems.append(f"IMEI {text!r} is not 15 digits")
    return None


def signal_csq(text: str, problems: list[str]) -> int | None:
    """The first number of "15" or "15,99" (AT+CSQ answers "rssi,ber"); 99 means unknown."""
    value = _first_number(text, "CSQ", problems)
    if value is None or value == 99:
        return None
    if value != int(value) or not 0 <= value <= 31:
        problems.append(f"CSQ {text!r} is outside 0-31")
        return None
    return int(value)


def temperature_c(text: str, problems: list[str]) -> float | None:
    value = _first_number(text, "Temp", problems)
    if value is None:
        return None
    if re.search(r"℉|°\s*F\b|\d\s*F\b|fahrenheit", text, re.IGNORECASE):
        value = (value - 32) * 5 / 9
    if not -50 <= value <= 90:  # beyond what a camera's electronics survive
        problems.append(f"Temp {text!r} is out of range")
        return None
    return round(value, 1)


def battery_pct(text: str, problems: list[str]) -> int | None:
    value = _first_number(text, "Battery", problems)
    if value is None:
        return None
    if "%" not in text and re.search(r"\d\s*V\b", text, re.IGNORECASE):
        problems.append(f"Battery {text!r} is a voltage, not a percentage")
        return None
    if not 0 <= value <= 100:
        problems.append(f"Battery {text!r} is outside 0-100%")
        return None
    return round(value)


def sd_card(text: str, problems: list[str]) -> tuple[int | None, int | None]:
    """Free and total MB from "59405M/59628M", "14.5GB/29.7GB" or "59405/59628" (MB)."""
    match = _SD.search(text)
    if match is None:
        if text:
            problems.append(f"SD {text!r} is not free/total")
        return None, None
    free_text, free_unit, total_text, total_unit = match.groups()
    total_unit = (total_unit or free_unit or "M").upper()
    free_unit = (free_unit or total_unit).upper()  # "14.5/29.7G": the one unit counts for both
    free = float(free_text) * _MB_PER_UNIT[free_unit]
    total = float(total_text) * _MB_PER_UNIT[total_unit]
    if not 0 < total <= MAX_SD_MB or free > total:
        problems.append(f"SD {text!r} is not a plausible free/total")
        return None, None
    return round(free), round(total)


def position(text: str, problems: list[str]) -> tuple[float | None, float | None]:
    """Latitude and longitude from "52.098737,5.125504" or ``S32*56'06" E117*09'36"``."""
    pair = _split_pair(text)
    first, second = (_coordinate(pair[0]), _coordinate(pair[1])) if pair else (None, None)
    if first is None or second is None:
        if text:
            problems.append(f"GPS {text!r} is not readable")
        return None, None
    (latitude, first_axis), (longitude, second_axis) = first, second
    if first_axis == "EW" or second_axis == "NS":  # written longitude first
        latitude, longitude = longitude, latitude
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180) or (latitude, longitude) == (0, 0):
        problems.append(f"GPS {text!r} is out of range or (0,0); ignored")
        return None, None
    return round(latitude, 7), round(longitude, 7)


def _split_pair(text: str) -> tuple[str, str] | None:
    for separator in (",", ";"):
        if separator in text:
            parts = text.split(separator)
            return (parts[0], parts[1]) if len(parts) == 2 else None
    hemispheres = [match.start() for match in re.finditer(r"[NSEW]", text, re.IGNORECASE)]
    if len(hemispheres) == 2:  # "S32*56'06" E117*09'36"" or "32*56'06"S 117*09'36"E"
        cut = hemispheres[1] if hemispheres[0] == len(text) - len(text.lstrip()) else hemispheres[0] + 1
        return text[:cut], text[cut:]
    parts = text.split()
    return (parts[0], parts[1]) if len(parts) == 2 else None


def _coordinate(part: str) -> tuple[float, str] | None:
    """Signed degrees and the axis its hemisphere letter names ("NS", "EW", "" when it has none).

    One number is decimal degrees, two are degrees and minutes, three add seconds; what stands
    between them (°, *, ', ", a degree sign in a foreign code page) does not matter.
    """
    numbers = [float(number) for number in re.findall(r"\d+(?:\.\d+)?", part)]
    letters = re.findall(r"[NSEW]", part.upper())
    if not 1 <= len(numbers) <= 3 or len(letters) > 1 or any(number >= 60 for number in numbers[1:]):
        return None
    degrees = sum(number / 60**index for index, number in enumerate(numbers))
    negative = "-" in part or letters in (["S"], ["W"])
    axis = "" if not letters else ("NS" if letters[0] in "NS" else "EW")
    return (-degrees if negative else degrees), axis


MAX_COUNT = 2**31 - 1  # what the database's integer columns hold, and far beyond any camera's counter
MAX_SD_MB = 10**9  # a petabyte: no SD card


def picture_count(name: str, text: str, problems: list[str]) -> int | None:
    value = _first_number(text, name, problems)
    if value is None:
        return None
    if value < 0 or value != int(value):
        problems.append(f"{name} {text!r} is not a count")
        return None
    if value > MAX_COUNT:
        problems.append(f"{name} {text!r} is beyond any camera's counter")
        return None
    return int(value)


def reported_at(date_text: str, time_text: str, problems: list[str]) -> datetime | None:
    """The local time of "05/12/2025 15:46:47" (DD/MM/YYYY), also with the time on its own line."""
    text = " ".join(date_text.split())  # Swift Enduro puts two spaces between date and time
    if time_text and ":" not in text:
        text = f"{text} {time_text.strip()}"
    if not text:
        return None
    for formats, note in ((_DATE_FORMATS + _YEAR_FIRST_FORMATS, None), (("%m/%d/%Y %H:%M:%S",), "MM/DD")):
        for date_format in formats:
            try:
                moment = datetime.strptime(text, date_format)
            except ValueError:
                continue
            if note:
                problems.append(f"Date {text!r} is not DD/MM/YYYY; read as {note}/YYYY")
            if moment.year < _EARLIEST_PLAUSIBLE_YEAR:
                problems.append(f"Date {text!r} looks like a reset clock")
                return None
            return moment
    problems.append(f"Date {text!r} is not readable")
    return None


def _first_number(text: str, name: str, problems: list[str]) -> float | None:
    match = _NUMBER.search(text)
    value = float(match.group()) if match else math.nan
    if not math.isfinite(value):  # none, or hundreds of digits
        if text:
            problems.append(f"{name} {text!r} has no number")
        return None
    return value
