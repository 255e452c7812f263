#!/usr/bin/env python3
"""GGUF export check: a draft folder → draft GGUF (target's vocabulary) → llama-server with and without it.

Exports ``--draft`` (an independent draft folder from ``draftfinder train``; default: the target itself cut to
``--layers`` layers, *untrained* — the floor a trained draft must beat) with
:func:`draftfinder.train.gguf_export.export_gguf`, then times the target GGUF alone and with ``-md DRAFT
--spec-type draft-simple`` (:func:`~draftfinder.train.gguf_export.measure_llama_server_pair`: the sweep's cell
loop, greedy, untimed warm-up, server timings). Prints one table and writes the figures (all measured) with the
run's metadata to ``bench/results/train_gguf_check.json`` (``--out`` for another file).

Usage: python bench/train_gguf_check.py [--target zoo:smollm2-135m] [--draft DIR | --layers 3] [--dtype f16]
       [--task code] [--prompts 4] [--max-tokens 64] [--n-max 2] [--threads 1] [--out FILE]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from _common import REPO, BenchRun, bench_parser

sys.path.insert(0, str(REPO))


def main() -> int:
    ap = bench_parser(__doc__)
    ap.add_argument("--draft", help="draft folder (HF, the target's architecture); default: the target cut to --layers")
    ap.add_argument("--layers", type=int, default=3, help="layers of the untrained cut when --draft is not given")
    ap.add_argument("--dtype", choices=("f16", "q8_0", "f32"), default="f16")
    ap.add_argument("--task", default="code")
    ap.add_argument("--prompts", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--n-max", type=int, default=2, help="tokens drafted per step (--spec-draft-n-max)")
    args = ap.parse_args()
    run = BenchRun(args)

    from draftfinder.measure.prompts import load_prompts
    from draftfinder.models.resolver import Resolver
    from draftfinder.sweep.llama_bin import find_llama_server
    from draftfinder.train.gguf_export import export_gguf, measure_llama_server_pair

    run.extra_versions["llama_server"] = find_llama_server().version
    target_gguf = Resolver().resolve(args.target).gguf_path
    if target_gguf is None:
        print(f"{args.target} has no GGUF file: give a zoo name or a .gguf", file=sys.stderr)
        return 2
    prompts = load_prompts(args.task, limit=args.prompts)
    with tempfile.TemporaryDirectory(prefix="draftfinder-gguf-check-") as tmp:
        if args.draft:
            folder, what = Path(args.draft), f"draft folder {args.draft}"
        else:
            from draftfinder.engine.loading import load_model
            from tests.train.test_gguf_export import save_truncated

            folder = save_truncated(load_model(args.target), Path(tmp) / "cut", args.layers)
            what = f"the target cut to its first {args.layers} layers, untrained"
        print(f"exporting {what} ({args.dtype})", file=sys.stderr)
        export = export_gguf(folder, target_gguf, Path(tmp) / "draft.gguf", dtype=args.dtype)
        print("measuring in llama-server", file=sys.stderr)
        pair = measure_llama_server_pair(target_gguf, Path(export.path), prompts, max_tokens=args.max_tokens,
                                         n_max=args.n_max, threads=args.threads,
                                         log=lambda line: print(line, file=sys.stderr))
    print("| draft | GGUF | vocab checks | target tok/s | with draft tok/s | speedup | draft_n | accepted | "
          "acceptance | identical |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    fmt = lambda x, p=2: "–" if x is None else f"{x:.{p}f}"   # noqa: E731
    print(f"| {what} | {export.arch} {export.dtype}, {export.file_bytes / 1e6:.0f} MB | "
          f"{'pass' if export.vocab_checks_passed else 'FAIL'} | {fmt(pair['target_tokens_per_s'])} | "
          f"{fmt(pair['spec_tokens_per_s'])} | {fmt(pair['speedup'])}× | {pair['draft_n']} | "
          f"{pair['draft_n_accepted']} | {fmt(pair['acceptance'])} | {pair['outputs_identical']} |")
    export_dict = export.to_dict()
    export_dict["path"] = "(temporary)"
    run.finish({"draft": what, "export": export_dict, "llama_server": pair,
                "sources": {"export": "draftfinder.train.gguf_export.export_gguf",
                            "figures": "measured: " + pair["source"]}})
    print(f"HEADLINE: llama-server drafted {pair['draft_n']} tokens, accepted {pair['draft_n_accepted']}, "
          f"speedup {fmt(pair['speedup'])}× (measured) with {what}")
    return 0 if pair["status"] == "ok" and export.vocab_checks_passed else 1


if __name__ == "__main__":
    sys.exit(main())
