"""PostgreSQL's client programs (pg_dump, pg_restore), found the way the embedded cluster finds its server."""

from __future__ import annotations

import glob
import shutil
from pathlib import Path

from addax.embedded.common import EmbeddedServerError

CLIENT_PACKAGE = "postgresql-client-15"


def find_tool(name: str, bin_dir: str = "") -> Path:
    """``name`` from ``database.bin_dir``, else the newest of Debian's /usr/lib/postgresql/*/bin, else PATH.

    The newest version comes first because pg_dump refuses a server newer than itself.
    """
    candidates = [Path(bin_dir) / name] if bin_dir else []
    if not bin_dir:
        versions = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name))
        candidates += [Path(p) / name for p in reversed(versions)]
        on_path = shutil.which(name)
        if on_path:
            candidates.append(Path(on_path))
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    where = bin_dir or "/usr/lib/postgresql/*/bin and PATH"
    raise EmbeddedServerError(
        f"{name} not found (looked in {where}): install the Debian package {CLIENT_PACKAGE} "
        f"(`sudo apt-get install {CLIENT_PACKAGE}`), or set database.bin_dir to where it is"
    )
