"""Entry point: ``draftfinder [COMMAND] ...``; ``find`` is the default command (``draftfinder TARGET``).

The one place that turns a :class:`~draftfinder.errors.DraftFinderError` into a single line on stderr and
its exit code. ``DRAFTFINDER_DEBUG=1`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from typing import List, Optional

from draftfinder import constants
from draftfinder.errors import EXIT_INTERRUPTED, DraftFinderError, redact
from draftfinder.version import __version__

COMMANDS = {
    "find": "draftfinder.cli.find_cmd",
    "estimate": "draftfinder.cli.estimate_cmd",
    "measure": "draftfinder.cli.measure_cmd",
    "generate": "draftfinder.cli.generate_cmd",
    "sweep": "draftfinder.cli.sweep_cmd",
    "chat": "draftfinder.cli.chat_cmd",
}


def _epilog() -> str:
    lines = ["commands (draftfinder COMMAND --help):"]
    for name, module in available_commands().items():
        try:
            help_text = importlib.import_module(module).HELP
        except ImportError:  # a command whose optional pieces are missing still lists
            help_text = ""
        lines.append(f"  {name:<10} {help_text}")
    lines.append("")
    lines.append("find is the default: `draftfinder Qwen/Qwen2.5-7B --top-n 5` = `draftfinder find Qwen/Qwen2.5-7B --top-n 5`")
    return "\n".join(lines)


def build_parser(name: str) -> argparse.ArgumentParser:
    module = importlib.import_module(COMMANDS[name])
    parser = argparse.ArgumentParser(
        prog="draftfinder" if name == "find" else f"draftfinder {name}",
        description=module.HELP,
        epilog=_epilog() if name == "find" else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"DraftFinder v{__version__}")
    module.configure(parser)
    return parser


def available_commands() -> dict:
    """Commands whose module exists in this version (later issues add modules)."""
    import importlib.util

    return {name: mod for name, mod in COMMANDS.items() if importlib.util.find_spec(mod) is not None}


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = available_commands()
    name = argv[0] if argv and argv[0] in commands else "find"
    rest = argv[1:] if argv and argv[0] in commands else argv
    parser = build_parser(name)
    args = parser.parse_args(rest)
    module = importlib.import_module(COMMANDS[name])
    try:
        return int(module.run(args) or 0)
    except DraftFinderError as err:
        if constants.debug_enabled():
            traceback.print_exc()
        sys.stderr.write(f"draftfinder: error: {err.line()}\n")
        return err.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("draftfinder: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug, not a user error: say so in one line, traceback on demand
        if constants.debug_enabled():
            traceback.print_exc()
        sys.stderr.write(f"draftfinder: internal error: {type(exc).__name__}: {redact(str(exc))} "
                         "— rerun with DRAFTFINDER_DEBUG=1 for the traceback and report it\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
