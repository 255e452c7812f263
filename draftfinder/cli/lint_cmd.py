"""``draftfinder lint``: check a speculative-decoding serving command before you run it.

    draftfinder lint "llama-server -m target.gguf -md draft.gguf -ngl 99"
    draftfinder lint --file serve.sh            # every llama-server / vllm serve / sglang command in the file
    draftfinder lint - < serve.sh               # stdin
    draftfinder lint '{"method": "eagle3", "model": "yuhuili/EAGLE3-LLaMA3.1-Instruct-8B"}'   # a vLLM JSON alone

Each finding: severity (error / warning / info), what is wrong, the fix, and where the engine enforces the rule
(file, function, commit or build). Exit codes: 0 no error finding (warnings and infos allowed), 1 at least one
error finding, 2 input that cannot be read (one line naming the token: an unclosed quote, a
``--speculative-config`` that is not JSON, no serving command).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Dict

HELP = "check a llama-server / vLLM / SGLang speculative-decoding command for mistakes (with the engine's rule)"
EPILOG = ("exit codes: 0 no error finding, 1 an error finding, 2 unreadable input (the line names the token).\n"
          "Model facts (vocab sizes, architectures) come from local paths, the HF cache and the built-in catalog;\n"
          "--hub also asks the Hugging Face Hub, --no-models skips those rules.")
EXIT_FINDINGS = 1


def configure(parser: argparse.ArgumentParser) -> None:
    from draftfinder.report.output import FORMATS

    parser.add_argument("command", nargs="*", metavar="COMMAND",
                        help="the command line (one quoted argument, or the words after --); - reads stdin")
    parser.add_argument("--file", metavar="PATH", help="read the command(s) from this file")
    parser.add_argument("--format", default="table", choices=list(FORMATS), help="output format (default table)")
    parser.add_argument("--hub", action="store_true", help="also look models up on the Hugging Face Hub")
    parser.add_argument("--no-models", action="store_true",
                        help="skip the rules that need model facts (vocab size, architecture, MTP layers)")


def _read(args: argparse.Namespace):
    from pathlib import Path

    from draftfinder.errors import ModelFileError, UsageError

    if args.file and args.command:
        raise UsageError("give the command either as an argument or with --file, not both",
                         hint="drop one of them")
    if args.file:
        path = Path(args.file).expanduser()
        try:
            return path.read_text(encoding="utf-8"), str(path)
        except (OSError, UnicodeDecodeError) as err:
            raise ModelFileError(path, str(err), hint="check the path passed to --file") from err
    if args.command == ["-"]:
        return sys.stdin.read(), "stdin"
    if not args.command:
        raise UsageError("no command to lint", hint="pass it in quotes, with --file PATH, or - for stdin")
    if len(args.command) == 1:
        return args.command[0], "argument"
    import shlex

    return shlex.join(args.command), "argument"


def _table(d: Dict[str, Any]) -> str:
    lines = []
    for i, c in enumerate(d["commands"], 1):
        head = f"{c['program']} ({c['engine']})"
        if c.get("target"):
            head += f" — target {c['target']}"
        if c.get("draft"):
            head += f", draft {c['draft']}"
        lines.append(f"[{i}] {head}: {c['errors']} error(s), {c['warnings']} warning(s), {c['infos']} note(s)")
        for f in c["findings"]:
            lines.append(f"  {f['severity'].upper():<7} {f['rule']}: {f['message']}")
            lines.append(f"          fix: {f['fix']}")
            lines.append(f"          engine: {f['enforced_at']}")
            if f["enforcement"].get("observed"):
                lines.append(f"          the engine says: {f['enforcement']['observed']}")
        if not c["findings"]:
            lines.append("  no findings")
        lines.append("")
    for note in d.get("notes") or []:
        lines.append(f"note: {note}")
    lines.append(f"{d['errors']} error(s), {d['warnings']} warning(s) in {len(d['commands'])} command(s) "
                 f"(read from {d['source']})")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from draftfinder.lint import lint_text
    from draftfinder.models.resolver import Resolver
    from draftfinder.report.output import emit

    text, source = _read(args)
    resolver = None if args.no_models else Resolver(offline=not args.hub)
    report = lint_text(text, source=source, resolve=not args.no_models, resolver=resolver)
    emit(report.to_dict(), args.format, table=_table)
    return EXIT_FINDINGS if report.has_errors else 0
