"""The one writer for every file draftfinder produces (exports, charts, sweep results, measurements, configs).

Rules (issue 9, §1), in the order they are applied to the path the user named:

- ``-`` is standard output.
- ``~`` is expanded; a symlink is followed (to the end of its chain) and its *target* is written, so the link
  stays a link.
- A path that exists and is not a regular file — a character or block device (``/dev/null``, ``/dev/full``,
  a terminal), a FIFO — is opened and written in place, never replaced; a folder or a socket is refused.
- A regular file (or a new one) is written to a temporary file in the same folder, flushed to disk and renamed
  over the target (``os.replace``), so a crash never leaves a half-written file. An existing file keeps its
  permission bits; a new one gets ``0o666 & ~umask`` like any file the user creates.
- A missing parent folder is an error unless the caller says that its flag creates folders
  (``create_parents=True``, documented on that flag); nothing outside the named path is created.
- Any failed write (ENOSPC, EACCES, EISDIR, a closed pipe) raises :class:`~draftfinder.errors.OutputError`
  and the caller reports success only after this function returned.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any, Optional, Union

from draftfinder.errors import OutputError

STDOUT = "-"


def resolve_output(path: Union[str, os.PathLike]) -> Union[str, Path]:
    """Where bytes for ``path`` really go: ``"-"`` for stdout, else the path with ``~`` expanded and every
    symlink followed (a dangling link resolves to the file it names)."""
    text = os.fspath(path)
    if text == STDOUT:
        return STDOUT
    target = Path(text).expanduser()
    if target.is_symlink():
        target = Path(os.path.realpath(target))
    return target


def write_text(path: Union[str, os.PathLike], text: str, *, flag: Optional[str] = None,
               create_parents: bool = False) -> Union[str, Path]:
    """Write ``text`` (UTF-8) to ``path`` by the rules above; returns where it went (``"-"`` or a Path).

    ``flag`` names the option the path came from (``--export``), so an error says which value to change.
    """
    target = resolve_output(path)
    where = f" (from {flag})" if flag else ""
    if target == STDOUT:
        return _write_stdout(text, where)
    assert isinstance(target, Path)
    try:
        st: Optional[os.stat_result] = target.stat()
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise OutputError(target, exc.strerror or str(exc), flag=flag) from exc
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise OutputError(target, "it is a folder", flag=flag, hint="name a file inside it")
    if st is not None and stat.S_ISSOCK(st.st_mode):
        raise OutputError(target, "it is a socket", flag=flag, hint="name a regular file")
    if st is not None and not stat.S_ISREG(st.st_mode):
        return _write_in_place(target, text, flag)
    parent = target.parent
    if not parent.is_dir():
        if not create_parents:
            raise OutputError(target, f"the folder {parent} does not exist", flag=flag,
                              hint=f"create it first (mkdir -p {parent}) or choose another path")
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(target, f"cannot create the folder {parent}: {exc.strerror or exc}",
                              flag=flag) from exc
    _write_atomic(target, text, st, flag)
    return target


def write_json(path: Union[str, os.PathLike], payload: Any, *, flag: Optional[str] = None,
               create_parents: bool = False) -> Union[str, Path]:
    """:func:`write_text` of ``payload`` as indented JSON (dataclasses and enums made plain first)."""
    from draftfinder.find.results import to_plain

    text = json.dumps(to_plain(payload), indent=2, ensure_ascii=False) + "\n"
    return write_text(path, text, flag=flag, create_parents=create_parents)


def describe(where: Union[str, Path]) -> str:
    """How a success message names the destination (``stdout`` for ``-``)."""
    return "stdout" if where == STDOUT else str(where)


# ---------------------------------------------------------------------------------------------------

def _write_stdout(text: str, where: str) -> str:
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError as exc:
        raise OutputError(STDOUT, "the reader closed the pipe", flag=None) from exc
    except OSError as exc:
        raise OutputError(STDOUT, exc.strerror or str(exc), flag=None) from exc
    return STDOUT


def _write_in_place(target: Path, text: str, flag: Optional[str]) -> Path:
    """A device or FIFO: write into it (no truncation of anything, no rename)."""
    data = text.encode("utf-8")
    try:
        fd = os.open(target, os.O_WRONLY | getattr(os, "O_NOCTTY", 0))
        try:
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                view = view[n:]
        finally:
            os.close(fd)
    except OSError as exc:
        raise OutputError(target, exc.strerror or str(exc), flag=flag) from exc
    return target


def _write_atomic(target: Path, text: str, st: Optional[os.stat_result], flag: Optional[str]) -> None:
    tmp: Optional[str] = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=str(target.parent))
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if st is not None:
            os.chmod(tmp, stat.S_IMODE(st.st_mode))
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)          # mkstemp makes 0600; a results file is as readable as any
        os.replace(tmp, target)
        tmp = None
    except OSError as exc:
        raise OutputError(target, exc.strerror or str(exc), flag=flag) from exc
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
