"""An intake in-process: ingestor + FTPS server against this test's own database and data dir."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from addax.actors.ftp import FtpActor, SessionLimits
from addax.actors.ingestor import Ingestor, Outcome
from addax.domain.intake import Origin, Source
from addax.domain.secrets import hash_password
from addax.runtime import Supervisor
from addax.store import accounts
from addax.store.database import open_database, ping
from addax.store.logins import LoginGuard, LoginPolicy
from addax.store.object_fs import FilesystemObjectStore
from addax.store.receiving import Receiver
from addax.store.spool import Spool
from addax.tls import server_context
from tests.conftest import free_port, world_readable_tempdir
from tests.waiting import eventually

PASSWORD = "camera-secret"


@dataclass
class Intake:
    data_dir: Path
    pool: asyncpg.Pool
    ingestor: Ingestor
    ftp_port: int
    project: str
    project_id: int
    account: str
    supervisor: Supervisor
    spool: Spool
    receiver: Receiver

    def origin(self, name: str, *, upload_path: str = "", source: Source = Source.FTP) -> Origin:
        return Origin(self.project_id, source, name, upload_path, self.account)

    async def ingest(self, name: str, data: bytes, *, upload_path: str = "", source: Source = Source.FTP) -> Outcome:
        """Put a file through the spool and the ingestor, as an arrival path would, and return what happened."""
        partial = self.spool.new_partial()
        partial.write(data)
        arrival = await self.receiver.persist(partial, self.origin(name, upload_path=upload_path, source=source))
        outcome = await self.ingestor.ingest(arrival)
        return outcome

    async def images(self) -> list[asyncpg.Record]:
        return await self.pool.fetch("SELECT * FROM images WHERE project_id = $1 ORDER BY id", self.project_id)

    async def settled(self) -> None:
        """Wait until every upload handed over so far has been ingested."""
        mailbox = self.ingestor.mailbox
        assert mailbox is not None
        spool = self.data_dir / "spool"
        await eventually(
            lambda: not len(mailbox) and not list(spool.glob("*.data")),
            timeout=60,
            what="the ingestor to empty its mailbox and the spool",
        )


@pytest.fixture
async def intake(fresh_dsn: str, unique: str) -> AsyncIterator[Intake]:
    data_dir = world_readable_tempdir("addax-intake-")
    async with Supervisor(stop_timeout=10) as supervisor:
        pool = await supervisor.use("database", open_database(fresh_dsn, pool_size=8), probe=ping)
        project = f"proj-{unique}"
        project_id = await accounts.add_project(pool, project, by="test")
        account = f"cam-{unique}"
        await accounts.add_upload_account(pool, account, hash_password(PASSWORD), project=project, by="t")
        spool = Spool(data_dir / "spool")
        ingestor = Ingestor(
            pool=pool,
            spool=spool,
            objects=FilesystemObjectStore(data_dir / "objects"),
            max_file_mb=5,
            sweep_every_s=None,  # tests that need a sweep start an ingestor of their own
        )
        await supervisor.start(ingestor)
        receiver = Receiver(spool=spool, deliver=ingestor.send, max_bytes=5 * 2**20, min_free_bytes=0)
        logins = LoginGuard(pool=pool, policy=LoginPolicy(failure_delay_s=0.05))
        port = free_port()
        await supervisor.start(
            FtpActor(
                host="127.0.0.1",
                port=port,
                passive_ports=None,
                tls=lambda: server_context("", "", data_dir=data_dir),
                data_dir=data_dir,
                receiver=receiver,
                accounts=lambda name: accounts.upload_account(pool, name),
                logins=logins,
                limits=SessionLimits(max_connections=64, max_per_address=64),
            )
        )
        yield Intake(data_dir, pool, ingestor, port, project, project_id, account, supervisor, spool, receiver)
    shutil.rmtree(data_dir, ignore_errors=True)
