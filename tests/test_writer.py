"""draftfinder.writer: the one writer. Each case is one that destroyed data before (issue 9 §1)."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from draftfinder.errors import EXIT_USAGE, OutputError
from draftfinder.writer import write_json, write_text


def test_regular_file_is_replaced_atomically_and_keeps_its_mode(tmp_path):
    f = tmp_path / "r.json"
    f.write_text("old")
    os.chmod(f, 0o640)
    assert write_text(f, "new\n") == f
    assert f.read_text() == "new\n"
    assert stat.S_IMODE(f.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]          # no temporary file left behind


def test_symlink_is_followed_and_stays_a_link(tmp_path):
    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    write_json(link, {"a": 1})
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert '"a": 1' in real.read_text()


def test_dangling_symlink_writes_the_file_it_names(tmp_path):
    link = tmp_path / "link.json"
    link.symlink_to(tmp_path / "new.json")
    write_text(link, "x")
    assert link.is_symlink() and (tmp_path / "new.json").read_text() == "x"


def test_dash_is_stdout(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert write_json("-", {"a": 1}) == "-"
    assert '"a": 1' in capsys.readouterr().out
    assert not (tmp_path / "-").exists()


def test_device_is_written_in_place_not_replaced():
    before = os.stat("/dev/null")
    write_text("/dev/null", "x" * 10000)
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_ino == before.st_ino


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full on this system")
def test_full_device_is_an_error_and_stays_a_device():
    with pytest.raises(OutputError) as info:
        write_text("/dev/full", "x", flag="--export")
    assert info.value.exit_code == EXIT_USAGE and "/dev/full (--export)" in str(info.value)
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_fifo_is_written_into_not_replaced(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(open(fifo).read()))
    reader.start()
    write_text(fifo, "through the pipe")
    reader.join(10)
    assert got == ["through the pipe"] and stat.S_ISFIFO(fifo.stat().st_mode)


def test_missing_parent_is_an_error_and_creates_nothing(tmp_path):
    target = tmp_path / "no" / "such" / "r.json"
    with pytest.raises(OutputError, match="does not exist.*mkdir -p"):
        write_text(target, "x", flag="--export")
    assert not (tmp_path / "no").exists()


def test_create_parents_when_the_flag_says_so(tmp_path):
    target = tmp_path / "results" / "r.json"
    write_text(target, "x", create_parents=True)
    assert target.read_text() == "x"


def test_folder_is_refused(tmp_path):
    with pytest.raises(OutputError, match="is a folder"):
        write_text(tmp_path, "x")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_unwritable_folder_is_an_error_and_keeps_the_old_file(tmp_path):
    d = tmp_path / "ro"
    d.mkdir()
    f = d / "r.json"
    f.write_text("old")
    d.chmod(0o500)
    try:
        with pytest.raises(OutputError):
            write_text(f, "new")
        assert f.read_text() == "old"
    finally:
        d.chmod(0o700)


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    """A write that fails half-way (here: fsync raises ENOSPC) leaves the previous complete file and no
    temporary file."""
    f = tmp_path / "r.json"
    f.write_text("complete")

    def no_space(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(OutputError, match="No space left"):
        write_text(f, "partial")
    assert f.read_text() == "complete"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


def test_tilde_is_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    write_text("~/r.txt", "x")
    assert (Path(tmp_path) / "r.txt").read_text() == "x"


def test_descriptor_names_write_to_the_descriptor_not_a_reopened_file(tmp_path):
    """/dev/stdout -> /proc/self/fd/1 -> (a file the shell opened): before, the chain was resolved to that file
    and it was replaced by rename, so the shell's descriptor kept an orphaned inode and earlier output was lost.
    Now the bytes go to the descriptor, after what was already written to it."""
    from draftfinder.writer import STDOUT, FileDescriptor, resolve_output

    assert resolve_output("/dev/stdout") == STDOUT and resolve_output("/dev/fd/1") == STDOUT
    assert resolve_output("/dev/stderr") == FileDescriptor(2)
    out = tmp_path / "out.txt"
    with open(out, "w") as fh:
        fh.write("before\n")
        fh.flush()
        link = tmp_path / "fd-link"
        link.symlink_to(f"/proc/self/fd/{fh.fileno()}")
        where = write_text(link, "after\n")
        assert isinstance(where, FileDescriptor) and int(where) == fh.fileno()
        inode = os.fstat(fh.fileno()).st_ino
    assert out.read_text() == "before\nafter\n" and os.stat(out).st_ino == inode
    assert link.is_symlink()


def test_check_destination_refuses_before_any_work(tmp_path):
    from draftfinder.writer import check_destination

    with pytest.raises(OutputError, match="does not exist"):
        check_destination(tmp_path / "no" / "r.json", flag="--export")
    with pytest.raises(OutputError, match="is a folder"):
        check_destination(tmp_path)
    assert check_destination(tmp_path / "no" / "r.json", create_parents=True) == tmp_path / "no" / "r.json"
    assert list(tmp_path.iterdir()) == []                                        # checks write nothing


def test_write_produced_replaces_atomically_and_cleans_up_on_failure(tmp_path):
    from draftfinder.writer import write_produced

    target = tmp_path / "sub" / "model.bin"
    write_produced(target, lambda tmp: tmp.write_bytes(b"\x00" * 10), create_parents=True)
    assert target.read_bytes() == b"\x00" * 10

    def half_then_fail(tmp):
        tmp.write_bytes(b"partial")
        raise ValueError("checksum mismatch")

    with pytest.raises(ValueError):
        write_produced(target, half_then_fail)
    assert target.read_bytes() == b"\x00" * 10 and [p.name for p in target.parent.iterdir()] == ["model.bin"]
    with pytest.raises(OutputError, match="not a regular file"):
        write_produced("/dev/null", lambda tmp: tmp.write_bytes(b"x"))
