"""The words of every alert: a subject, a plain-text and an HTML e-mail body, and a Telegram message.

Each kind has three Jinja2 templates under ``addax/templates``::

    email/<kind>.txt       plain text; its ``{% set subject = ... %}`` is the subject line
    email/<kind>.html      HTML (autoescaped), extends email/_base.html
    telegram/<kind>.txt    Telegram's HTML parse mode (autoescaped too)

``render`` adds a few values worked out in Python (the species to name, where, a link) so that the
templates only lay things out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import escape

KINDS = ("detection", "status", "reminder", "digest", "species_report")
CAPTION_LIMIT = 1024
"""Telegram's limit for a photo's caption; a detection is sent with its photo."""
MESSAGE_LIMIT = 4096
"""Telegram's limit for a text message: the other kinds."""
LONGEST_VALUE = 100
"""A value longer than this (HTML-escaped) is shortened in a subject or a Telegram message, so the rest still fits."""
ELLIPSIS = "…"


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    html: str
    telegram: str
    """HTML parse mode; at most CAPTION_LIMIT characters for a detection, MESSAGE_LIMIT for the others."""


def render(kind: str, payload: Mapping[str, Any], *, instance_name: str, public_url: str) -> Rendered:
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r} (known: {', '.join(KINDS)})")
    base_url = public_url.rstrip("/")

    def context(payload: Mapping[str, Any]) -> dict[str, Any]:
        return {"p": payload, "instance": instance_name, **_EXTRAS[kind](payload, base_url)}

    full, short = context(payload), context(_shortened(payload))
    text_template = _environment.get_template(f"email/{kind}.txt")
    subject = " ".join(str(getattr(text_template.make_module(short), "subject", "")).split())
    telegram = _environment.get_template(f"telegram/{kind}.txt").render(short).strip()
    limit = CAPTION_LIMIT if kind == "detection" else MESSAGE_LIMIT
    return Rendered(
        subject=_shorten(subject, 3 * LONGEST_VALUE),
        text=text_template.render(full).strip() + "\n",
        html=_environment.get_template(f"email/{kind}.html").render(full),
        telegram=truncate_html(telegram, limit),
    )


def truncate_html(html: str, limit: int) -> str:
    """Cut Telegram HTML to ``limit`` characters (tags counted) without breaking a tag or an entity.

    The tags left open at the cut are closed and an ellipsis marks it. The input is what our autoescaped
    templates make: text never holds a bare ``<`` or ``&``.
    """
    if len(html) <= limit:
        return html
    out: list[str] = []
    used = 0
    open_tags: list[str] = []

    def closing(tags: list[str]) -> int:
        return sum(len(tag) + 3 for tag in tags)

    for token in re.findall(r"<[^>]*>|&[^;\s]*;|[^<&]+|[<&]", html):
        room = limit - used - len(ELLIPSIS)
        if token.startswith("</"):
            if open_tags:
                open_tags.pop()
            out.append(token)
            used += len(token)
            continue
        if token.startswith("<") and len(token) > 1:
            name = token[1:].split(maxsplit=1)[0].rstrip(">/")
            if len(token) + closing([*open_tags, name]) > room:
                break
            open_tags.append(name)
        elif len(token) + closing(open_tags) > room:
            if not token.startswith("&"):
                out.append(token[: max(0, room - closing(open_tags))])
            break
        out.append(token)
        used += len(token)
    out.append(ELLIPSIS)
    out.extend(f"</{tag}>" for tag in reversed(open_tags))
    return "".join(out)


def _shorten(text: str, limit: int = LONGEST_VALUE) -> str:
    """At most ``limit`` characters once HTML-escaped (``&`` takes five), an ellipsis marking a cut."""
    if len(escape(text)) <= limit:
        return text
    kept, used = [], len(ELLIPSIS)
    for char in text:
        used += len(escape(char))
        if used > limit:
            break
        kept.append(char)
    return "".join(kept) + ELLIPSIS


def _shortened(value: Any) -> Any:
    """The payload with every long string shortened, for the Telegram message."""
    if isinstance(value, str):
        return _shorten(value)
    if isinstance(value, Mapping):
        return {key: _shortened(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shortened(item) for item in value]
    return value


def _percent(score: float) -> str:
    return f"{round(score * 100)}%"


def _number(value: float) -> str:
    """12.0 → "12", 12.345 → "12.3"."""
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def _detection(payload: Mapping[str, Any], base_url: str) -> dict[str, Any]:
    common, taxon, label = payload["common_name"], payload["taxon"], payload["label"]
    camera, site = payload["camera"], payload["site"]
    return {
        "what": common or taxon or label,
        "species": f"{common} ({taxon})" if common and taxon else common or taxon or "",
        "where": f"{site} ({camera})" if site else camera,
        "clock": payload["local_time"].split(" ")[1] if " " in payload["local_time"] else payload["local_time"],
        "link": f"{base_url}/images/{payload['image_id']}" if base_url else "",
    }


def _species_report(payload: Mapping[str, Any], base_url: str) -> dict[str, Any]:
    return {"link": base_url, "title": "Weekly" if payload["period"] == "weekly" else "Monthly"}


def _only_link(payload: Mapping[str, Any], base_url: str) -> dict[str, Any]:
    return {"link": base_url}


_EXTRAS: dict[str, Callable[[Mapping[str, Any], str], dict[str, Any]]] = {
    "detection": _detection,
    "status": _only_link,
    "reminder": _only_link,
    "digest": _only_link,
    "species_report": _species_report,
}


def _autoescape(name: str | None) -> bool:
    return name is not None and (name.endswith(".html") or name.startswith("telegram/"))


_environment = Environment(
    loader=PackageLoader("addax", "templates"),
    autoescape=_autoescape,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_environment.filters["percent"] = _percent
_environment.filters["number"] = _number
