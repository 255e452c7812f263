#!/usr/bin/env python3
"""Cost of teacher-forced measurement vs full speculative runs, for the same information: α (and speedup) at
every K = 1..--max-k.

  measure    ``draftfinder.measure.measure(target, drafters, max_k=K_max, verify=False, save=False)``: one target
             generation per prompt, teacher-forced scoring, target/draft timing, predictions for every K
  real runs  ``autoregressive_generate`` once per prompt (the baseline) + ``speculative_generate`` at every K
             = 1..K_max per prompt and drafter: the observed α (accepted/drafted) and speedup per K

Same target, prompts, budget, greedy, one process, model loaded (and warmed) before either phase. Ratio =
measure time ÷ real-runs time (goal ≤ 0.1). Also shows, for a few K, α from measure vs α observed, to show
the two phases yield the same figure (greedy replay is exact; prompt-level precision is the same: same prompts).

Usage: python bench/measure_cost.py [--target zoo:smollm2-135m] [--drafters ngram] [--task general]
       [--limit 3] [--max-new-tokens 48] [--max-k 16] [--timing-ks 1,2,4,8,12,16|all] [--timing-repeats N]
       [--threads 1] [--out FILE]
"""

from __future__ import annotations

import sys
import time

from _common import BenchRun, bench_parser


def main() -> int:
    ap = bench_parser(__doc__)
    ap.add_argument("--drafters", default="ngram")
    ap.add_argument("--task", default="general")
    ap.add_argument("--limit", type=int, default=3)
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--max-k", type=int, default=16)
    ap.add_argument("--timing-ks", default="1,2,4,8,12,16",
                    help="Ks whose verify pass measure() times (the rest modelled: interpolated / extrapolated); 'all' = 1..--max-k")
    ap.add_argument("--timing-repeats", type=int, default=None, help="measure()'s timing rounds (default: its own)")
    args = ap.parse_args()
    timing_ks = None if args.timing_ks == "all" else [int(x) for x in args.timing_ks.split(",") if x.strip()]
    timing_kw = {} if args.timing_repeats is None else {"timing_repeats": args.timing_repeats}

    run = BenchRun(args)
    from draftfinder.engine.base import SamplingConfig
    from draftfinder.engine.drafters import make_drafter
    from draftfinder.engine.loading import load_model
    from draftfinder.engine.speculative import autoregressive_generate, speculative_generate
    from draftfinder.measure import measure
    from draftfinder.measure.prompts import encode_prompt, load_prompts

    drafters = [s.strip() for s in args.drafters.split(",") if s.strip()]
    greedy = SamplingConfig(processor="greedy")
    target = load_model(args.target)                      # cached per process: measure() reuses it
    plist = load_prompts(args.task, limit=args.limit)
    ids = [encode_prompt(target.tokenizer, p) for p in plist]
    # warm-up, untimed
    autoregressive_generate(target, ids[0], max_new_tokens=8, sampling=greedy)
    for spec in drafters:
        speculative_generate(target, make_drafter(spec, target), ids[0], max_new_tokens=8, sampling=greedy, k=4)

    t0 = time.perf_counter()
    ms = measure(args.target, drafters, prompts=plist, limit=args.limit, max_new_tokens=args.max_new_tokens,
                 max_k=args.max_k, verify=False, save=False, timing_ks=timing_ks, **timing_kw)
    t_measure = time.perf_counter() - t0

    t0 = time.perf_counter()
    base_s = 0.0
    for x in ids:
        r = autoregressive_generate(target, x, max_new_tokens=args.max_new_tokens, sampling=greedy)
        base_s += r.stats.total_s - r.stats.prefill_s
    real = {}
    for spec in drafters:
        drafter = make_drafter(spec, target)
        per_k = {}
        for k in range(1, args.max_k + 1):
            acc = dr = 0
            dec = 0.0
            for x in ids:
                r = speculative_generate(target, drafter, x, max_new_tokens=args.max_new_tokens, sampling=greedy, k=k)
                acc += r.stats.accepted
                dr += r.stats.drafted
                dec += r.stats.total_s - r.stats.prefill_s
            per_k[k] = {"alpha": acc / dr if dr else None, "speedup": base_s / dec if dec else None}
        real[spec] = per_k
    t_real = time.perf_counter() - t0

    ratio = t_measure / t_real
    print(f"measurement cost: target {args.target}, drafters {', '.join(drafters)}, task {args.task}, "
          f"{len(ids)} prompts, max_new_tokens={args.max_new_tokens}, K = 1..{args.max_k}, greedy; measure times "
          f"verify passes for K in {args.timing_ks} (others modelled, labelled)")
    print(f"{'phase':<44} {'seconds':>8}")
    print(f"{'measure (teacher-forced, all K)':<44} {t_measure:>8.1f}")
    print(f"{'real runs (baseline + every K, every prompt)':<44} {t_real:>8.1f}")
    print(f"{'ratio measure / real':<44} {ratio:>8.3f}")
    show = [k for k in (1, 2, 4, 8, 12, 16) if k <= args.max_k]
    fmt = lambda v: f"{v:.2f}" if isinstance(v, (int, float)) else "—"
    for m in ms:
        spec = next((s for s in drafters if s == m.draft_id or s in str(m.draft_id)), None) or drafters[ms.index(m)]
        print(f"{spec}: {'K':>3} {'α measure':>9} {'α real':>7} {'pred ×':>7} {'real ×':>7}")
        for k in show:
            kr = m.by_k.get(k)
            rk = real[spec][k]
            pred = (kr.speedup_simulated if kr and kr.speedup_simulated is not None else (kr.speedup_iid if kr else None))
            print(f"{'':<{len(spec) + 2}}{k:>3} {fmt(kr.accepted_per_drafted if kr else None):>9} "
                  f"{fmt(rk['alpha']):>7} {fmt(pred):>7} {fmt(rk['speedup']):>7}")
    figures = {"target": args.target, "drafters": drafters, "task": args.task, "prompts": len(ids),
               "max_new_tokens": args.max_new_tokens, "max_k": args.max_k, "timing_ks": timing_ks, "measure_s": t_measure,
               "real_runs_s": t_real, "ratio": ratio, "real": real,
               "measure_by_k": {m.draft_id: {k: {"accepted_per_drafted": kr.accepted_per_drafted,
                                                 "speedup_simulated": kr.speedup_simulated,
                                                 "speedup_iid": kr.speedup_iid} for k, kr in m.by_k.items()}
                                for m in ms},
               "measure_timings_s": [m.timings_s for m in ms], "goal_ratio": 0.1,
               "target_cost": ms[0].target_cost if ms else None}
    run.finish(figures)
    print(f"HEADLINE: measure covers K=1..{args.max_k} in {t_measure:.1f} s vs {t_real:.1f} s of real runs: "
          f"ratio {ratio:.3f} ({'meets' if ratio <= 0.1 else 'MISSES'} the ≤ 0.1 goal)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
