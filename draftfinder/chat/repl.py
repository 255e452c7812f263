"""The terminal loop of ``draftfinder chat``: read a line, hand it to the session, print what came back.

- Line editing through ``readline`` when stdin is a terminal: tab completes slash commands and their fixed
  arguments (``session.completions``); the history is kept in ``<data_home>/chat_history`` (1000 lines).
- Ctrl-C during a generation cancels it: while a line is handled, SIGINT only sets a flag, which the engine
  polls between decoding steps through ``should_stop`` (``speculative_generate`` / ``autoregressive_generate``);
  the partial results are shown and the prompt comes back. Ctrl-C at the prompt prints a hint.
- Ctrl-D (EOF) or ``/quit`` leaves with exit code 0.

Results go to stdout, progress lines and one-line problems to stderr.
"""

from __future__ import annotations

import signal
import sys
import threading
import traceback
from pathlib import Path
from typing import Any, Optional, TextIO

from draftfinder import constants
from draftfinder.errors import redact
from draftfinder.chat.render import render_banner, render_output
from draftfinder.chat.results import Output
from draftfinder.chat.commands import completions
from draftfinder.chat.session import ChatSession

PROMPT = ">>> "
HISTORY_FILE = "chat_history"
HISTORY_LENGTH = 1000
INTERRUPT_HINT = "(Ctrl-C cancels a running generation; /quit or Ctrl-D leaves)"


def history_path() -> Path:
    return constants.data_home() / HISTORY_FILE


class CancelFlag:
    """For the duration of a ``with`` block, SIGINT sets this flag instead of raising KeyboardInterrupt.

    ``flag.is_set`` is the engine's ``should_stop``. Outside the main thread (where signal handlers cannot
    be installed) it is a plain flag.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self._previous: Any = None
        self._installed = False

    def is_set(self) -> bool:
        return self._event.is_set()

    def set(self, *_: Any) -> None:
        self._event.set()

    def __enter__(self) -> "CancelFlag":
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self.set)
            self._installed = True
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)
            self._installed = False


def setup_readline(path: Path) -> Any:
    """Tab completion and the history file; returns the readline module, or None where there is none."""
    try:
        import readline
    except ImportError:            # e.g. Windows without pyreadline: plain input() still works
        return None

    matches: list = []

    def complete(text: str, state: int) -> Optional[str]:
        if state == 0:
            # Python's readline appends nothing after a completion: add the space that ends the word
            matches[:] = [m + " " for m in completions(readline.get_line_buffer()[: readline.get_endidx()])]
        return matches[state] if state < len(matches) else None

    readline.set_completer_delims(" \t\n")
    readline.set_completer(complete)
    if "libedit" in (readline.__doc__ or ""):          # macOS' Python links libedit, which binds differently
        readline.parse_and_bind("bind ^I rl_complete")
    else:
        readline.parse_and_bind("tab: complete")
    readline.set_history_length(HISTORY_LENGTH)
    try:
        readline.read_history_file(str(path))
    except OSError:                                    # no history yet, or unreadable: start empty
        pass
    return readline


def save_history(readline: Any, path: Path) -> None:
    """readline writes the history into a temporary file that the writer moves over ``path`` (a symlink is
    followed; a link to /dev/null, the usual way to switch history off, is respected: nothing is written)."""
    from draftfinder.errors import OutputError
    from draftfinder.writer import write_produced

    try:
        write_produced(path, lambda tmp: readline.write_history_file(str(tmp)), create_parents=True)
    except OutputError:                                # a read-only home must not spoil the exit
        pass


def run_line(session: ChatSession, line: str, *, color: bool, stdout: TextIO, stderr: TextIO) -> Output:
    """Handle one line with Ctrl-C turned into cancellation; print the result. Never raises for bad input."""
    def progress(label: str) -> None:
        stderr.write(f"  running {label} …\n")
        stderr.flush()

    with CancelFlag() as cancel:     # also while printing: a late Ctrl-C must not end the session
        try:
            out = session.handle(line, should_stop=cancel.is_set, progress=progress)
        except Exception as exc:     # a bug, not bad input: one line, and the session goes on
            if constants.debug_enabled():
                traceback.print_exc()
            out = Output(message=f"internal error: {type(exc).__name__}: {redact(str(exc))} — rerun with "
                                 "DRAFTFINDER_DEBUG=1 for the traceback and report it", error=True)
        text = render_output(out, color=color, token_text=session.token_text)
        cancelled = out.turn is not None and out.turn.cancelled
        if cancelled:
            text = "\n" + text                    # off the line where the terminal echoed ^C
        if text:
            stream = stderr if out.error else stdout
            stream.write(text + "\n")
            stream.flush()
        if cancelled:
            stderr.write(INTERRUPT_HINT + "\n")
            stderr.flush()
    return out


def run_repl(session: ChatSession, *, stdout: Optional[TextIO] = None, stderr: Optional[TextIO] = None,
             color: Optional[bool] = None, history: Optional[Path] = None) -> int:
    """The loop, until Ctrl-D or /quit (exit code 0). Reads with ``input()`` (readline when stdin is a tty)."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    color = constants.color_enabled(stdout) if color is None else color
    history = history or history_path()
    rl = setup_readline(history) if sys.stdin.isatty() else None
    stdout.write(render_banner(session.describe(), color=color) + "\n")
    stdout.flush()
    try:
        while True:
            try:
                line = input(PROMPT)
            except EOFError:
                stdout.write("\n")
                return 0
            except KeyboardInterrupt:
                stdout.write("\n")
                stderr.write(INTERRUPT_HINT + "\n")
                stderr.flush()
                continue
            try:
                if run_line(session, line, color=color, stdout=stdout, stderr=stderr).quit:
                    return 0
            except KeyboardInterrupt:                  # Ctrl-C in the instant between two handlers
                stderr.write("\n" + INTERRUPT_HINT + "\n")
                stderr.flush()
    finally:
        if rl is not None:
            save_history(rl, history)
