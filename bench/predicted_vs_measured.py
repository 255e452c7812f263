#!/usr/bin/env python3
"""Measured speedup ÷ predicted speedup, per drafter (goal ≥ 0.9).

For each drafter, ``draftfinder.measure.measure(target, [drafter], verify=True, save=False)``: teacher-forced α,
measured c (draft cost) and v(K) (verify cost) → predicted speedup at the recommended K (the measurement's own
method: greedy replay for greedy), and the i.i.d. formula (Leviathan et al. Thm 3.8, measured α, c, v(K)) at
that K; then the engine verification: ``speculative_generate`` vs ``autoregressive_generate`` side by side on
the same prompts, interleaved, one warm-up dropped, decode time (prefill excluded). Ratio = measured ÷
predicted. Pairs: target with n-gram drafting and layer-skip self-drafts (no same-tokenizer pretrained pair
offline).

Usage: python bench/predicted_vs_measured.py [--target zoo:smollm2-135m] [--drafters ngram,layerskip:20]
       [--task general] [--limit 3] [--max-new-tokens 48] [--threads 1] [--json out.json]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from _common import bench_parser, command_line, load_average, machine_line, start, versions


def main() -> int:
    ap = bench_parser(__doc__)
    ap.add_argument("--drafters", default="ngram,layerskip:20")
    ap.add_argument("--task", default="general")
    ap.add_argument("--limit", type=int, default=3)
    ap.add_argument("--max-new-tokens", type=int, default=48)
    args = ap.parse_args()

    load_before = start(args)
    from draftfinder.measure import measure

    rows = []
    for spec in [s.strip() for s in args.drafters.split(",") if s.strip()]:
        t0 = time.perf_counter()
        m = measure(args.target, [spec], task=args.task, limit=args.limit, max_new_tokens=args.max_new_tokens,
                    verify=True, save=False)[0]
        wall = time.perf_counter() - t0
        v = m.verification
        k = m.recommended_k
        kr = m.by_k.get(k) if k is not None else None
        c = m.draft_cost.cost_ratio if m.draft_cost is not None else None
        row = {"drafter": spec, "alpha": m.acceptance.alpha, "c": c, "k": k,
               "predicted": m.predicted_speedup, "method": m.prediction_method,
               "predicted_iid": kr.speedup_iid if kr else None,
               "measured": v.measured_speedup if v else None, "identical": v.outputs_identical if v else None,
               "measured_total": v.total_speedup if v else None, "wall_s": wall, "warnings": m.warnings}
        row["ratio"] = row["measured"] / row["predicted"] if row["measured"] and row["predicted"] else None
        row["ratio_iid"] = row["measured"] / row["predicted_iid"] if row["measured"] and row["predicted_iid"] else None
        rows.append(row)
    load_after = load_average()

    f = lambda x, w=6, p=2: f"{x:>{w}.{p}f}" if isinstance(x, (int, float)) else f"{'—':>{w}}"
    print(f"predicted vs measured speedup: target {args.target}, task {args.task}, {args.limit} prompts, "
          f"max_new_tokens={args.max_new_tokens}, greedy; K = measure's recommended K")
    print(machine_line(load_before, load_after))
    print(f"command: {command_line()}")
    print(f"{'drafter':<14} {'α':>6} {'c':>6} {'K':>3} {'pred':>6} {'pred iid':>8} {'measured':>8} "
          f"{'meas/pred':>9} {'meas/iid':>8} {'identical':>9}")
    for r in rows:
        print(f"{r['drafter']:<14} {f(r['alpha'])} {f(r['c'], 6, 3)} {r['k'] if r['k'] is not None else '—':>3} "
              f"{f(r['predicted'])} {f(r['predicted_iid'], 8)} {f(r['measured'], 8)} {f(r['ratio'], 9)} "
              f"{f(r['ratio_iid'], 8)} {str(r['identical']):>9}")
    for r in rows:
        print(f"  {r['drafter']}: prediction method: {r['method']}")
        for w in r["warnings"]:
            print(f"  {r['drafter']} warning: {w}")
    figures = {"target": args.target, "task": args.task, "limit": args.limit, "max_new_tokens": args.max_new_tokens,
               "rows": rows, "goal_ratio": 0.9, "command": command_line(), "load_before": load_before,
               "load_after": load_after, "versions": versions()}
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2, default=str) + "\n")
    parts = [f"{r['drafter']} {r['ratio']:.2f} ({'meets' if r['ratio'] >= 0.9 else 'MISSES'})" if r["ratio"]
             else f"{r['drafter']} n/a" for r in rows]
    print(f"HEADLINE: measured ÷ predicted speedup on {args.target}: {'; '.join(parts)} the ≥ 0.9 goal")
    return 0


if __name__ == "__main__":
    sys.exit(main())
