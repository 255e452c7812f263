#!/usr/bin/env python3
"""Measured speedup ÷ predicted speedup per drafter, out of sample (goal ≥ 0.9), with the in-sample check beside it.

The task's prompts are split in two disjoint sets: the first ``--limit`` (set A, the *fit* set) and the next
``--limit`` (set B, the *check* set).

  prediction  ``draftfinder.measure.measure(target, [drafter], prompts=A, verify=True, save=False)``: teacher-forced
              α, measured c (draft cost) and v(K) (verify cost) → the recommended K and the speedup predicted there
              (greedy replay on A), and the i.i.d. formula (Leviathan et al. Thm 3.8, measured α, c, v(K))
  in-sample   measure's own ``--verify`` on A: the engine's ``speculative_generate`` vs ``autoregressive_generate``
              on the *same* prompts the prediction replayed (the replay is exact there, so this checks the cost
              model only) — labelled in-sample
  out-of-sample  the same engine run at the same K on set B (prompts the prediction never saw), side by side
              through ``draftfinder.measure.sidebyside.side_by_side``: decode time, warm-up dropped, ``--repeats``
              rounds, median

Ratio = measured ÷ predicted. Pairs: target with n-gram drafting and layer-skip self-drafts (no same-tokenizer
pretrained pair offline).

Usage: python bench/predicted_vs_measured.py [--target zoo:smollm2-135m] [--drafters ngram,layerskip:20]
       [--task general] [--limit 3] [--max-new-tokens 48] [--repeats 1] [--threads 1] [--out FILE]
"""

from __future__ import annotations

import sys
import time

from _common import BenchRun, bench_parser


def main() -> int:
    ap = bench_parser(__doc__)
    ap.add_argument("--drafters", default="ngram,layerskip:20")
    ap.add_argument("--task", default="general")
    ap.add_argument("--limit", type=int, default=3, help="prompts in each of the two sets (A: fit, B: check)")
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--repeats", type=int, default=1, help="rounds of the out-of-sample side-by-side run")
    args = ap.parse_args()

    run = BenchRun(args)
    from draftfinder.engine.base import SamplingConfig
    from draftfinder.engine.drafters import make_drafter
    from draftfinder.engine.loading import load_model
    from draftfinder.engine.speculative import autoregressive_generate, speculative_generate
    from draftfinder.measure import measure
    from draftfinder.measure.prompts import encode_prompt, load_prompts
    from draftfinder.measure.sidebyside import side_by_side

    everything = load_prompts(args.task, limit=2 * args.limit)
    if len(everything) < 2 * args.limit:
        ap.error(f"task {args.task} has {len(everything)} prompts: --limit {args.limit} needs {2 * args.limit}")
    fit_set, check_set = everything[: args.limit], everything[args.limit:]
    target = load_model(args.target)
    greedy = SamplingConfig()
    check_ids = [(p.id, encode_prompt(target.tokenizer, p)) for p in check_set]

    rows = []
    for spec in [s.strip() for s in args.drafters.split(",") if s.strip()]:
        t0 = time.perf_counter()
        m = measure(args.target, [spec], prompts=fit_set, max_new_tokens=args.max_new_tokens, verify=True,
                    save=False)[0]
        k = m.recommended_k
        kr = m.by_k.get(k) if k is not None else None
        v = m.verification
        out = None
        if k is not None:
            drafter = make_drafter(spec, target)
            out = side_by_side(
                check_ids, lambda ids, n: autoregressive_generate(target, ids, max_new_tokens=n, sampling=greedy),
                lambda ids, n: speculative_generate(target, drafter, ids, max_new_tokens=n, sampling=greedy, k=k),
                max_new_tokens=args.max_new_tokens, repeats=args.repeats, labels=("target only", f"{spec} K={k}"))
        row = {"drafter": spec, "alpha": m.acceptance.alpha, "c": m.cost_ratio, "k": k,
               "verify_cost": kr.verify_cost if kr else None, "verify_cost_source": kr.verify_cost_source if kr else None,
               "predicted": m.predicted_speedup, "method": m.prediction_method,
               "predicted_iid": kr.speedup_iid if kr else None,
               "in_sample": {"prompts": [p.id for p in fit_set], "measured": v.measured_speedup if v else None,
                             "identical": v.outputs_identical if v else None},
               "out_of_sample": {"prompts": [p.id for p in check_set],
                                 "measured": out.decode_speedup if out else None,
                                 "identical": out.outputs_identical if out else None,
                                 "tokens_per_step": out.tokens_per_step if out else None,
                                 "side_by_side": out.to_dict() if out else None},
               "replay_tokens_per_step_fit_set": kr.tokens_per_step_simulated if kr else None,
               "wall_s": time.perf_counter() - t0, "warnings": m.warnings}
        for key in ("in_sample", "out_of_sample"):
            meas = row[key]["measured"]
            row[key]["ratio"] = meas / row["predicted"] if meas and row["predicted"] else None
            row[key]["ratio_iid"] = meas / row["predicted_iid"] if meas and row["predicted_iid"] else None
        rows.append(row)

    f = lambda x, w=6, p=2: f"{x:>{w}.{p}f}" if isinstance(x, (int, float)) else f"{'—':>{w}}"
    print(f"predicted vs measured speedup: target {args.target}, task {args.task}; prediction from prompts "
          f"{fit_set[0].id}…{fit_set[-1].id} (A), checked in sample on A and out of sample on "
          f"{check_set[0].id}…{check_set[-1].id} (B); max_new_tokens={args.max_new_tokens}, greedy, K = measure's K")
    print(f"{'drafter':<14} {'α':>6} {'c':>6} {'K':>3} {'pred':>6} {'iid':>6} {'in A':>6} {'A/pred':>7} "
          f"{'out B':>6} {'B/pred':>7} {'B/iid':>6} {'same out':>8}")
    for r in rows:
        i, o = r["in_sample"], r["out_of_sample"]
        print(f"{r['drafter']:<14} {f(r['alpha'])} {f(r['c'], 6, 3)} {r['k'] if r['k'] is not None else '—':>3} "
              f"{f(r['predicted'])} {f(r['predicted_iid'])} {f(i['measured'])} {f(i['ratio'], 7)} "
              f"{f(o['measured'])} {f(o['ratio'], 7)} {f(o['ratio_iid'])} {str(o['identical']):>8}")
    for r in rows:
        print(f"  {r['drafter']}: prediction method: {r['method']}; v(K={r['k']}) {r['verify_cost_source']}")
        for w in r["warnings"]:
            print(f"  {r['drafter']} warning: {w}")
    figures = {"target": args.target, "task": args.task, "limit": args.limit, "max_new_tokens": args.max_new_tokens,
               "repeats": args.repeats, "fit_prompts": [p.id for p in fit_set],
               "check_prompts": [p.id for p in check_set], "rows": rows, "goal_ratio": 0.9,
               "in_sample_note": "measured on the prompts the prediction replayed: checks the cost model only"}
    run.finish(figures)
    parts = [f"{r['drafter']} {r['out_of_sample']['ratio']:.2f} "
             f"({'meets' if r['out_of_sample']['ratio'] >= 0.9 else 'MISSES'}; in-sample "
             f"{r['in_sample']['ratio']:.2f})" if r["out_of_sample"]["ratio"] and r["in_sample"]["ratio"]
             else f"{r['drafter']} n/a" for r in rows]
    print(f"HEADLINE: out-of-sample measured ÷ predicted speedup on {args.target}: {'; '.join(parts)} "
          f"the ≥ 0.9 goal")
    return 0


if __name__ == "__main__":
    sys.exit(main())
