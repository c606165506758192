"""check_jpeg on real JPEG bytes: what follows the end marker never matters; a cut, damage or a bomb does.

The photos are noise (``noisy_jpeg``), so the entropy-coded data is most of the file and a cut lands in it.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from addax.domain.intake import RejectReason
from addax.domain.media import check_jpeg
from tests.domain.jpeg_factory import blank_jpeg, claiming_size, noisy_jpeg, willfine_jpeg

MAX_PIXELS = 100_000_000  # the ingestor's default
WIDTH, HEIGHT = 320, 240
END = b"\xff\xd9"  # EOI, the end marker
SCAN = b"\xff\xda"  # SOS, the start of a scan's header


def photo(*, progressive: bool = False) -> bytes:
    data = noisy_jpeg(WIDTH, HEIGHT, progressive=progressive)
    assert data.endswith(END)
    return data


def middle_of_scan(data: bytes) -> int:
    start = data.index(SCAN)
    return start + (len(data) - start) // 2


@pytest.mark.parametrize(
    "tail",
    [
        pytest.param(b"", id="nothing"),
        pytest.param(b"\xff" * 512, id="ff-padding"),
        pytest.param(b"\x00" * 512, id="nul-padding"),
        pytest.param(b"CAMINFO 2025-12-05 IMEI=861234567890123 " + random.Random(3).randbytes(4000), id="any-bytes"),
        pytest.param(blank_jpeg(), id="a-second-jpeg"),
        pytest.param(blank_jpeg() + b"\xff" * 16, id="a-second-jpeg-then-padding"),
    ],
)
@pytest.mark.parametrize("progressive", [False, True], ids=["baseline", "progressive"])
def test_whatever_follows_the_end_marker_is_never_read(tail: bytes, progressive: bool) -> None:
    check = check_jpeg(photo(progressive=progressive) + tail, max_pixels=MAX_PIXELS)
    assert (check.reason, check.width, check.height) == (None, WIDTH, HEIGHT), check.detail


def test_a_camera_photo_with_exif_and_a_preview_after_it_is_accepted() -> None:
    check = check_jpeg(willfine_jpeg() + blank_jpeg(8, 8) + b"\xff" * 3, max_pixels=MAX_PIXELS)
    assert (check.reason, check.width, check.height) == (None, 64, 48), check.detail


def test_without_its_end_marker_a_complete_scan_is_truncated_because_the_decoder_reads_ahead() -> None:
    check = check_jpeg(photo().removesuffix(END), max_pixels=MAX_PIXELS)
    assert (check.reason, check.width, check.height) == (RejectReason.TRUNCATED_IMAGE, WIDTH, HEIGHT)


@pytest.mark.parametrize("padding", [b"", b"\xff" * 512, b"\x00" * 512], ids=["bare", "ff-padded", "nul-padded"])
def test_a_photo_cut_inside_its_scan_is_truncated_however_it_is_padded(padding: bytes) -> None:
    data = photo()
    check = check_jpeg(data[: middle_of_scan(data)] + padding, max_pixels=MAX_PIXELS)
    assert (check.reason, check.width, check.height) == (RejectReason.TRUNCATED_IMAGE, WIDTH, HEIGHT)
    assert check.detail.startswith("the JPEG ends before its image data does")


def test_a_progressive_photo_cut_inside_a_scan_is_truncated() -> None:
    data = photo(progressive=True)
    check = check_jpeg(data[: middle_of_scan(data)], max_pixels=MAX_PIXELS)
    assert (check.reason, check.width, check.height) == (RejectReason.TRUNCATED_IMAGE, WIDTH, HEIGHT)


def test_a_progressive_photo_cut_between_its_scans_is_truncated_though_it_has_a_whole_first_picture() -> None:
    data = photo(progressive=True)
    last_scan = data.rindex(SCAN)
    assert data.count(SCAN) > 2  # the cut leaves whole scans behind, enough for a coarse picture
    check = check_jpeg(data[:last_scan], max_pixels=MAX_PIXELS)
    assert (check.reason, check.width, check.height) == (RejectReason.TRUNCATED_IMAGE, WIDTH, HEIGHT)


@pytest.mark.parametrize(
    "cut",
    [
        pytest.param(lambda data: data.index(b"\xff\xc0") + 6, id="inside-the-frame-header"),
        pytest.param(lambda data: data.index(SCAN), id="before-the-scan-header"),
        pytest.param(lambda data: data.index(SCAN) + 5, id="inside-the-scan-header"),
    ],
)
def test_a_photo_cut_inside_its_headers_is_corrupt(cut: Callable[[bytes], int]) -> None:
    data = photo()
    check = check_jpeg(data[: cut(data)], max_pixels=MAX_PIXELS)
    assert check.reason is RejectReason.CORRUPT_IMAGE, check.detail


def test_a_scan_overwritten_by_another_file_is_corrupt() -> None:
    data = photo()
    middle = middle_of_scan(data)
    intruder = blank_jpeg()[:1000]  # a start marker and headers where entropy-coded data should be
    check = check_jpeg(data[:middle] + intruder + data[middle + len(intruder) :], max_pixels=MAX_PIXELS)
    assert (check.reason, check.width, check.height) == (RejectReason.CORRUPT_IMAGE, WIDTH, HEIGHT)
    assert check.detail.startswith("the JPEG cannot be decoded")


def test_a_header_claiming_20000_by_20000_pixels_is_a_bomb_refused_when_opened() -> None:
    check = check_jpeg(claiming_size(blank_jpeg(), 20_000, 20_000), max_pixels=MAX_PIXELS)
    assert (check.reason, check.width, check.height) == (RejectReason.DECOMPRESSION_BOMB, None, None)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_a_header_over_the_pixel_limit_is_a_bomb_refused_before_decoding() -> None:
    data = photo()
    cut = data[: middle_of_scan(data)]  # decoding this would say truncated, so a bomb means no decoding
    check = check_jpeg(claiming_size(cut, 12_000, 12_000), max_pixels=MAX_PIXELS)
    assert (check.reason, check.width, check.height) == (RejectReason.DECOMPRESSION_BOMB, 12_000, 12_000)
    assert check.detail == "12000x12000 pixels is over the limit of 100000000"
