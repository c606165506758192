"""The spool survives crashes and odd leftovers; one bad entry never stops a start."""

from __future__ import annotations

from pathlib import Path

from addax.domain.intake import Arrival, Source
from addax.store.spool import Spool


def arrival(spool_id: str, name: str = "IMG_0001.JPG") -> Arrival:
    return Arrival(id=spool_id, project_id=1, source=Source.FTP, original_name=name, upload_path="", account="cam")


def test_committed_files_come_back_and_partial_ones_do_not(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    done_id, done = spool.new_partial()
    done.write_bytes(b"complete")
    spool.commit(done, arrival(done_id))
    _, cut_off = spool.new_partial()
    cut_off.write_bytes(b"half")

    recovered = Spool(tmp_path / "spool").recover()
    assert [item.id for item in recovered] == [done_id]
    assert spool.data_path(recovered[0]).read_bytes() == b"complete"
    assert not cut_off.exists()


def test_odd_leftovers_are_set_aside_not_fatal(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    (spool.directory / "a-directory.part").mkdir()  # e.g. a directory renamed in by a client
    (spool.directory / "broken.json").write_text("{not json")
    (spool.directory / "orphan.json").write_text(
        '{"id": "orphan", "project_id": 1, "source": "ftp", "original_name": "x", "upload_path": "", "account": "c"}'
    )
    good_id, good = spool.new_partial()
    good.write_bytes(b"ok")
    spool.commit(good, arrival(good_id))

    recovered = spool.recover()
    assert [item.id for item in recovered] == [good_id]
    assert not (spool.directory / "a-directory.part").exists()
    assert (spool.directory / "broken.damaged").exists()
    assert not (spool.directory / "orphan.json").exists()


def test_names_lose_control_characters(tmp_path: Path) -> None:
    item = arrival("x", name="IMG\x00_1\r\n.JPG")
    assert item.original_name == "IMG_1.JPG"
    assert arrival("y", name="\x00").original_name == "unnamed"
