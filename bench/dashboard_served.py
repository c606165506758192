"""What the server really ran: PostgreSQL's auto_explain, loaded into every backend of `addax run`, logs the
plan each statement got (custom or generic, as the service's prepared statements got them) while the bench
loads each page once more; the plans that scan the whole images table are picked out of the log.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tests.service import AddaxProcess

# A log entry starts at a line that is not indented (a plan's lines are).
ENTRY = re.compile(r"^(?=\S)", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Served:
    plans: int
    scanning: list[str]  # the query text of each statement whose plan has a Seq Scan on images


def preload(addax: AddaxProcess) -> None:
    """Load auto_explain into the backends of the next `addax run` (restarted here), logging nothing yet."""
    addax.query("ALTER SYSTEM SET session_preload_libraries = 'auto_explain'")
    addax.stop()
    addax.start()
    addax.wait_healthy()


def logging(addax: AddaxProcess, on: bool) -> int:
    """Start or stop logging every statement's plan; the log's length before, to read what follows."""
    assert addax.log_path is not None
    for setting in (
        f"auto_explain.log_min_duration = {0 if on else -1}",
        "auto_explain.log_nested_statements = on",
    ):
        addax.query(f"ALTER SYSTEM SET {setting}")
    addax.query("SELECT pg_reload_conf()")
    return _log(addax).stat().st_size


def read(addax: AddaxProcess, offset: int) -> Served:
    with _log(addax).open("rb") as log:
        log.seek(offset)
        text = log.read().decode(errors="replace")
    entries = [entry for entry in ENTRY.split(text) if "plan:" in entry]
    scanning = [
        " ".join(entry.split("Query Text:", 1)[-1].split())[:160] for entry in entries if "Seq Scan on images" in entry
    ]
    return Served(plans=len(entries), scanning=scanning)


def _log(addax: AddaxProcess) -> Path:
    return addax.home / "data" / "logs" / "postgres.log"
