"""A progress bar on stderr (rich), used when stderr is a terminal."""

from __future__ import annotations

import sys


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
