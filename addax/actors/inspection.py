"""Reading a received file off the event loop: hash, type, soundness, metadata. Pure CPU and file reads."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from addax.domain.exif import read_tags
from addax.domain.intake import RejectReason
from addax.domain.media import VIDEO_TYPES, MediaType, check_jpeg, sniff
from addax.domain.reports import DailyReport, parse_daily_report


@dataclass(frozen=True, slots=True)
class Inspection:
    sha256: bytes
    size: int
    media: MediaType | None
    reason: RejectReason | None = None
    detail: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    width: int | None = None
    height: int | None = None
    report: DailyReport | None = None
    report_text: str = ""
    video: dict[str, Any] = field(default_factory=dict)

    @property
    def sha256_hex(self) -> str:
        return self.sha256.hex()


def file_digest(path: Path) -> tuple[bytes, int]:
    """(SHA-256, size) of a file, read in blocks."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as source:
        for block in iter(lambda: source.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
    return digest.digest(), size


def inspect_file(path: Path, *, max_bytes: int, max_pixels: int) -> Inspection:
    if path.stat().st_size > max_bytes:  # hashed in blocks, never held in memory
        sha, size = file_digest(path)
        with path.open("rb") as source:
            head = source.read(64)
        return Inspection(
            sha, size, sniff(head), RejectReason.TOO_LARGE, f"{size} bytes is over the limit of {max_bytes}"
        )
    data = path.read_bytes()  # read once: hashed, sniffed and decoded from memory
    sha, size, head = hashlib.sha256(data).digest(), len(data), data[:64]
    media = sniff(head)
    if size == 0:
        return Inspection(sha, size, None, RejectReason.EMPTY_FILE, "the file is empty")
    if media is MediaType.JPEG:
        check = check_jpeg(data, max_pixels=max_pixels)
        tags = read_tags(data) if check.reason is None else {}
        return Inspection(sha, size, media, check.reason, check.detail, tags, check.width, check.height)
    if media is MediaType.TEXT:
        report = parse_daily_report(data)
        if report is None:
            return Inspection(
                sha, size, media, RejectReason.UNSUPPORTED_TYPE, "a text file that is not a status report"
            )
        return Inspection(sha, size, media, report=report, report_text=data.decode("utf-8", "replace"))
    if media in VIDEO_TYPES:
        facts = _video_facts(path)
        pixels = (facts.get("width") or 0) * (facts.get("height") or 0)
        if pixels > max_pixels:
            return Inspection(
                sha,
                size,
                media,
                RejectReason.DECOMPRESSION_BOMB,
                f"{facts['width']}x{facts['height']} video frames are over the limit",
                video=facts,
            )
        return Inspection(sha, size, media, video=facts)
    return Inspection(sha, size, None, RejectReason.UNSUPPORTED_TYPE, f"unknown file type (starts with {head[:8]!r})")


def _video_facts(path: Path) -> dict[str, Any]:
    import av  # imported here: only videos need it, and it is slow to import

    try:
        with av.open(str(path)) as container:
            stream = next(iter(container.streams.video), None)
            duration = float(container.duration / 1_000_000) if container.duration else None
            return {
                "duration_s": duration,
                "width": stream.codec_context.width if stream else None,
                "height": stream.codec_context.height if stream else None,
                "creation_time": container.metadata.get("creation_time"),
            }
    except (av.error.FFmpegError, OSError, ValueError) as error:
        return {"error": str(error)}


MAX_KEYFRAMES = 60


def keyframes(path: Path, *, every_s: float = 5.0, max_side: int = 1280) -> tuple[tuple[float, bytes], ...]:
    """One JPEG per ``every_s`` seconds of video (the first frame at or after each mark), at most ``max_side``."""
    import io

    import av

    frames: list[tuple[float, bytes]] = []
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                return ()
            next_mark = 0.0
            for frame in container.decode(video=0):
                moment = float(frame.time or 0.0)
                if moment + 1e-6 < next_mark:
                    continue
                encoded = io.BytesIO()
                scale = min(1.0, max_side / max(frame.width, frame.height, 1))
                still = frame.to_image(width=max(1, int(frame.width * scale)), height=max(1, int(frame.height * scale)))  # type: ignore[no-untyped-call]
                still.save(encoded, "JPEG", quality=90)
                frames.append((round(moment, 3), encoded.getvalue()))
                next_mark = moment + every_s
                if len(frames) >= MAX_KEYFRAMES:
                    break
    except (av.error.FFmpegError, OSError, ValueError):
        pass  # a damaged video is still stored; it just has fewer (or no) keyframes
    return tuple(frames)
