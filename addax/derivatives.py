"""The images users see: a thumbnail and an annotated copy, with people and vehicles blurred in both.

Privacy comes before clarity: every person or vehicle box scoring ``PRIVACY_MIN_SCORE`` (0.2) or more is blurred,
well below any project's alert threshold, with a margin around it, by pixelating and then smoothing (a
plain blur of a small face can be undone; coarse blocks cannot). When detection failed for good the whole
frame is blurred (fail closed). The original stays untouched in the object store for admins.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFilter, ImageFont

from addax.domain.privacy import is_private

THUMBNAIL_SIDE = 300
ANNOTATED_SIDE = 1920  # a camera's 1080p photo is drawn on as it is: no resize (the costliest step)
PRIVACY_MARGIN = 0.15  # of the box's size, on each side
COLOURS = {"animal": (46, 204, 113), "person": (231, 76, 60), "vehicle": (52, 152, 219)}


@dataclass(frozen=True, slots=True)
class Shown:
    """A box as the derivatives draw it."""

    label: str
    score: float
    bbox: tuple[float, float, float, float]  # normalised x, y, w, h
    caption: str = ""  # e.g. "roe deer 0.91"; the label and score when empty


@dataclass(frozen=True, slots=True)
class Derived:
    thumbnail: bytes
    annotated: bytes


def render(
    data: bytes, *, private: Sequence[Shown], drawn: Sequence[Shown], blur_all: bool = False, max_pixels: int
) -> Derived:
    """Thumbnail and annotated JPEGs of a photo: ``private`` boxes blurred, ``drawn`` boxes outlined."""
    picture = _open(data, ANNOTATED_SIDE, max_pixels)
    if blur_all:
        picture = blur_whole(picture)
    else:
        blur_boxes(picture, [box.bbox for box in private if is_private(box.label, box.score)])
    thumbnail = picture.copy()
    thumbnail.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.LANCZOS)
    annotated = picture if blur_all else annotate(picture, drawn)
    return Derived(thumbnail=_jpeg(thumbnail, quality=80), annotated=_jpeg(annotated, quality=85))


def _open(data: bytes, side: int, max_pixels: int) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    width, height = image.size
    if width * height > max_pixels:
        raise ValueError(f"{width}x{height} pixels is over the limit of {max_pixels}")
    # Decode at 1/2, 1/4 ... of the size when the photo is much larger; the box keeps the photo's proportions,
    # else libjpeg never scales a landscape photo down (a 12 MP one would be decoded whole).
    scale = max(1.0, max(width, height) / side)
    image.draft("RGB", (max(1, int(width / scale)), max(1, int(height / scale))))
    picture = image.convert("RGB")
    if max(picture.size) > side:
        picture.thumbnail((side, side), Image.Resampling.LANCZOS)
    return picture


def blur_boxes(picture: Image.Image, boxes: Sequence[tuple[float, float, float, float]]) -> None:
    """Pixelate and smooth each box (plus a margin) in place."""
    width, height = picture.size
    for x, y, w, h in boxes:
        left = max(0, int((x - w * PRIVACY_MARGIN) * width))
        top = max(0, int((y - h * PRIVACY_MARGIN) * height))
        right = min(width, int((x + w * (1 + PRIVACY_MARGIN)) * width) + 1)
        bottom = min(height, int((y + h * (1 + PRIVACY_MARGIN)) * height) + 1)
        if right - left < 2 or bottom - top < 2:
            continue
        region = picture.crop((left, top, right, bottom))
        picture.paste(_obscure(region), (left, top))


def blur_whole(picture: Image.Image) -> Image.Image:
    return _obscure(picture)


def _obscure(region: Image.Image) -> Image.Image:
    width, height = region.size
    block = max(4, max(width, height) // 8)
    small = region.resize((max(1, width // block), max(1, height // block)), Image.Resampling.BOX)
    coarse = small.resize((width, height), Image.Resampling.NEAREST)
    return coarse.filter(ImageFilter.GaussianBlur(radius=max(2, block // 2)))


def annotate(picture: Image.Image, boxes: Sequence[Shown]) -> Image.Image:
    """Outline each box with its caption, in the label's colour."""
    draw = ImageDraw.Draw(picture)
    width, height = picture.size
    line = max(2, round(max(width, height) / 400))
    font = ImageFont.load_default(size=max(12, round(max(width, height) / 60)))
    for box in boxes:
        x, y, w, h = box.bbox
        corners = (x * width, y * height, (x + w) * width, (y + h) * height)
        colour = COLOURS.get(box.label, (241, 196, 15))
        draw.rectangle(corners, outline=colour, width=line)
        caption = box.caption or f"{box.label} {box.score:.2f}"
        left, top, right, bottom = draw.textbbox((0, 0), caption, font=font)
        label_top = max(0.0, corners[1] - (bottom - top) - 2 * line)
        draw.rectangle((corners[0], label_top, corners[0] + right - left + 2 * line, corners[1]), fill=colour)
        draw.text((corners[0] + line, label_top + line - top), caption, fill=(0, 0, 0), font=font)
    return picture


COPY_MAX_PIXELS = 16_000_000  # our own copies are at most 1920 px on a side


def blurred_copy(data: bytes) -> bytes:
    """One of our copies blurred whole again: for a photo found to show someone the copy was not blurred for."""
    return _jpeg(blur_whole(_open(data, side=1 << 16, max_pixels=COPY_MAX_PIXELS)), quality=85)


def blurred_stand_in(data: bytes, *, max_pixels: int) -> Derived:
    """Both derivatives blurred whole: for a photo whose detection failed for good."""
    return render(data, private=(), drawn=(), blur_all=True, max_pixels=max_pixels)


def _jpeg(picture: Image.Image, *, quality: int) -> bytes:
    out = io.BytesIO()
    picture.save(out, format="JPEG", quality=quality, optimize=False)
    return out.getvalue()
