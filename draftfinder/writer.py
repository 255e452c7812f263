"""The one writer for every file draftfinder produces (exports, charts, sweep results, measurements, configs).

Rules (issue 9, §1), in the order they are applied to the path the user named:

- ``-`` is standard output.
- A name for one of this process's open file descriptors (``/dev/stdout``, ``/dev/stderr``, ``/dev/fd/N``,
  ``/proc/self/fd/N``, or a symlink chain that ends there) is written to that descriptor, like ``-``: the shell's
  redirection (``> out.txt``, a pipe, a terminal) receives the bytes and nothing is reopened or replaced.
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
import re
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Optional, Union

from draftfinder.errors import OutputError

STDOUT = "-"
_MAX_LINKS = 40                                      # as the kernel's ELOOP limit


class FileDescriptor(int):
    """An open descriptor of this process named by a path (``/dev/stderr`` → 2); ``resolve_output`` returns it."""


def _fd_name(path: str) -> Optional[int]:
    """N when ``path`` is ``/dev/fd/N`` or ``/proc/{self,thread-self,<our pid>}/fd/N``; else None."""
    m = re.fullmatch(rf"/(?:dev/fd|proc/(?:self|thread-self|{os.getpid()})(?:/task/\d+)?/fd)/(\d+)", path)
    return int(m.group(1)) if m else None


def resolve_output(path: Union[str, os.PathLike]) -> Union[str, Path, FileDescriptor]:
    """Where bytes for ``path`` really go: ``"-"`` for stdout (also ``/dev/stdout``), a :class:`FileDescriptor`
    for another descriptor of this process (``/dev/stderr``), else the path with ``~`` expanded and every
    symlink followed (a dangling link resolves to the file it names)."""
    text = os.fspath(path)
    if text == STDOUT:
        return STDOUT
    target = Path(text).expanduser()
    current = os.path.abspath(target)
    for _ in range(_MAX_LINKS):                     # walk the chain: /dev/stdout -> /proc/self/fd/1 -> pipe:[…]
        fd = _fd_name(current)
        if fd is not None:
            return STDOUT if fd == 1 else FileDescriptor(fd)
        if not os.path.islink(current):
            break
        current = os.path.normpath(os.path.join(os.path.dirname(current), os.readlink(current)))
    if target.is_symlink():
        target = Path(os.path.realpath(target))
    return target


def is_regular_destination(path: Union[str, os.PathLike]) -> bool:
    """True when ``path`` names (through its symlinks) a regular file or nothing yet — a file that can be read
    back later; False for stdout, a descriptor, a device, a FIFO, a folder or a socket."""
    target = resolve_output(path)
    if not isinstance(target, Path):
        return False
    try:
        return stat.S_ISREG(target.stat().st_mode)
    except FileNotFoundError:
        return True
    except OSError:
        return False


def check_destination(path: Union[str, os.PathLike], *, flag: Optional[str] = None,
                      create_parents: bool = False) -> Union[str, Path, FileDescriptor]:
    """Raise the :class:`OutputError` that writing to ``path`` would raise for its folder or its kind (missing
    folder, a folder or socket in its place), before any work is done; writes nothing. Returns
    :func:`resolve_output`'s answer."""
    target = resolve_output(path)
    if not isinstance(target, Path):
        return target
    st = _stat_checked(target, flag)
    if st is None and not create_parents and not target.parent.is_dir():
        raise OutputError(target, f"the folder {target.parent} does not exist", flag=flag,
                          hint=f"create it first (mkdir -p {target.parent}) or choose another path")
    return target


def write_text(path: Union[str, os.PathLike], text: str, *, flag: Optional[str] = None,
               create_parents: bool = False) -> Union[str, Path]:
    """Write ``text`` (UTF-8) to ``path`` by the rules above; returns where it went (``"-"`` or a Path).

    ``flag`` names the option the path came from (``--export``), so an error says which value to change.
    """
    target = resolve_output(path)
    if target == STDOUT:
        return _write_stdout(text, flag)
    if isinstance(target, FileDescriptor):
        return _write_descriptor(target, text.encode("utf-8"), flag)
    assert isinstance(target, Path)
    st = _stat_checked(target, flag)
    if st is not None and not stat.S_ISREG(st.st_mode):
        return _write_in_place(target, text, flag)
    _ensure_parent(target, flag, create_parents)
    _replace_atomically(target, st, flag, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return target


def write_json(path: Union[str, os.PathLike], payload: Any, *, flag: Optional[str] = None,
               create_parents: bool = False) -> Union[str, Path]:
    """:func:`write_text` of ``payload`` as indented JSON (dataclasses and enums made plain first)."""
    from draftfinder.find.results import to_plain

    text = json.dumps(to_plain(payload), indent=2, ensure_ascii=False) + "\n"
    return write_text(path, text, flag=flag, create_parents=create_parents)


def write_produced(path: Union[str, os.PathLike], produce: Callable[[Path], None], *, flag: Optional[str] = None,
                   create_parents: bool = False, prefix: Optional[str] = None) -> Path:
    """A file another library writes (a GGUF assembled by its package, readline's history file), by the same
    rules: ``produce(tmp)`` writes a temporary file in the destination's folder, which then replaces the
    destination atomically (a symlink is followed). Only regular files: stdout, a descriptor, a device or a
    FIFO is refused. If ``produce`` raises, the destination is untouched and the temporary file removed
    (``OSError`` becomes :class:`OutputError`; other exceptions propagate)."""
    target = resolve_output(path)
    if not isinstance(target, Path) or not is_regular_destination(target):
        raise OutputError(describe(target), "it is not a regular file", flag=flag, hint="name a regular file")
    try:
        st: Optional[os.stat_result] = target.stat()
    except OSError:
        st = None
    _ensure_parent(target, flag, create_parents)
    _replace_atomically(target, st, flag, produce, prefix=prefix)
    return target


def write_torch(path: Union[str, os.PathLike], payload: Any) -> Path:
    """``torch.save`` of ``payload`` to ``path`` through :func:`write_produced` (atomic; a failed write leaves
    the old file). torch writes through a Python file object here, so a full disk raises the file's ``OSError``
    (→ ``OutputError``), not the ``RuntimeError`` torch turns it into."""
    import torch

    class _Recording:                    # torch swallows the file's OSError into a RuntimeError: keep it
        def __init__(self, fh: Any):
            self.fh, self.error = fh, None

        def write(self, data: Any) -> int:
            try:
                return self.fh.write(data)
            except OSError as err:
                self.error = err
                raise

        def flush(self) -> None:
            self.fh.flush()

    def produce(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            out = _Recording(fh)
            try:
                torch.save(payload, out)
            except RuntimeError:
                if out.error is not None:
                    raise out.error from None
                raise

    return write_produced(path, produce)


def describe(where: Union[str, Path, int]) -> str:
    """How a success message names the destination (``stdout`` for ``-``, ``file descriptor N``)."""
    if where == STDOUT:
        return "stdout"
    if isinstance(where, FileDescriptor):
        return "stderr" if where == 2 else f"file descriptor {int(where)}"
    return str(where)


# ---------------------------------------------------------------------------------------------------

def _ensure_parent(target: Path, flag: Optional[str], create_parents: bool) -> None:
    parent = target.parent
    if parent.is_dir():
        return
    if not create_parents:
        raise OutputError(target, f"the folder {parent} does not exist", flag=flag,
                          hint=f"create it first (mkdir -p {parent}) or choose another path")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(target, f"cannot create the folder {parent}: {exc.strerror or exc}", flag=flag) from exc


def _write_stdout(text: str, flag: Optional[str]) -> str:
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError as exc:
        raise OutputError(STDOUT, "the reader closed the pipe", flag=flag,
                          hint="let the reading command consume the whole output") from exc
    except OSError as exc:
        raise OutputError(STDOUT, exc.strerror or str(exc), flag=flag) from exc
    return STDOUT


def _write_descriptor(fd: FileDescriptor, data: bytes, flag: Optional[str]) -> FileDescriptor:
    """Write to an open descriptor (shares its offset, as the shell's redirection expects), after flushing
    what Python buffered for stdout/stderr so that the order on screen is kept."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    try:
        view = memoryview(data)
        while view:
            n = os.write(int(fd), view)
            view = view[n:]
    except OSError as exc:
        raise OutputError(describe(fd), exc.strerror or str(exc), flag=flag) from exc
    return fd


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


def _stat_checked(target: Path, flag: Optional[str]) -> Optional[os.stat_result]:
    """``target.stat()`` (None when it does not exist yet); a folder or a socket in its place is an error."""
    try:
        st = target.stat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise OutputError(target, exc.strerror or str(exc), flag=flag) from exc
    if stat.S_ISDIR(st.st_mode):
        raise OutputError(target, "it is a folder", flag=flag, hint="name a file inside it")
    if stat.S_ISSOCK(st.st_mode):
        raise OutputError(target, "it is a socket", flag=flag, hint="name a regular file")
    return st


def _replace_atomically(target: Path, st: Optional[os.stat_result], flag: Optional[str],
                        produce: Callable[[Path], None], *, prefix: Optional[str] = None) -> None:
    """``produce(tmp)`` fills a temporary file beside ``target``; it is synced to disk, given the old file's
    mode (or the umask's), and renamed over ``target``. On any failure ``target`` is untouched and the
    temporary file removed."""
    tmp: Optional[str] = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=prefix or f".{target.name}.", suffix=".tmp", dir=str(target.parent))
        os.close(fd)
        produce(Path(tmp))
        with open(tmp, "rb") as fh:                  # produce() may have closed it without syncing
            os.fsync(fh.fileno())
        _set_mode(tmp, st)
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


def _set_mode(tmp: str, st: Optional[os.stat_result]) -> None:
    """An existing file keeps its permission bits; a new one gets ``0o666 & ~umask`` (mkstemp makes 0600)."""
    if st is not None:
        os.chmod(tmp, stat.S_IMODE(st.st_mode))
        return
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
