"""The ingestor's failure policy: outages are waited out, bad files end as rejections or set aside,
a file that kills the process is given up, and nothing committed waits for a restart."""

from __future__ import annotations

import asyncio
import hashlib
import json
import signal
import sys
import textwrap
from collections.abc import AsyncIterator

import asyncpg
import pytest

from addax.actors.ingestor import Ingestor, Outcome
from addax.domain.filing import IntakeRules
from addax.domain.intake import Arrival
from addax.runtime import Supervisor
from addax.store.object_fs import FilesystemObjectStore
from addax.store.receiving import Receiver
from addax.store.spool import Spool
from tests.actors.conftest import Intake
from tests.conftest import Servers
from tests.domain import jpeg_factory
from tests.outage import database_down
from tests.waiting import eventually


class Outcomes:
    def __init__(self) -> None:
        self.seen: list[tuple[Arrival, Outcome]] = []

    def __call__(self, arrival: Arrival, outcome: Outcome) -> None:
        self.seen.append((arrival, outcome))


def ingestor(intake: Intake, outcomes: Outcomes, *, spool: Spool | None = None, **settings: object) -> Ingestor:
    return Ingestor(
        pool=intake.pool,
        spool=spool or intake.spool,
        objects=FilesystemObjectStore(intake.data_dir / "objects"),
        retry_delay_s=0.01,
        observe=outcomes,
        **settings,  # type: ignore[arg-type]
    )


@pytest.fixture
async def supervisor() -> AsyncIterator[Supervisor]:
    """The test's own ingestors, stopped before the intake's."""
    async with Supervisor(stop_timeout=10) as supervisor:
        yield supervisor


async def rows(intake: Intake) -> list[asyncpg.Record]:
    return await intake.pool.fetch(
        "SELECT stage, reject_reason, exif->>'reject_detail' AS detail, sha256 FROM images WHERE project_id = $1",
        intake.project_id,
    )


async def chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def test_a_committed_file_whose_delivery_was_cancelled_is_swept_up_without_a_restart(
    intake: Intake, supervisor: Supervisor
) -> None:
    class Busy(Ingestor):
        mailbox_capacity = 1  # and never started: a mailbox that stays full

    busy = Busy(pool=intake.pool, spool=intake.spool, objects=FilesystemObjectStore(intake.data_dir / "objects"))
    await busy.send(intake.origin("FILLER.JPG").arrived("not-in-the-spool"))
    blocked = Receiver(spool=Spool(intake.spool.directory), deliver=busy.send, max_bytes=None, min_free_bytes=0)
    photo = jpeg_factory.willfine_jpeg()
    delivery = asyncio.create_task(blocked.receive(chunks(photo), intake.origin("IMG_0001.JPG")))
    await eventually(lambda: list(intake.spool.directory.glob("*.data")), what="the file to be committed")
    delivery.cancel()  # the camera's session ended while the ingestor was busy
    with pytest.raises(asyncio.CancelledError):
        await delivery

    outcomes = Outcomes()
    await supervisor.start(ingestor(intake, outcomes, spool=Spool(intake.spool.directory), sweep_every_s=0.05))
    await eventually(lambda: outcomes.seen, what="the sweep to take the file up")
    [(arrival, outcome)] = outcomes.seen
    assert (arrival.original_name, outcome.kind) == ("IMG_0001.JPG", "stored")
    [row] = await rows(intake)
    assert bytes(row["sha256"]) == hashlib.sha256(photo).digest()


async def test_a_database_outage_is_waited_out_and_not_counted_against_the_file(
    intake: Intake, servers: Servers, fresh_dsn: str, supervisor: Supervisor
) -> None:
    outcomes = Outcomes()
    actor = ingestor(intake, outcomes, sweep_every_s=None)
    await supervisor.start(actor)
    receiver = Receiver(spool=intake.spool, deliver=actor.send, max_bytes=None, min_free_bytes=0)
    async with database_down(servers, fresh_dsn):
        arrival = await receiver.receive(chunks(jpeg_factory.willfine_jpeg()), intake.origin("IMG_0002.JPG"))
        attempts = intake.spool.directory / f"{arrival.id}.attempts"

        def retrying() -> dict | None:  # a failed attempt was followed by the next one
            try:
                state = json.loads(attempts.read_text())
            except (OSError, ValueError):
                return None  # not written yet, or being written
            return state if actor.last_error and "stopped during attempt" in state["last_error"] else None

        state = await eventually(retrying, what="a failed attempt and a retry")
        assert outcomes.seen == []
        assert state["count"] <= 1, "outages are not counted against the file"
    await eventually(lambda: outcomes.seen, timeout=60, what="the file stored once the database is back")
    assert [outcome.kind for _, outcome in outcomes.seen] == ["stored"]


async def test_a_spool_file_that_cannot_be_read_is_tried_five_times_then_set_aside(
    intake: Intake, supervisor: Supervisor
) -> None:
    outcomes = Outcomes()
    actor = ingestor(intake, outcomes, sweep_every_s=None)
    await supervisor.start(actor)
    partial = intake.spool.new_partial()
    partial.write(jpeg_factory.willfine_jpeg())
    arrival = await intake.receiver.persist(partial, intake.origin("IMG_0003.JPG"))
    data = intake.spool.data_path(arrival)
    data.unlink()
    data.mkdir()  # reading it fails with an OSError every time, as a damaged disk block would
    await actor.send(arrival)
    await eventually(lambda: outcomes.seen, what="the ingestor to give up")
    [(_, outcome)] = outcomes.seen
    assert outcome.kind == "set_aside" and "gave up after 5 attempts: IsADirectoryError" in (outcome.reason or "")
    error = (intake.spool.quarantine / arrival.id / "error.txt").read_text()
    assert "gave up after 5 attempts" in error and "cannot be read" in error
    assert not list(intake.spool.directory.glob(f"{arrival.id}.*"))
    assert await rows(intake) == []


async def test_a_file_that_crashes_the_process_is_given_up_after_five_tries(
    intake: Intake, supervisor: Supervisor
) -> None:
    photo = jpeg_factory.willfine_jpeg()
    partial = intake.spool.new_partial()
    partial.write(photo)
    arrival = intake.origin("IMG_0004.JPG").arrived(partial.id)
    intake.spool.commit(partial, arrival)
    intake.spool.release(arrival)
    crash = textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        from addax.domain.intake import Arrival, Source
        from addax.store.spool import Spool
        spool = Spool(Path({str(intake.spool.directory)!r}))
        [arrival] = spool.claim_unclaimed()
        spool.begin_attempt(arrival)
        os.kill(os.getpid(), signal.SIGSEGV)  # as a native decoder does on a poisoned file
        """
    )
    for _ in range(5):
        child = await asyncio.create_subprocess_exec(sys.executable, "-c", crash, stderr=asyncio.subprocess.PIPE)
        _, stderr = await child.communicate()
        assert child.returncode == -signal.SIGSEGV, stderr

    outcomes = Outcomes()
    await supervisor.start(ingestor(intake, outcomes, sweep_every_s=0.05))
    await eventually(lambda: outcomes.seen, what="the ingestor to give up")
    [(_, outcome)] = outcomes.seen
    assert (outcome.kind, outcome.reason) == ("rejected", "ingest_error")
    [row] = await rows(intake)
    assert (row["stage"], row["reject_reason"]) == ("rejected", "ingest_error")
    assert row["detail"] == "gave up after 5 attempts: the process stopped during attempt 5"
    assert bytes(row["sha256"]) == hashlib.sha256(photo).digest(), "kept whole, to reprocess once fixed"


async def test_a_file_that_trips_an_error_is_kept_as_a_rejection_at_once(
    intake: Intake, supervisor: Supervisor
) -> None:
    class Buggy(Ingestor):
        """Fails on one file, as a bug tripped by an odd photo would (a counting subclass, not a mock)."""

        async def _media(self, arrival: Arrival, facts: object, rules: IntakeRules) -> Outcome:
            if arrival.original_name == "ODD.JPG":
                raise KeyError("Exif.Photo.SomethingOdd")
            return await super()._media(arrival, facts, rules)  # type: ignore[arg-type]

    outcomes = Outcomes()
    buggy = Buggy(
        pool=intake.pool,
        spool=intake.spool,
        objects=FilesystemObjectStore(intake.data_dir / "objects"),
        retry_delay_s=0.01,
        observe=outcomes,
        sweep_every_s=None,
    )
    await supervisor.start(buggy)
    receiver = Receiver(spool=intake.spool, deliver=buggy.send, max_bytes=None, min_free_bytes=0)
    await receiver.receive(chunks(jpeg_factory.willfine_jpeg(taken="2025:12:05 10:00:00")), intake.origin("ODD.JPG"))
    await receiver.receive(chunks(jpeg_factory.willfine_jpeg(taken="2025:12:05 10:00:01")), intake.origin("OK.JPG"))
    await eventually(lambda: len(outcomes.seen) == 2, what="both files handled")
    kinds = {arrival.original_name: (outcome.kind, outcome.reason) for arrival, outcome in outcomes.seen}
    assert kinds == {"ODD.JPG": ("rejected", "ingest_error"), "OK.JPG": ("stored", None)}
    assert buggy.alive, "one odd file never costs the actor"
    details = [row["detail"] for row in await rows(intake) if row["stage"] == "rejected"]
    assert details == ["KeyError: 'Exif.Photo.SomethingOdd'"]


async def test_a_file_of_a_project_deleted_meanwhile_is_set_aside(intake: Intake, supervisor: Supervisor) -> None:
    outcomes = Outcomes()
    actor = ingestor(intake, outcomes, sweep_every_s=None)
    await supervisor.start(actor)
    partial = intake.spool.new_partial()
    partial.write(jpeg_factory.willfine_jpeg())
    arrival = await intake.receiver.persist(partial, intake.origin("IMG_0005.JPG"))
    await intake.pool.execute("DELETE FROM projects WHERE id = $1", intake.project_id)
    await actor.send(arrival)
    await eventually(lambda: outcomes.seen, what="the file to be set aside")
    [(_, outcome)] = outcomes.seen
    assert outcome.kind == "set_aside" and "does not exist" in (outcome.reason or "")
    assert (intake.spool.quarantine / arrival.id / f"{arrival.id}.data").exists()
