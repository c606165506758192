"""The photo of the image page: boxes drawn as an SVG overlay (toggle), and drawing a box the model missed.

A box is drawn by pressing on one corner and releasing on the other, or by two clicks (two taps on a phone).
Boxes are fractions of the photo; the overlay works in the loaded image's pixels, learnt from its load event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from html import escape

from nicegui import events, ui

BBox = tuple[float, float, float, float]
COLOURS = {"animal": "#ffb300", "person": "#e53935", "vehicle": "#1e88e5", "added": "#00e5ff"}


@dataclass(frozen=True, slots=True)
class DrawnBox:
    bbox: BBox
    label: str  # animal | person | vehicle | added
    caption: str
    dashed: bool = False


class PhotoView:
    def __init__(self, source: str, *, on_drawn: Callable[[BBox], None]) -> None:
        self.boxes: list[DrawnBox] = []
        self.visible = True
        self.drawing = False
        self._on_drawn = on_drawn
        self._size: tuple[float, float] | None = None
        self._pressed: tuple[float, float] | None = None
        self._corner: tuple[float, float] | None = None  # first of two clicks
        ui.add_head_html(f'<link rel="preload" as="image" href="{source}">')  # fetched while the scripts load
        self.image = (
            ui.interactive_image(source, events=["mousedown", "mouseup"], on_mouse=self._mouse)
            .classes("w-full rounded-borders")
            .props('data-testid="photo"')
        )
        self.image.on("loaded", self._loaded)
        self.hint = ui.label("").classes("text-caption text-accent")

    def show(self, boxes: list[DrawnBox]) -> None:
        self.boxes = boxes
        self._render()

    def toggle(self) -> None:
        self.visible = not self.visible
        self._render()

    def draw(self, on: bool) -> None:
        self.drawing = on
        self._pressed = self._corner = None
        self.image.props(f"cross={'#00e5ff' if on else 'false'}")
        self.hint.set_text(
            "Draw the missed box: press on one corner and release on the opposite one, or click both corners."
            if on
            else ""
        )

    def _loaded(self, event: events.GenericEventArguments) -> None:
        self._size = (float(event.args["width"]), float(event.args["height"]))
        self._render()

    def _render(self) -> None:
        if self._size is None or not self.visible:
            self.image.set_content("")
            return
        width, height = self._size
        stroke = max(2.0, width / 300)
        font = max(12.0, width / 28)  # readable when a phone shrinks the photo
        parts = []
        for box in self.boxes:
            x, y, w, h = box.bbox
            colour = COLOURS.get(box.label, COLOURS["added"])
            dash = f' stroke-dasharray="{stroke * 3},{stroke * 2}"' if box.dashed else ""
            parts.append(
                f'<rect x="{x * width:.1f}" y="{y * height:.1f}" width="{w * width:.1f}" height="{h * height:.1f}"'
                f' fill="none" stroke="{colour}" stroke-width="{stroke:.1f}"{dash} />'
            )
            text_y = y * height - stroke if y * height > font + stroke else (y + h) * height + font
            parts.append(
                f'<text x="{x * width:.1f}" y="{text_y:.1f}" fill="{colour}" font-size="{font:.0f}"'
                f' font-family="sans-serif" font-weight="bold" stroke="black" stroke-width="{font / 12:.1f}"'
                f' paint-order="stroke">{escape(box.caption)}</text>'
            )
        self.image.set_content("".join(parts))

    def _mouse(self, event: events.MouseEventArguments) -> None:
        if not self.drawing or self._size is None:
            return
        point = (event.image_x, event.image_y)
        if event.type == "mousedown":
            self._pressed = point
            return
        if event.type != "mouseup" or self._pressed is None:
            return
        start, self._pressed = self._pressed, None
        width, height = self._size
        if abs(point[0] - start[0]) < width / 100 and abs(point[1] - start[1]) < height / 100:  # a click
            if self._corner is None:
                self._corner = point
                self.hint.set_text("Now click the opposite corner.")
                return
            start, self._corner = self._corner, None
        bbox = _normalised(start, point, width, height)
        if bbox[2] * width < 4 or bbox[3] * height < 4:
            self.hint.set_text("That box is too small; try again.")
            return
        self.draw(False)
        self._on_drawn(bbox)


def _normalised(a: tuple[float, float], b: tuple[float, float], width: float, height: float) -> BBox:
    left, right = sorted((min(max(a[0], 0.0), width), min(max(b[0], 0.0), width)))
    top, bottom = sorted((min(max(a[1], 0.0), height), min(max(b[1], 0.0), height)))
    return (
        round(left / width, 4),
        round(top / height, 4),
        round((right - left) / width, 4),
        round((bottom - top) / height, 4),
    )
