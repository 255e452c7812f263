#!/usr/bin/env python3
"""Check that the llama-server draftfinder would use really runs on this machine.

Starts it through the sweep's own llamacpp backend on the zoo SmolLM2-135M GGUF (127.0.0.1, one thread) and
generates 4 tokens: a binary that starts but dies on its first matmul (a native build on a VM that hides AMX:
SIGILL) fails here, with the backend's own message naming the signal, instead of in the middle of CI.

Usage: python scripts/check_llama.py [--llama-server PATH]
Exit: 0 it runs; 1 it is installed but broken (the reason on stderr); 2 no llama-server; 3 no zoo model to
check it with.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--llama-server", metavar="PATH", help="the binary to check (default: the sweep's lookup)")
    args = ap.parse_args()

    from draftfinder.errors import DraftFinderError, MissingDependencyError, ZooModelMissingError
    from draftfinder.measure.prompts import Prompt
    from draftfinder.sweep.backends.llama_command import free_port
    from draftfinder.sweep.backends.llamacpp import LlamaCppBackend
    from draftfinder.sweep.config import Entry, Settings, SweepConfig

    try:
        backend = LlamaCppBackend(SweepConfig(name="check", targets=[], backend="llamacpp"),
                                  {"llama_server": args.llama_server})
    except MissingDependencyError as err:
        print(f"check_llama: {err.line()}", file=sys.stderr)
        return 2
    except DraftFinderError as err:
        print(f"check_llama: {err.line()}", file=sys.stderr)
        return 1
    settings = Settings(max_tokens=4, gpu_layers=0, ctx_size=512, threads=1, timeout_s=120, port=free_port(),
                        warmup=0)
    session = None
    try:
        session = backend.open(Entry(label="smollm2", path="zoo:smollm2-135m"), None, None, settings)
        g = session.generate(Prompt(id="check", task="general", text="The three primary colors are"), settings)
    except ZooModelMissingError as err:
        print(f"check_llama: {err.line()}", file=sys.stderr)
        return 3
    except DraftFinderError as err:
        print(f"check_llama: {backend.binary.path} does not run here: {err.line()}", file=sys.stderr)
        return 1
    finally:
        if session is not None:
            session.close()
    if g.tokens < 1:
        print(f"check_llama: {backend.binary.path} generated nothing", file=sys.stderr)
        return 1
    print(f"check_llama: {backend.binary.path} runs ({backend.binary.version or 'version unknown'}; "
          f"{g.tokens} tokens generated, found via {backend.binary.source})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
