"""Rotating a server log, on plain files: the servers' side of it is in test_postgres and test_redis."""

from __future__ import annotations

from pathlib import Path

from addax.embedded.common import log_tail, rotate_if_larger, rotated


def write_log(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_a_log_within_the_limit_is_left_alone(tmp_path: Path) -> None:
    log = write_log(tmp_path / "server.log", "x" * 100)

    assert not rotate_if_larger(log, max_bytes=100, keep=3)

    assert log.read_text() == "x" * 100
    assert not rotated(log, 1).exists()


def test_a_missing_log_is_not_rotated(tmp_path: Path) -> None:
    assert not rotate_if_larger(tmp_path / "server.log", max_bytes=1, keep=3)
    assert list(tmp_path.iterdir()) == []


def test_a_log_over_the_limit_is_copied_to_dot_1_and_emptied_in_place(tmp_path: Path) -> None:
    log = write_log(tmp_path / "server.log", "x" * 101)
    inode = log.stat().st_ino

    assert rotate_if_larger(log, max_bytes=100, keep=3)

    assert rotated(log, 1).read_text() == "x" * 101
    assert log.read_text() == ""
    assert log.stat().st_ino == inode, "the server writes to this very file, so it must stay"


def test_older_copies_move_up_and_the_oldest_beyond_keep_goes(tmp_path: Path) -> None:
    log = write_log(tmp_path / "server.log", "newest\n")
    for number, text in ((1, "one"), (2, "two"), (3, "three")):
        write_log(rotated(log, number), text)

    assert rotate_if_larger(log, max_bytes=1, keep=3)

    assert [rotated(log, n).read_text() for n in (1, 2, 3)] == ["newest\n", "one", "two"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["server.log", "server.log.1", "server.log.2", "server.log.3"]


def test_copies_left_by_a_larger_keep_are_removed(tmp_path: Path) -> None:
    log = write_log(tmp_path / "server.log", "newest\n")
    for number in range(1, 6):
        write_log(rotated(log, number), str(number))

    assert rotate_if_larger(log, max_bytes=1, keep=2)

    assert sorted(p.name for p in tmp_path.iterdir()) == ["server.log", "server.log.1", "server.log.2"]
    assert rotated(log, 2).read_text() == "1"


def test_a_writer_that_appends_goes_on_at_the_start_of_the_emptied_file(tmp_path: Path) -> None:
    # PostgreSQL's situation: it holds the log open for appending across the rotation.
    log = tmp_path / "server.log"
    with log.open("ab", buffering=0) as writer:
        writer.write(b"before rotation\n" * 10)
        assert rotate_if_larger(log, max_bytes=100, keep=1)
        writer.write(b"after rotation\n")

    assert log.read_bytes() == b"after rotation\n"
    assert rotated(log, 1).read_bytes() == b"before rotation\n" * 10


def test_log_tail_reaches_into_the_rotated_copy_when_the_log_was_just_emptied(tmp_path: Path) -> None:
    log = write_log(tmp_path / "server.log", "".join(f"line {n}\n" for n in range(1, 21)))
    rotate_if_larger(log, max_bytes=1, keep=1)
    log.write_text("line 21\n")

    assert log_tail(log, lines=3) == "line 19\nline 20\nline 21"
    assert log_tail(log, lines=1) == "line 21"


def test_log_tail_of_a_missing_log_is_empty(tmp_path: Path) -> None:
    assert log_tail(tmp_path / "server.log") == ""
