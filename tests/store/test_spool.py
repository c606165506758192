"""The spool survives crashes and odd leftovers, and two processes never take the same entry."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from addax.domain.intake import Arrival, Source
from addax.store.spool import Spool


def arrival(spool_id: str, name: str = "IMG_0001.JPG") -> Arrival:
    return Arrival(id=spool_id, project_id=1, source=Source.FTP, original_name=name, upload_path="", account="cam")


def committed(spool: Spool, data: bytes = b"complete", *, hold: bool = False) -> Arrival:
    partial = spool.new_partial()
    partial.write(data)
    entry = arrival(partial.id)
    spool.commit(partial, entry)
    if not hold:
        spool.release(entry)
    return entry


def test_committed_files_are_taken_up_and_partial_ones_cleared(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    done = committed(spool)
    cut_off = spool.new_partial()
    cut_off.write(b"half")
    cut_off.file.close()  # its receiver is gone (the lock goes with the file)

    later = Spool(tmp_path / "spool")  # e.g. the next process
    later.clear_leftovers()
    found = later.claim_unclaimed()
    assert [item.id for item in found] == [done.id]
    assert later.data_path(found[0]).read_bytes() == b"complete"
    assert not cut_off.path.exists()


def test_an_upload_still_arriving_is_not_a_leftover(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    arriving = spool.new_partial()
    arriving.write(b"first half")
    Spool(tmp_path / "spool").clear_leftovers()  # another process's sweep
    assert arriving.path.exists()
    arriving.write(b", second half")
    entry = arrival(arriving.id)
    spool.commit(arriving, entry)
    assert spool.data_path(entry).read_bytes() == b"first half, second half"


def test_an_entry_in_hand_is_never_taken_by_another_and_is_once_released(tmp_path: Path) -> None:
    holder, sweeper = Spool(tmp_path / "spool"), Spool(tmp_path / "spool")
    held = committed(holder, hold=True)
    assert sweeper.claim_unclaimed() == [], "claimed by the holder"
    assert holder.claim_unclaimed() == [], "and not twice by the holder itself"
    holder.release(held)  # e.g. its delivery was cancelled
    assert [item.id for item in sweeper.claim_unclaimed()] == [held.id]
    assert holder.claim_unclaimed() == [], "now the sweeper holds it"


def test_the_entries_of_a_killed_process_are_free_for_others(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import signal, sys
        from addax.domain.intake import Arrival, Source
        from addax.store.spool import Spool
        spool = Spool(__import__("pathlib").Path({str(tmp_path / "spool")!r}))
        partial = spool.new_partial()
        partial.write(b"held by a process about to die")
        spool.commit(partial, Arrival(partial.id, 1, Source.FTP, "IMG_1.JPG", "", "cam"))
        receiving = spool.new_partial()
        receiving.write(b"half")
        print(partial.id, flush=True)
        signal.pause()  # held until the test kills this process
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        held_id = child.stdout.readline().strip()
        spool = Spool(tmp_path / "spool")
        spool.clear_leftovers()
        assert spool.claim_unclaimed() == [] and len(list(spool.directory.glob("*.part"))) == 1
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        spool.clear_leftovers()
        assert [item.id for item in spool.claim_unclaimed()] == [held_id]
        assert not list(spool.directory.glob("*.part"))
    finally:
        child.kill()


def test_odd_leftovers_are_set_aside_not_fatal(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    (spool.directory / "a-directory.part").mkdir()  # e.g. a directory renamed in by a client
    (spool.directory / "broken.json").write_text("{not json")
    (spool.directory / "orphan.json").write_text(
        '{"id": "orphan", "project_id": 1, "source": "ftp", "original_name": "x", "upload_path": "", "account": "c"}'
    )
    good = committed(spool)

    spool.clear_leftovers()
    assert [item.id for item in spool.claim_unclaimed()] == [good.id]
    assert not (spool.directory / "a-directory.part").exists()
    assert (spool.directory / "broken.damaged").exists()
    assert not (spool.directory / "orphan.json").exists()


def test_attempts_are_counted_on_disk_and_a_crash_counts_as_one(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    entry = committed(spool, hold=True)
    first = spool.begin_attempt(entry)
    assert (first.count, first.last_error) == (1, "")
    spool.end_attempt(entry, error="PermissionError: denied", count=1)
    second = spool.begin_attempt(entry)
    assert (second.count, second.last_error) == (2, "PermissionError: denied")
    # the process dies during attempt 2: the next process reads what the attempt left behind
    third = Spool(tmp_path / "spool").begin_attempt(entry)
    assert (third.count, third.last_error) == (3, "the process stopped during attempt 2")
    spool.end_attempt(entry, error="database unreachable", count=third.count - 1)  # not the file's doing
    assert spool.begin_attempt(entry).count == 3
    spool.discard(entry)
    assert not list(spool.directory.iterdir())


def test_an_unreadable_entry_is_set_aside_with_its_error(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    entry = committed(spool, hold=True)
    where = spool.set_aside(entry, "gave up after 5 attempts: PermissionError")
    assert (where / "error.txt").read_text().startswith("gave up after 5 attempts")
    assert (where / f"{entry.id}.data").read_bytes() == b"complete"
    assert spool.claim_unclaimed() == [] and not list(spool.directory.glob(f"{entry.id}.*"))


def test_a_file_taken_in_from_elsewhere_is_locked_before_it_is_in_the_spool(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    outside = tmp_path / "home" / ".IMG_1.JPG.tmp"
    outside.parent.mkdir()
    outside.write_bytes(b"renamed into place")
    partial = spool.adopt(outside)
    Spool(tmp_path / "spool").clear_leftovers()
    assert partial.path.read_bytes() == b"renamed into place" and partial.size == 18
    assert not outside.exists()


def test_names_lose_control_characters() -> None:
    item = arrival("x", name="IMG\x00_1\r\n.JPG")
    assert item.original_name == "IMG_1.JPG"
    assert arrival("y", name="\x00").original_name == "unnamed"
