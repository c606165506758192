"""The embedded PostgreSQL's log is rotated under the running server, which goes on logging to it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from addax.embedded.common import LogRotation, log_tail, rotated
from addax.embedded.postgres import EmbeddedPostgres
from addax.runtime import Supervisor
from tests.conftest import world_readable_tempdir
from tests.embedded.logs import text
from tests.waiting import eventually

START_UP = "ready to accept connections"
# PostgreSQL's start-up lines are over this; the lines of one RAISE LOG (message, context, statement) are under it.
MAX_BYTES = 380


@pytest.fixture
def data_dir() -> Iterator[Path]:
    path = world_readable_tempdir("addax-pglog-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


async def test_the_log_is_rotated_and_new_lines_go_to_the_current_file(data_dir: Path) -> None:
    async with Supervisor() as supervisor:
        server = EmbeddedPostgres(
            data_dir=data_dir, log_rotation=LogRotation(max_bytes=MAX_BYTES, keep=2, check_s=0.05)
        )
        await supervisor.start(server)
        log = server.log_file

        await eventually(lambda: START_UP in text(rotated(log, 1)) and START_UP not in text(log), what="rotation")

        connection = await asyncpg.connect(server.dsn)
        try:
            await connection.execute("DO $$ BEGIN RAISE LOG 'after rotation'; END $$")
        finally:
            await connection.close()
        await eventually(lambda: "after rotation" in text(log), what="a line after rotation")

        # PostgreSQL writes through the descriptor it started with: the line must land at the start
        # of the emptied file, not at the old offset behind a hole of NUL bytes.
        assert not log.read_bytes().startswith(b"\0")
        assert START_UP not in text(log)
        assert START_UP in log_tail(log, lines=15)
