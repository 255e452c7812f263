"""Progress on stderr (a rich bar when stderr is a terminal, plain lines otherwise) and the two-stage Ctrl-C of
the long measuring commands (``measure``, ``calibrate``)."""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any, Optional


class BarProgress:
    """Callable ``(i, n, label)``; call ``close()`` at the end."""

    def __init__(self, description: str):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                  TimeElapsedColumn(), TextColumn("{task.fields[label]}"),
                                  console=Console(file=sys.stderr), transient=True)
        self._description = description
        self._task = None

    def __call__(self, i: int, n: int, label: str) -> None:
        if self._task is None:
            self._progress.start()
            self._task = self._progress.add_task(self._description, total=n, label=label)
        self._progress.update(self._task, completed=i - 1, total=n, label=label)

    def close(self) -> None:
        if self._task is not None:
            self._progress.stop()


class PhaseProgress:
    """``(phase, done, total, label)`` → a rich bar per phase on a terminal (unless ``NO_COLOR``), else one plain
    line per item, prefixed with the command's name (``prefix``)."""

    prefix = "draftfinder"

    def __init__(self, stream: Any = None):
        from draftfinder import constants

        self.stream = stream or sys.stderr
        self.rich = bool(getattr(self.stream, "isatty", lambda: False)()) and constants.color_enabled(self.stream)
        self.phase: Optional[str] = None
        self.bar: Any = None

    def __call__(self, phase: str, done: int, total: int, label: str) -> None:
        if phase != self.phase:
            self.close()
            self.phase = phase
            if self.rich:
                self.bar = BarProgress(f"{phase:<12}")
        if self.bar is not None:
            self.bar(done + 1, total, label)
        elif done < total:
            self.stream.write(f"{self.prefix}: {phase} {done + 1}/{total} {label}\n")
            self.stream.flush()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class StopOnInterrupt:
    """First Ctrl-C: ask the work to stop after the current step (``self()`` turns True). Second: abort
    (KeyboardInterrupt). A context manager; the previous SIGINT handler is restored on exit."""

    prefix = "draftfinder"

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def __call__(self) -> bool:
        return self.requested

    def _handler(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        sys.stderr.write(f"\n{self.prefix}: stopping after the current step and keeping what was measured "
                         "(Ctrl-C again to abort)\n")
        sys.stderr.flush()

    def __enter__(self) -> "StopOnInterrupt":
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
