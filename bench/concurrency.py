#!/usr/bin/env python3
"""Concurrency on llama-server: n-gram speculative decoding vs plain decoding at 1, 4 and 16 streams, side by side.

The sweep's concurrency machinery does the work (``draftfinder.sweep.concurrency``: ``wave_plan``, ``run_wave``,
``summarize_level``; servers from the llamacpp backend: ``-np N -c N×ctx_size --no-kv-unified``, each slot keeps
``ctx_size``, bound to 127.0.0.1, stopped on every exit path). Unlike a sweep, which measures one cell after the
other, this bench keeps BOTH servers of a level up — the target's baseline (no draft) and ``--spec-type
ngram-simple`` (lookup n−1 = 2 tokens, K drafted per step) — and alternates their waves (A B, then B A, …), so a
change of the machine's load during the run hits both alike: the ratios are measured side by side.

Per level N the requests go in waves of N simultaneous streams (threads released together; the task prompts
cycled to a multiple of N), after one untimed warm-up wave per server; code-task prompts (HumanEval openings),
greedy, ``cache_prompt: false``. Figures, all measured in this run:

- aggregate tok/s = all output tokens ÷ the waves' wall time (N = 1: the requests one at a time);
- speedup = draft aggregate tok/s ÷ baseline aggregate tok/s at the same N;
- TPOT = (total − TTFT) ÷ (tokens − 1) per request, median; TTFT mean;
- acceptance = llama-server's draft_n_accepted ÷ draft_n summed over the level's requests;
- same out = share of greedy outputs equal to the baseline's at the same N (token ids); vs N=1 = share of a
  server's outputs at N equal to its own outputs at N = 1 (below 100 %: batched arithmetic changed a token).

Usage: python bench/concurrency.py [--target zoo:smollm2-135m] [--levels 1,4,16] [--k 4] [--limit 4]
       [--max-new-tokens 64] [--runs 2] [--threads 1] [--out bench/results/concurrency.json]
"""

from __future__ import annotations

import subprocess
import sys

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


def main() -> int:
    ap = bench_parser(__doc__)
    ap.add_argument("--levels", default="1,4,16", help="concurrency levels (simultaneous streams)")
    ap.add_argument("--k", type=int, default=4, help="n-gram draft length K")
    ap.add_argument("--n", type=int, default=3, help="n-gram order (lookup n-1 tokens)")
    ap.add_argument("--task", default="code")
    ap.add_argument("--limit", type=int, default=4, help="prompts of the task")
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--ctx-size", type=int, default=1024, help="context per slot")
    args = ap.parse_args()
    run = BenchRun(args)
    busy_before = busy_processes()

    import dataclasses

    from draftfinder.measure.prompts import load_prompts
    from draftfinder.sweep.backends.llamacpp import LlamaCppBackend
    from draftfinder.sweep.concurrency import (check_wave, request_row, run_wave, summarize_level, wave_plan)
    from draftfinder.sweep.config import sweep_config_from_dict

    levels = sorted({int(x) for x in args.levels.split(",") if x.strip()} | {1})
    cfg = sweep_config_from_dict({
        "name": "concurrency", "backend": "llamacpp", "hardware": "local",
        "targets": [{"label": "target", "path": args.target}],
        "drafts": [{"label": f"ngram-{args.n}", "type": "ngram", "n": args.n}],
        "settings": {"runs": args.runs, "warmup": 1, "max_tokens": args.max_new_tokens, "temperature": 0.0,
                     "task": args.task, "prompts": args.limit, "k": [args.k], "seed": 0, "threads": args.threads,
                     "gpu_layers": 0, "ctx_size": args.ctx_size, "concurrency": levels}})
    backend = LlamaCppBackend(cfg, {})
    run.extra_versions["llama_server"] = backend.binary.version
    run.extra_versions["llama_server_package"] = backend.binary.package
    prompts = load_prompts(args.task, limit=args.limit)
    target, draft = cfg.targets[0], cfg.drafts[0]
    names = ("baseline", f"{draft.label} K={args.k}")

    measured = {}                                   # (name, n) -> {"rows", "walls", "command"}
    for n in levels:
        s = dataclasses.replace(cfg.settings, concurrency=[n])
        print(f"concurrency {n}: starting both servers", file=sys.stderr, flush=True)
        sessions = {}
        try:
            sessions[names[0]] = backend.open(target, None, None, s)
            sessions[names[1]] = backend.open(target, draft, args.k, s)
            plan = wave_plan(len(prompts), n)
            short = dataclasses.replace(s, max_tokens=min(s.max_tokens, 16))
            for name in names:                      # untimed: one warm-up wave per server, every slot
                check_wave(run_wave(sessions[name], [prompts[i] for i in plan[0]], short)[1])
            for name in names:
                measured[(name, n)] = {"rows": [], "walls": [], "command": sessions[name].command}
            turn = 0
            for r in range(args.runs):
                for w, idx in enumerate(plan):
                    order = names if turn % 2 == 0 else names[::-1]     # A B, B A, …: drift hits both alike
                    turn += 1
                    for name in order:
                        wall, results = run_wave(sessions[name], [prompts[i] for i in idx], s)
                        check_wave(results)
                        m = measured[(name, n)]
                        m["walls"].append(wall)
                        for slot, ((g, end), i) in enumerate(zip(results, idx)):
                            m["rows"].append(request_row(g, r + 1, w + 1, slot, w * n + slot, prompts[i], end))
            print(f"concurrency {n}: done", file=sys.stderr, flush=True)
        finally:
            for session in sessions.values():
                session.close()

    def same(rows_a, rows_b, key):
        ref = {key(r): r.get("output_sha1") for r in rows_b}
        pairs = [r.get("output_sha1") == ref[key(r)] for r in rows_a if key(r) in ref and r.get("output_sha1")]
        return sum(pairs) / len(pairs) if pairs else None

    rows = []
    for n in levels:
        base = measured[(names[0], n)]
        base_sum = summarize_level(base["rows"], sum(base["walls"]))
        for name in names:
            m = measured[(name, n)]
            summ = summarize_level(m["rows"], sum(m["walls"]))
            one = measured[(name, 1)]["rows"]
            rows.append({
                "cell": name, "n": n, **{k: summ[k] for k in (
                    "aggregate_tokens_per_s", "median_tpot_ms", "mean_tpot_ms", "mean_ttft_s", "acceptance_rate",
                    "drafted", "accepted", "tokens", "wall_s", "requests")},
                "baseline_aggregate_tokens_per_s": base_sum["aggregate_tokens_per_s"],
                "speedup": None if name == names[0] else summ["aggregate_tokens_per_s"] / base_sum["aggregate_tokens_per_s"],
                "outputs_match_baseline": None if name == names[0] else
                same(m["rows"], base["rows"], lambda r: (r["run"], r["index"])),
                "outputs_match_single_stream": None if n == 1 else
                same(m["rows"], one, lambda r: (r["run"], r["prompt_id"])),
                "distinct_outputs_per_prompt": _distinct(m["rows"]),
                "wave_walls_s": m["walls"], "server_command": m["command"]})
    busy_after = busy_processes()

    f = lambda x, spec=".2f": "—" if x is None else format(x, spec)
    print(f"llama-server concurrency: target {args.target} ({backend.binary.version}), {args.task} prompts × "
          f"{len(prompts)}, {args.max_new_tokens} new tokens, greedy, -t {args.threads}, ngram-simple n={args.n} "
          f"K={args.k}, levels {levels}, {args.runs} run(s); baseline and draft waves alternated (side by side); "
          "one warm-up wave per server excluded; all figures measured")
    print(f"{'cell':<14} {'N':>3} {'agg tok/s':>9} {'speedup':>8} {'TPOT ms':>8} {'TTFT s':>7} {'accept':>7} "
          f"{'same out':>8} {'vs N=1':>7}")
    for r in rows:
        print(f"{r['cell']:<14} {r['n']:>3} {f(r['aggregate_tokens_per_s'], '.1f'):>9} "
              f"{(f(r['speedup']) + '×') if r['speedup'] is not None else '—':>8} {f(r['median_tpot_ms'], '.1f'):>8} "
              f"{f(r['mean_ttft_s'], '.3f'):>7} {f(r['acceptance_rate'], '.0%'):>7} "
              f"{f(r['outputs_match_baseline'], '.0%'):>8} {f(r['outputs_match_single_stream'], '.0%'):>7}")
    figures = {
        "target": args.target, "task": args.task, "prompts": [p.id for p in prompts], "levels": levels, "k": args.k,
        "ngram_n": args.n, "max_new_tokens": args.max_new_tokens, "runs": args.runs, "threads": args.threads,
        "ctx_size_per_slot": args.ctx_size, "llama_server": backend.describe(),
        "method": "per level both servers up; baseline and draft waves alternated (A B, B A, ...)",
        "definitions": {
            "aggregate_tokens_per_s": "all output tokens of the level / summed wall time of its waves (N "
                                      "simultaneous streamed requests released together; N=1: one at a time)",
            "speedup": "draft aggregate tok/s / baseline aggregate tok/s at the same N (same prompts, waves "
                       "alternated)",
            "tpot_ms": "(total - ttft) / (tokens - 1) per request (vLLM benchmark_serving)",
            "outputs_match_baseline": "greedy token ids equal to the baseline's at the same N (same run, same "
                                      "request index)",
            "outputs_match_single_stream": "token ids equal to the same server config's N=1 output for that prompt",
        },
        "levels_measured": rows,
        "machine_load": {"busy_processes_before": busy_before, "busy_processes_after": busy_after,
                         "note": "2 cores shared with other work during the run (see load averages and the busiest "
                                 "processes): absolute tok/s are depressed; the ratios are measured side by side"},
    }
    run.finish(figures)
    parts = []
    for n in levels:
        d = next(r for r in rows if r["n"] == n and r["cell"] != names[0])
        b = next(r for r in rows if r["n"] == n and r["cell"] == names[0])
        parts.append(f"N={n} {d['speedup']:.2f}× ({b['aggregate_tokens_per_s']:.1f} → {d['aggregate_tokens_per_s']:.1f} "
                     f"tok/s; same out {f(d['outputs_match_baseline'], '.0%')}"
                     + ("" if n == 1 else f"; baseline vs its N=1 {f(b['outputs_match_single_stream'], '.0%')}") + ")")
    print(f"HEADLINE: llama-server ngram-simple (n={args.n}, K={args.k}) on {args.target}, {args.task} prompts, "
          f"speedup vs plain decoding at the same concurrency (aggregate tok/s, side by side): " + "; ".join(parts))
    return 0


def _distinct(rows):
    """{prompt id: how many different greedy outputs (token-id digests) its requests produced}: more than 1 means
    requests identical but for their place in the batch came out different."""
    seen = {}
    for r in rows:
        seen.setdefault(r.get("prompt_id"), set()).add(r.get("output_sha1"))
    return {p: len(v) for p, v in seen.items()}


if __name__ == "__main__":
    sys.exit(main())
