"""Rebuild ``draftfinder/data/llama_server_flags.json``: the option table of a real ``llama-server --help``.

    python scripts/llama_server_flags.py [--llama-server PATH] [--out FILE]

``draftfinder lint`` checks llama-server command lines against this table (which flags exist, which take a
value, which values a flag accepts, which names the build lists as removed). The table is derived from the
binary's own parser output (llama.cpp ``common/arg.cpp`` prints it), parsed with
:func:`draftfinder.sweep.llama_bin.parse_help`; the binary's ``--version`` and package are recorded beside it.
``tests/lint/test_llama_server.py`` checks the committed table against the installed binary when there is one.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def build(binary: str) -> dict:
    from draftfinder.sweep.llama_bin import _package_version, parse_help

    def run(arg: str) -> str:
        out = subprocess.run([binary, arg], capture_output=True, text=True, timeout=120)
        return out.stdout + out.stderr

    help_text = run("--help")
    version = " ".join(line.strip() for line in run("--version").splitlines()
                       if line.startswith(("version", "built with")))
    options = []
    for opt in parse_help(help_text):
        options.append({"names": opt.names, "value": opt.hint or None, "removed": opt.removed,
                        "help": opt.help})
    return {"generated_by": "scripts/llama_server_flags.py", "binary_version": version,
            "package": _package_version(), "options": options}


def main(argv=None) -> int:
    from draftfinder.sweep.llama_bin import find_llama_server
    from draftfinder.writer import write_json

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--llama-server", help="the binary (default: the one draftfinder finds)")
    p.add_argument("--out", default=str(ROOT / "draftfinder" / "data" / "llama_server_flags.json"))
    args = p.parse_args(argv)
    binary = find_llama_server(args.llama_server).path
    table = build(binary)
    write_json(args.out, table)
    print(f"{len(table['options'])} options from {binary} ({table['binary_version']}) -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
