"""Entry point: ``draftfinder [COMMAND] ...``; ``find`` is the default command (``draftfinder TARGET``).

The one place that turns a :class:`~draftfinder.errors.DraftFinderError` into a single line on stderr and
its exit code. ``DRAFTFINDER_DEBUG=1`` shows the traceback instead.

- The hint of that line is the one for the command that ran (``DraftFinderError.hint_for``); a hint naming a
  draftfinder flag the command does not have is replaced by the error's default hint (or dropped).
- With ``--format json|yaml`` stdout always carries exactly one document: the command's data, or — when the
  command fails before printing it — ``{"error": {"message", "hint", "exit_code", "type", "command"}}``. The
  exit code is the same either way, and the one-line error still goes to stderr.
- ``draftfinder help [COMMAND]`` prints the help (of ``find``, with the command list, or of COMMAND).
- Flag errors (unknown flag, missing value) are one line too, and exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import re
import signal
import sys
import threading
import traceback
from typing import Any, Dict, List, Optional

from draftfinder import constants
from draftfinder.errors import (EXIT_INTERRUPTED, EXIT_TERMINATED, EXIT_USAGE, DraftFinderError, Terminated,
                                UsageError, redact)
from draftfinder.version import __version__

COMMANDS = {
    "find": "draftfinder.cli.find_cmd",
    "estimate": "draftfinder.cli.estimate_cmd",
    "measure": "draftfinder.cli.measure_cmd",
    "generate": "draftfinder.cli.generate_cmd",
    "sweep": "draftfinder.cli.sweep_cmd",
    "chat": "draftfinder.cli.chat_cmd",
    "calibrate": "draftfinder.cli.calibrate_cmd",
    "published": "draftfinder.cli.published_cmd",
    "lint": "draftfinder.cli.lint_cmd",
    "train": "draftfinder.cli.train_cmd",
}
DATA_FORMATS = ("json", "yaml")
_FLAG_RE = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


def _epilog() -> str:
    lines = ["commands (draftfinder COMMAND --help, or draftfinder help COMMAND):"]
    for name, module in available_commands().items():
        try:
            help_text = importlib.import_module(module).HELP
        except ImportError:  # a command whose optional pieces are missing still lists
            help_text = ""
        lines.append(f"  {name:<10} {help_text}")
    lines.append("")
    lines.append("find is the default: `draftfinder Qwen/Qwen2.5-7B --top-n 5` = `draftfinder find Qwen/Qwen2.5-7B --top-n 5`")
    epilog = getattr(importlib.import_module(COMMANDS["find"]), "EPILOG", "")
    return "\n".join(lines) + (f"\n\n{epilog}" if epilog else "")


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose flag errors are a :class:`UsageError` (one line, exit 2, JSON with --format)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message, hint=f"see `{self.prog} --help`")


def build_parser(name: str, *, one_line_errors: bool = False) -> argparse.ArgumentParser:
    module = importlib.import_module(COMMANDS[name])
    cls = _Parser if one_line_errors else argparse.ArgumentParser
    parser = cls(
        prog="draftfinder" if name == "find" else f"draftfinder {name}",
        description=module.HELP,
        epilog=_epilog() if name == "find" else getattr(module, "EPILOG", None),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"DraftFinder v{__version__}")
    module.configure(parser)
    return parser


def available_commands() -> dict:
    """Commands whose module exists in this version (later issues add modules)."""
    import importlib.util

    return {name: mod for name, mod in COMMANDS.items() if importlib.util.find_spec(mod) is not None}


def command_flags(name: str) -> set:
    """The long flags command ``name`` accepts."""
    parser = build_parser(name)
    return {opt for action in parser._actions for opt in action.option_strings if opt.startswith("--")}


def _all_flags() -> set:
    flags: set = set()
    for name in available_commands():
        flags |= command_flags(name)
    return flags


def error_hint(err: DraftFinderError, name: str) -> Optional[str]:
    """The hint for command ``name``: never one that names a draftfinder flag the command lacks."""
    own, foreign = command_flags(name), _all_flags()

    def clean(text: Optional[str]) -> bool:
        return not any(f in foreign and f not in own for f in _FLAG_RE.findall(text or ""))

    for hint in (err.hint_for(name), err.hint):
        if hint and clean(hint):
            return hint
    return None


def _requested_format(argv: List[str]) -> Optional[str]:
    """``--format X`` / ``--format=X`` from the raw arguments (known before parsing can fail)."""
    for i, arg in enumerate(argv):
        if arg == "--format" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--format="):
            return arg.split("=", 1)[1]
    return None


def error_document(message: str, hint: Optional[str], exit_code: int, kind: str, command: str) -> Dict[str, Any]:
    """The ``error`` object a machine format prints when the command fails before its data."""
    return {"error": {"message": message, "hint": hint, "exit_code": exit_code, "type": kind, "command": command}}


def _fail(name: str, fmt: Optional[str], message: str, hint: Optional[str], code: int, kind: str,
          prefix: str = "error") -> int:
    from draftfinder.report import output

    line = f"{message} — {hint}" if hint else message
    sys.stderr.write(f"draftfinder: {prefix}: {line}\n")
    if fmt in DATA_FORMATS and not output.document_written():
        output.emit(error_document(message, hint, code, kind, name), fmt)
    return code


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated()


def _sigterm_as_interrupt() -> None:
    """Install :func:`_raise_terminated` for SIGTERM (main thread only: ``signal`` refuses other threads)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_terminated)


def main(argv: Optional[List[str]] = None) -> int:
    from draftfinder.report import output

    argv = list(sys.argv[1:] if argv is None else argv)
    commands = available_commands()
    if argv and argv[0] == "help":                      # `draftfinder help [COMMAND]`
        topic = argv[1] if len(argv) > 1 and argv[1] in commands else "find"
        if len(argv) > 1 and argv[1] not in commands:
            sys.stderr.write(f"draftfinder: no command '{argv[1]}'; commands: {', '.join(commands)}\n")
            build_parser("find").print_help()
            return EXIT_USAGE
        build_parser(topic).print_help()
        return 0
    name = argv[0] if argv and argv[0] in commands else "find"
    rest = argv[1:] if argv and argv[0] in commands else argv
    fmt = _requested_format(rest)
    output.reset_document_state()
    _sigterm_as_interrupt()
    args: Optional[argparse.Namespace] = None
    try:
        args = build_parser(name, one_line_errors=True).parse_args(rest)
        module = importlib.import_module(COMMANDS[name])
        return int(module.run(args) or 0)
    except DraftFinderError as err:
        if constants.debug_enabled():
            traceback.print_exc()
        fmt = getattr(args, "format", None) or fmt     # a command may set it from its config (find's output.format)
        return _fail(name, fmt, err.message, error_hint(err, name), err.exit_code, type(err).__name__)
    except Terminated:
        fmt = getattr(args, "format", None) or fmt
        return _fail(name, fmt, "terminated (SIGTERM)", None, EXIT_TERMINATED, "Terminated", prefix="error")
    except KeyboardInterrupt:
        fmt = getattr(args, "format", None) or fmt
        return _fail(name, fmt, "interrupted", None, EXIT_INTERRUPTED, "KeyboardInterrupt", prefix="error")
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug, not a user error: say so in one line, traceback on demand
        if constants.debug_enabled():
            traceback.print_exc()
        fmt = getattr(args, "format", None) or fmt
        return _fail(name, fmt, f"{type(exc).__name__}: {redact(str(exc))}",
                     "rerun with DRAFTFINDER_DEBUG=1 for the traceback and report it", 1, type(exc).__name__,
                     prefix="internal error")


if __name__ == "__main__":
    sys.exit(main())
