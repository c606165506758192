"""The files of a Camtrap DP package, a directory or a .zip, read member by member (never all at once).

``PackageFiles`` gives the descriptor, the rows of a CSV streamed with the csv module (with their line numbers),
whether a media ``filePath`` is a file inside the package, and a media file copied out to a temporary file
while its SHA-256 is taken. A zip made by ``zip -r pkg.zip pkg/`` (everything under one folder) is read too.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from addax.domain.camtrap_package import PackageError, is_inside

DESCRIPTOR = "datapackage.json"
MAX_LINE = 1 << 20  # characters in one line of a CSV: a longer one is refused before it is read whole


class PackageFiles:
    """A package on disk: ``open(path)`` with the package's own relative paths."""

    def __init__(self, location: Path) -> None:
        self.location = location
        self._zip: zipfile.ZipFile | None = None
        self._prefix = ""
        if location.is_dir():
            if not (location / DESCRIPTOR).is_file():
                raise PackageError(f"{location}: no {DESCRIPTOR} in this directory")
        elif zipfile.is_zipfile(location):
            self._zip = zipfile.ZipFile(location)
            self._names = {info.filename for info in self._zip.infolist() if not info.is_dir()}
            self._prefix = self._root_prefix()
        elif location.exists():
            raise PackageError(f"{location}: neither a directory nor a .zip file")
        else:
            raise PackageError(f"{location}: no such file or directory")

    def _root_prefix(self) -> str:
        if DESCRIPTOR in self._names:
            return ""
        nested = [name for name in self._names if name.endswith("/" + DESCRIPTOR) and name.count("/") == 1]
        if len(nested) != 1:
            raise PackageError(f"{self.location}: no {DESCRIPTOR} at the top of the zip")
        return nested[0].removesuffix(DESCRIPTOR)

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()

    def __enter__(self) -> PackageFiles:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def descriptor(self) -> tuple[Any, str]:
        """The parsed ``datapackage.json`` and its SHA-256."""
        with self.open(DESCRIPTOR) as stream:
            data = stream.read(16 << 20)
        try:
            return json.loads(data), hashlib.sha256(data).hexdigest()
        except (ValueError, RecursionError) as error:  # RecursionError: arrays nested thousands deep
            raise PackageError(f"{DESCRIPTOR} is not JSON: {error}") from None

    def has_file(self, path: str) -> bool:
        """Whether ``path`` (a media filePath) is a file inside the package."""
        if not is_inside(path):
            return False
        if self._zip is not None:
            return self._prefix + path in self._names
        try:
            return self._within(path).is_file()
        except PackageError:  # a link out of the package: not one of its files
            return False

    def _within(self, path: str) -> Path:
        """The file of a directory package, refused when it (a symlink) resolves outside the package."""
        target = (self.location / path).resolve()
        if not target.is_relative_to(self.location.resolve()):
            raise PackageError(f"{path!r} is not a path inside the package (a link out of it)")
        return target

    @contextlib.contextmanager
    def open(self, path: str) -> Iterator[IO[bytes]]:
        if not is_inside(path):
            raise PackageError(f"{path!r} is not a path inside the package")
        try:
            if self._zip is not None:
                with self._zip.open(self._prefix + path) as member:
                    yield member
            else:
                with self._within(path).open("rb") as file:
                    yield file
        except (KeyError, FileNotFoundError):
            raise PackageError(f"{path} is not in the package") from None

    def rows(self, path: str) -> Iterator[tuple[int, list[str] | None, dict[str, str | None]]]:
        """(line number, header, row) for each record of a CSV, streamed; line numbers count the header as 1."""
        with self.open(path) as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
            reader = csv.DictReader(_lines(text, path))
            try:
                for row in reader:
                    yield reader.line_num, list(reader.fieldnames or []), row
            except (csv.Error, UnicodeDecodeError) as error:
                raise PackageError(f"{path} line {reader.line_num + 1}: cannot be read as CSV: {error}") from None

    def header(self, path: str) -> list[str]:
        with self.open(path) as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
            try:
                return next(csv.reader(_lines(text, path)), [])
            except (csv.Error, UnicodeDecodeError) as error:
                raise PackageError(f"{path} line 1: cannot be read as CSV: {error}") from None

    def copy_out(self, path: str, directory: Path, *, max_bytes: int) -> tuple[Path, str, int]:
        """The file copied to a temporary file under ``directory``: (its path, SHA-256 hex, size). A file over
        ``max_bytes`` is copied only to ``max_bytes + 1`` (a zip member may inflate to anything): too large."""
        digest, size = hashlib.sha256(), 0
        with self.open(path) as source, tempfile.NamedTemporaryFile(dir=directory, delete=False) as target:
            while size <= max_bytes and (chunk := source.read(min(1 << 20, max_bytes + 1 - size))):
                digest.update(chunk)
                size += len(chunk)
                target.write(chunk)
        return Path(target.name), digest.hexdigest(), size


def _lines(text: IO[str], path: str) -> Iterator[str]:
    """The lines of a text stream, none read past ``MAX_LINE`` characters (a zip may hold a 1 GB line of 1 MB)."""
    number = 0
    while line := text.readline(MAX_LINE + 1):
        number += 1
        if len(line) > MAX_LINE:
            raise PackageError(f"{path} line {number}: longer than {MAX_LINE} characters, not read")
        yield line
