"""The embedded redis-server's log is rotated under the running server, which goes on logging to it."""

from __future__ import annotations

from pathlib import Path

import redis.asyncio as aioredis

from addax.embedded.common import LogRotation, log_tail, rotated
from addax.embedded.redis import EmbeddedRedis
from addax.runtime import Supervisor
from tests.embedded.logs import text
from tests.waiting import eventually

START_UP = "Redis is starting"
# Redis's start-up lines are well over this; one "DB saved on disk" line is well under it.
MAX_BYTES = 256


async def test_the_log_is_rotated_and_new_lines_go_to_the_current_file(tmp_path: Path) -> None:
    async with Supervisor() as supervisor:
        server = EmbeddedRedis(data_dir=tmp_path, log_rotation=LogRotation(max_bytes=MAX_BYTES, keep=2, check_s=0.05))
        await supervisor.start(server)
        log = server.log_file

        await eventually(lambda: START_UP in text(rotated(log, 1)) and START_UP not in text(log), what="rotation")

        client = aioredis.Redis(unix_socket_path=str(server.socket_path))
        try:
            await client.save()  # redis-server logs each SAVE
        finally:
            await client.aclose()
        await eventually(lambda: "DB saved on disk" in text(log), what="a line after rotation")

        assert START_UP not in text(log)
        tail = log_tail(log, lines=15)
        assert START_UP in tail and tail.endswith("DB saved on disk")
