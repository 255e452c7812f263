#!/usr/bin/env python3
"""Concurrency sweep on llama-server: n-gram speculative decoding vs plain decoding at 1, 4 and 16 streams.

The sweep itself does the work (``draftfinder.sweep.runner.run_sweep`` with ``settings.concurrency``; levels:
``draftfinder.sweep.concurrency``), on the llamacpp backend: one llama-server per cell × level, started with
``-np N -c N×ctx_size --no-kv-unified`` (each slot keeps ``ctx_size``), bound to 127.0.0.1, stopped on every exit
path. Cells: the target's baseline (no draft) and ``--spec-type ngram-simple`` (lookup n−1 = 2 tokens, K drafted
per step), both on the same code-task prompts (HumanEval openings), greedy, ``cache_prompt: false``.

Per level N the requests go in waves of N simultaneous streams (threads released together; the prompts cycled to
a multiple of N), after one untimed warm-up wave. Figures, all measured in this run, baseline and draft side by
side at the same N:

- aggregate tok/s = all output tokens ÷ the waves' wall time (N = 1: the requests one at a time);
- speedup = draft aggregate tok/s ÷ baseline aggregate tok/s at the same N;
- TPOT = (total − TTFT) ÷ (tokens − 1) per request, median; TTFT mean;
- acceptance = llama-server's draft_n_accepted ÷ draft_n summed over the level's requests;
- same out = share of greedy outputs equal to the baseline's at the same N (token ids); batching = share of a
  cell's outputs at N equal to its own outputs at N = 1 (below 100 %: batched arithmetic changed a token).

Usage: python bench/concurrency.py [--target zoo:smollm2-135m] [--levels 1,4,16] [--k 4] [--limit 4]
       [--max-new-tokens 64] [--runs 1] [--threads 1] [--out bench/results/concurrency.json]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from _common import BenchRun, bench_parser


def busy_processes(limit: int = 6):
    """The machine's top CPU users now (command name and %CPU only): what shared the cores during the run."""
    try:
        out = subprocess.run(["ps", "-eo", "pcpu,comm", "--sort=-pcpu", "--no-headers"], capture_output=True,
                             text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    rows = []
    for line in out.splitlines()[:limit]:
        parts = line.split(None, 1)
        if len(parts) == 2:
            rows.append({"cpu_percent": float(parts[0]), "command": parts[1].strip()})
    return rows


def _distinct_outputs(cell, level):
    """{prompt id: how many different greedy outputs (token-id digests) its requests produced} at one level: more
    than 1 means requests identical but for their place in the batch came out different."""
    rows = cell.get("runs") if level["n"] == 1 else level.get("requests_detail")
    seen = {}
    for r in rows or []:
        seen.setdefault(r.get("prompt_id"), set()).add(r.get("output_sha1") or r.get("text_sha1"))
    return {p: len(v) for p, v in seen.items()}


def main() -> int:
    ap = bench_parser(__doc__)
    ap.add_argument("--levels", default="1,4,16", help="concurrency levels (simultaneous streams)")
    ap.add_argument("--k", default="4", help="n-gram draft lengths K, e.g. 4 or 2,4")
    ap.add_argument("--n", type=int, default=3, help="n-gram order (lookup n-1 tokens)")
    ap.add_argument("--task", default="code")
    ap.add_argument("--limit", type=int, default=4, help="prompts of the task")
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--ctx-size", type=int, default=1024, help="context per slot")
    args = ap.parse_args()
    run = BenchRun(args)
    busy_before = busy_processes()

    from draftfinder.sweep.concurrency import concurrency_table, find_level
    from draftfinder.sweep.config import sweep_config_from_dict
    from draftfinder.sweep.runner import run_sweep

    levels = sorted({int(x) for x in args.levels.split(",") if x.strip()})
    ks = sorted({int(x) for x in args.k.split(",") if x.strip()})
    cfg = sweep_config_from_dict({
        "name": "concurrency", "backend": "llamacpp", "hardware": "local",
        "targets": [{"label": "target", "path": args.target}],
        "drafts": [{"label": f"ngram-{args.n}", "type": "ngram", "n": args.n}],
        "settings": {"runs": args.runs, "warmup": 1, "max_tokens": args.max_new_tokens, "temperature": 0.0,
                     "task": args.task, "prompts": args.limit, "k": ks, "seed": 0, "threads": args.threads,
                     "gpu_layers": 0, "ctx_size": args.ctx_size, "concurrency": levels}})
    with tempfile.TemporaryDirectory(prefix="draftfinder-bench-") as tmp:
        res = run_sweep(cfg, Path(tmp) / "sweep.json", log=lambda line: print(line, file=sys.stderr, flush=True))
    busy_after = busy_processes()
    from draftfinder.sweep.backends.llamacpp import LlamaCppBackend

    binary = LlamaCppBackend(cfg, {}).binary
    run.extra_versions["llama_server"] = binary.version
    run.extra_versions["llama_server_package"] = binary.package

    base = res.find("target", None, None)
    rows = []
    for c in res.cells:
        for lvl in c.get("concurrency") or []:
            rows.append({
                "cell": "baseline" if c["draft"] is None else f"{c['draft']} K={c['k']}", "n": lvl["n"],
                "status": lvl.get("status"), "error": lvl.get("error") or lvl.get("flag"),
                "aggregate_tokens_per_s": lvl.get("aggregate_tokens_per_s"),
                "baseline_aggregate_tokens_per_s": lvl.get("baseline_aggregate_tokens_per_s"),
                "speedup": lvl.get("speedup"), "median_tpot_ms": lvl.get("median_tpot_ms"),
                "mean_tpot_ms": lvl.get("mean_tpot_ms"), "mean_ttft_s": lvl.get("mean_ttft_s"),
                "acceptance_rate": lvl.get("acceptance_rate"), "drafted": lvl.get("drafted"),
                "accepted": lvl.get("accepted"), "tokens": lvl.get("tokens"), "wall_s": lvl.get("wall_s"),
                "requests": lvl.get("requests"), "outputs_match_baseline": lvl.get("outputs_match_baseline"),
                "outputs_match_single_stream": lvl.get("outputs_match_single_stream"),
                "distinct_outputs_per_prompt": _distinct_outputs(c, lvl),
                "server_command": lvl.get("command") or c.get("command")})
    print(f"llama-server concurrency: target {args.target} ({binary.version}), {args.task} prompts × {args.limit}, "
          f"{args.max_new_tokens} new tokens, greedy, -t {args.threads}, ngram-simple n={args.n}, K {ks}, "
          f"levels {levels}, {args.runs} run(s), one warm-up wave per level excluded; all figures measured")
    print(concurrency_table(res.cells))
    figures = {
        "target": args.target, "task": args.task, "prompts": res.meta.get("prompts"), "levels": levels, "k": ks,
        "ngram_n": args.n, "max_new_tokens": args.max_new_tokens, "runs": args.runs, "threads": args.threads,
        "ctx_size_per_slot": args.ctx_size, "llama_server": res.meta.get("backend_info"),
        "definitions": {
            "aggregate_tokens_per_s": "all output tokens of the level / summed wall time of its waves (N "
                                      "simultaneous streamed requests released together; N=1: one at a time)",
            "speedup": "draft aggregate tok/s / baseline aggregate tok/s at the same N (same prompts, same run)",
            "tpot_ms": "(total - ttft) / (tokens - 1) per request (vLLM benchmark_serving)",
            "outputs_match_baseline": "greedy token ids equal to the baseline's at the same N",
            "outputs_match_single_stream": "token ids equal to the same cell's N=1 output for that prompt",
        },
        "levels_measured": rows,
        "machine_load": {"busy_processes_before": busy_before, "busy_processes_after": busy_after,
                         "note": "2 cores shared with other work during the run (see load averages and the busiest "
                                 "processes): absolute tok/s are depressed; the ratios are measured side by side"},
        "sweep_status": res.meta.get("status"),
    }
    run.finish(figures)
    parts = []
    for n in levels:
        d = next((r for r in rows if r["n"] == n and r["cell"] != "baseline"), None)
        b = find_level(base, n) if base else None
        if d is None or d["speedup"] is None or b is None:
            parts.append(f"N={n}: not measured")
            continue
        same = d["outputs_match_baseline"]
        batch = b.get("outputs_match_single_stream")
        parts.append(f"N={n} {d['speedup']:.2f}× ({b['aggregate_tokens_per_s']:.1f} → {d['aggregate_tokens_per_s']:.1f} "
                     f"tok/s; same out {'—' if same is None else f'{same:.0%}'}"
                     + ("" if n == 1 or batch is None else f", baseline vs its N=1 {batch:.0%}") + ")")
    print(f"HEADLINE: llama-server ngram-simple (n={args.n}, K={','.join(map(str, ks))}) on {args.target}, "
          f"{args.task} prompts, speedup vs plain decoding at the same concurrency (aggregate tok/s): " + "; ".join(parts))
    return 0 if res.meta.get("status") == "complete" else 1


if __name__ == "__main__":
    sys.exit(main())
