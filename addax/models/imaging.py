"""Photo bytes to RGB pixels, and pixels to the square tensors detectors take.

Decoding uses JPEG draft mode: libjpeg scales by 1/2, 1/4 or 1/8 while decoding, so a 1080p photo for a
640-pixel detector is decoded at 960x540 for a third of the work. Boxes are normalised to the decoded size,
which equals the original's proportions, so nothing downstream needs to know.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

#: YOLOv5's and ultralytics' letterbox fill (114/255 grey).
PAD_VALUE = 114


class UnreadableImage(ValueError):
    """The bytes are not a photo this model can look at (not an image, truncated, too large)."""


def decode_rgb(data: bytes, *, at_least: int | None = None, max_pixels: int = 100_000_000) -> np.ndarray:
    """Decode a photo to an ``H x W x 3`` uint8 array, in draft mode when ``at_least`` allows.

    ``at_least`` is the side the result must still cover (the model's input size): draft mode never
    shrinks the photo's longer side below it.
    """
    try:
        image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as error:
        raise UnreadableImage(f"too many pixels, over the limit: {error}") from None
    except Exception as error:  # Pillow raises many types for garbage
        raise UnreadableImage(f"not a readable image: {error}") from None
    with image:
        width, height = image.size
        if width * height > max_pixels:
            raise UnreadableImage(f"{width}x{height} pixels is over the limit of {max_pixels}")
        try:
            if at_least is not None and image.format == "JPEG":
                scale = max(1.0, max(width, height) / at_least)
                # at least one pixel each way: Pillow divides by the size asked for (a 2000x2 strip asked for 0)
                image.draft("RGB", (max(1, int(width / scale)), max(1, int(height / scale))))
            rgb = image.convert("RGB")
            rgb.load()
        except Exception as error:  # the decoder's OSErrors, and Pillow's own checks
            raise UnreadableImage(f"the image cannot be decoded: {error}") from None
    return np.asarray(rgb)


@dataclass(frozen=True, slots=True)
class Letterbox:
    """Where a photo sits inside the model's square input, to map boxes back."""

    width: int  # the decoded photo's size
    height: int
    scale_x: float  # input pixels per photo pixel
    scale_y: float
    pad_x: int
    pad_y: int

    def to_photo(self, x1: np.ndarray, y1: np.ndarray, x2: np.ndarray, y2: np.ndarray) -> np.ndarray:
        """Input-pixel corners to normalised ``[x, y, w, h]`` rows, clipped to the photo."""
        left = np.clip((x1 - self.pad_x) / self.scale_x / self.width, 0.0, 1.0)
        top = np.clip((y1 - self.pad_y) / self.scale_y / self.height, 0.0, 1.0)
        right = np.clip((x2 - self.pad_x) / self.scale_x / self.width, 0.0, 1.0)
        bottom = np.clip((y2 - self.pad_y) / self.scale_y / self.height, 0.0, 1.0)
        return np.stack([left, top, right - left, bottom - top], axis=-1)


def letterbox(rgb: np.ndarray, size: int) -> tuple[np.ndarray, Letterbox]:
    """Fit the photo in a ``size`` square keeping its proportions, centred on grey: ``3 x size x size`` in 0..1."""
    height, width = rgb.shape[:2]
    scale = min(size / width, size / height)
    new_width, new_height = max(1, round(width * scale)), max(1, round(height * scale))
    resized = Image.fromarray(rgb).resize((new_width, new_height), Image.Resampling.BILINEAR)
    pad_x, pad_y = (size - new_width) // 2, (size - new_height) // 2
    canvas = np.full((size, size, 3), PAD_VALUE, dtype=np.uint8)
    canvas[pad_y : pad_y + new_height, pad_x : pad_x + new_width] = np.asarray(resized)
    tensor = canvas.transpose(2, 0, 1).astype(np.float32) / 255.0
    return tensor, Letterbox(
        width=width,
        height=height,
        scale_x=new_width / width,
        scale_y=new_height / height,
        pad_x=pad_x,
        pad_y=pad_y,
    )
