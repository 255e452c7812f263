#!/usr/bin/env python3
"""Our speculative engine vs transformers' assisted generation, same model, prompts, K, greedy decoding.

Pairs (same target model, side by side in one process through ``draftfinder.measure.sidebyside.side_by_side``,
interleaved per prompt, wall time of each call including prefill, one untimed warm-up of each, ``--repeats``
rounds, medians):

  plain      ours ``autoregressive_generate``                 vs ``model.generate()`` (control)
  ngram      ours ``speculative_generate(make_drafter(ngram))`` vs ``model.generate(prompt_lookup_num_tokens=K)``
  layerskip  ours ``speculative_generate(layerskip:N)``        vs ``model.generate(assistant_early_exit=N,
             num_assistant_tokens=K, num_assistant_tokens_schedule="constant")``

  ngram+adaptive+pad  ours with K starting at --k, +2/−1 per step (HeuristicK) and drafts padded to the cheapest
             verify pass (engine/passcost.py) vs the same HF prompt lookup call: each tool's best n-gram mode

Ratio = ours tokens/s ÷ HF tokens/s (goals, issue 13: plain ≥ 1.5, n-gram ≥ 1.25). Greedy outputs are checked
token for token (ours vs HF). Our side runs the decode path ``--decode-path`` (engine/fastpath.py: ``compiled``,
the default; ``eager-static``; ``transformers`` = transformers' forward and DynamicCache, the pre-issue-13 engine);
the path that really ran, torch.compile's warm-up time (inside the untimed warm-up) and the 1-minute load before
and after each pair are recorded. ``--profile`` (default on) adds a table of where one decode step's time goes
(torch.profiler, self CPU time per op group, ms per step) for transformers' forward and for ours.
Note HF prompt lookup matches n-grams of size ≤ 2 (its default ``max_matching_ngram_size``) while ours
``ngram`` is order 3: same K, different matching rule.

Usage: python bench/engine_vs_hf.py [--target zoo:smollm2-135m] [--task general|summarization|code|chat|code-editing]
       [--limit 3] [--k 4] [--ngram ngram:onelevel:3]
       [--layers 20] [--max-new-tokens 64] [--repeats 2] [--threads 1] [--decode-path compiled]
       [--pairs plain,ngram] [--no-profile] [--device cpu|cuda|…] [--dtype auto|…] [--out FILE]

On a GPU (``--device cuda``) inputs go to the model's device and every timed call synchronises it
(``engine.device.timer``); ``--dtype auto`` is bf16 there (fp32 on the CPU).
"""

from __future__ import annotations

import sys
import time
import traceback

from _common import BenchRun, bench_parser, bench_place, median


def hf_generate(target, ids, max_new, extra):
    """transformers' ``generate`` as a side-by-side Run: wall time of the call (prefill not reported: None)."""
    import torch

    from draftfinder.measure.sidebyside import Run

    from draftfinder.engine.device import timer

    model = target.model
    eos = target.eos_token_ids
    inp = torch.tensor([ids], dtype=torch.long, device=target.device)
    clock = timer(target.device)
    t0 = clock()
    with torch.inference_mode():
        out = model.generate(input_ids=inp, attention_mask=torch.ones_like(inp), max_new_tokens=max_new,
                             do_sample=False, eos_token_id=eos or None, pad_token_id=(eos[0] if eos else None),
                             **extra)
    dt = clock() - t0
    return Run(out[0, len(ids):].tolist(), dt, None)


def timed(fn, seen=None, clock=time.perf_counter):
    """Our engine as a side-by-side Run timed like HF's call (wall time around the call, prefill included);
    the decode paths that ran are added to ``seen``; ``clock``: ``engine.device.timer`` of the model's device."""
    from draftfinder.measure.sidebyside import Run

    def run(ids, m):
        t0 = clock()
        result = fn(ids, m)
        elapsed = clock() - t0
        if seen is not None:
            seen.add(result.stats.decode_path or "transformers")
        return Run(list(result.token_ids), elapsed, None, result.stats)
    return run


GOALS = {"plain": 1.5, "ngram": 1.25}       # issue 13: ours/HF tokens/s, same dtype and threads


def goal_of(name: str) -> float:
    return GOALS["plain"] if name == "plain" else GOALS["ngram"]


PROFILE_GROUPS = (("matmul (weights)", ("aten::mm", "aten::addmm", "aten::bmm", "aten::mv")),
                  ("attention", ("scaled_dot_product", "flash_attention")),
                  ("KV cache cat", ("aten::cat",)),
                  ("KV cache write", ("index_copy", "index_put")),
                  ("compiled fused kernels", ("CompiledFxGraph",)))


def profile_decode(target, ids, path, steps=8):
    """Where one decode step's time goes on ``path``: self CPU ms per step per op group (torch.profiler), wall
    ms per step, after a prefill of ``ids`` and 3 untimed steps (compilation included there)."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    from draftfinder.engine import fastpath
    from draftfinder.engine.speculative import model_forward, prefill

    model = target.model
    with torch.inference_mode():
        cache = fastpath.new_cache(model, path=path, capacity=len(ids) + steps + 8)
        prefill(model, cache, ids[:-1], rollback=False)
        last = ids[-1]
        for _ in range(3):
            last = int(model_forward(model, cache, [last])[-1].argmax())
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            t0 = time.perf_counter()
            for _ in range(steps):
                last = int(model_forward(model, cache, [last])[-1].argmax())
            wall = (time.perf_counter() - t0) / steps * 1000
    groups = {name: 0.0 for name, _ in PROFILE_GROUPS}
    other, total = 0.0, 0.0
    for ev in prof.key_averages():
        ms = ev.self_cpu_time_total / 1000 / steps
        total += ms
        for name, keys in PROFILE_GROUPS:
            if any(k in ev.key for k in keys):
                groups[name] += ms
                break
        else:
            other += ms
    groups["other ops + Python"] = other
    return {"path": fastpath.cache_path(cache), "wall_ms_per_step": round(wall, 2),
            "profiled_self_cpu_ms_per_step": round(total, 2),
            "self_cpu_ms_per_step": {k: round(v, 2) for k, v in groups.items()}, "context_tokens": len(ids)}


def main() -> int:
    ap = bench_parser(__doc__)
    ap.add_argument("--task", default="general")
    ap.add_argument("--limit", type=int, default=3)
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--ngram", default="ngram", help="our n-gram drafter spec (ngram, ngram:onelevel:3, ...)")
    ap.add_argument("--pairs", default=None,
                    help="comma list of pairs to run: plain, ngram (both n-gram rows), layerskip (default: all)")
    ap.add_argument("--layers", type=int, default=20, help="N of layerskip:N / assistant_early_exit=N")
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--decode-path", default="compiled", choices=["compiled", "eager-static", "transformers"],
                    help="our engine's target forward (engine/fastpath.py; sets DRAFTFINDER_NO_COMPILE / _NO_FAST)")
    ap.add_argument("--no-profile", action="store_true", help="skip the per-step profile table")
    args = ap.parse_args()
    import os

    os.environ.pop("DRAFTFINDER_NO_FAST", None)
    os.environ.pop("DRAFTFINDER_NO_COMPILE", None)
    if args.decode_path == "transformers":
        os.environ["DRAFTFINDER_NO_FAST"] = "1"
    elif args.decode_path == "eager-static":
        os.environ["DRAFTFINDER_NO_COMPILE"] = "1"

    run = BenchRun(args)
    place = bench_place(args)
    from draftfinder.engine.base import SamplingConfig
    from draftfinder.engine.device import load_kwargs, timer
    from draftfinder.engine.drafters import make_drafter
    from draftfinder.engine.loading import load_model
    from draftfinder.engine.speculative import autoregressive_generate, speculative_generate
    from draftfinder.measure.prompts import encode_prompt, load_prompts

    target = load_model(args.target, **load_kwargs(place))
    greedy = SamplingConfig(processor="greedy")
    if args.task == "code-editing":                     # the rewrite prompts of bench/ngram_speedup.py
        from ngram_speedup import CODE_EDIT_PROMPTS, chat_ids

        prompts = [(pid, chat_ids(target.tokenizer, text)) for pid, text in CODE_EDIT_PROMPTS[: args.limit]]
    else:
        prompts = [(p.id, encode_prompt(target.tokenizer, p)) for p in load_prompts(args.task, limit=args.limit)]
    K, N, M = args.k, args.layers, args.max_new_tokens
    ngram = make_drafter(args.ngram, target)
    lskip = make_drafter(f"layerskip:{N}", target)

    pairs = {
        "plain": (lambda ids, m: autoregressive_generate(target, ids, max_new_tokens=m, sampling=greedy),
                  {}),
        args.ngram: (lambda ids, m: speculative_generate(target, ngram, ids, max_new_tokens=m, sampling=greedy, k=K),
                  {"prompt_lookup_num_tokens": K}),
        f"layerskip:{N}": (lambda ids, m: speculative_generate(target, lskip, ids, max_new_tokens=m,
                                                                 sampling=greedy, k=K),
                           {"assistant_early_exit": N, "num_assistant_tokens": K,
                            "num_assistant_tokens_schedule": "constant"}),
    }
    from draftfinder.engine.adaptive import HeuristicK
    from draftfinder.engine.passcost import calibrate

    costs = calibrate(target, prompts[0][1])                 # untimed: pass-size costs for padding
    ngram_best = make_drafter(args.ngram, target)
    pairs[args.ngram + "+adaptive+pad"] = (
        lambda ids, m: speculative_generate(target, ngram_best, ids, max_new_tokens=m, sampling=greedy, k=K,
                                            adaptive=HeuristicK(), pass_costs=costs),
        {"prompt_lookup_num_tokens": K})
    wanted = [p.strip() for p in args.pairs.split(",")] if args.pairs else None
    pairs = {n: v for n, v in pairs.items() if wanted is None or n.split(":")[0] in wanted or n in wanted}
    from draftfinder.measure.sidebyside import side_by_side

    from draftfinder.engine import fastpath

    results = {}
    for name, (ours_fn, hf_extra) in pairs.items():
        rec = {"hf_kwargs": hf_extra, "hf_error": None, "load_average_before": list(os.getloadavg())}
        seen = set()
        compile_before = sum(d.compile_s for d in fastpath._DECODERS.values())
        try:      # baseline = HF, candidate = ours; ratio = ours tokens/s ÷ HF tokens/s (wall time, prefill incl.)
            res = side_by_side(prompts, lambda ids, m, x=hf_extra: hf_generate(target, ids, m, x),
                               timed(ours_fn, seen, timer(target.device)),
                               max_new_tokens=M, repeats=args.repeats, warmup_tokens=8, labels=("HF", "ours"))
        except Exception as exc:
            rec["hf_error"] = f"{type(exc).__name__}: {exc}"
            traceback.print_exc(limit=2)
            results[name] = rec
            continue
        rec.update({"ours_tok_s": [r.candidate_tokens_per_s for r in res.rounds],
                    "hf_tok_s": [r.baseline_tokens_per_s for r in res.rounds],
                    "ratio": [r.throughput_ratio for r in res.rounds], "identical": res.outputs_identical,
                    "mismatch_prompts": res.mismatch_prompt_ids, "tokens": res.candidate_tokens,
                    "side_by_side": res.to_dict(), "load_average_after": list(os.getloadavg()),
                    "decode_path": sorted(seen),
                    "compile_warmup_s": round(sum(d.compile_s for d in fastpath._DECODERS.values())
                                              - compile_before, 1),
                    "compile_errors": sorted({d.compile_error for d in fastpath._DECODERS.values()
                                              if d.compile_error})})
        results[name] = rec

    print(f"engine vs HF assisted generation: target {args.target}, task {args.task} ({len(prompts)} prompts), "
          f"K={K}, greedy, max_new_tokens={M}, {args.repeats} rounds (warm-up excluded), medians, wall time incl. prefill")
    print(f"{'pair':<14} {'HF call':<88} {'ours tok/s':>10} {'HF tok/s':>9} {'ours/HF':>8} {'identical':>9}")
    for name, rec in results.items():
        call = ", ".join(f"{k}={v}" for k, v in rec["hf_kwargs"].items()) or "generate()"
        if rec["hf_error"]:
            print(f"{name:<14} {call:<88} {'—':>10} {'—':>9} {'—':>8} {'—':>9}  HF error: {rec['hf_error'][:80]}")
            continue
        print(f"{name:<14} {call:<88} {median(rec['ours_tok_s']):>10.1f} {median(rec['hf_tok_s']):>9.1f} "
              f"{median(rec['ratio']):>8.2f} {str(rec['identical']):>9}")
    profile = None
    if not args.no_profile:           # after the timed pairs: where a decode step's time goes, both forwards
        profile = {p: profile_decode(target, prompts[0][1], p) for p in ("transformers", args.decode_path)}
        print(f"\nprofile of one decode step after {len(prompts[0][1])} prompt tokens (self CPU ms per step, "
              f"torch.profiler, 8 steps):")
        groups = list(next(iter(profile.values()))["self_cpu_ms_per_step"])
        print(f"{'':<26}" + "".join(f"{p:>16}" for p in profile))
        for g in groups:
            print(f"{g:<26}" + "".join(f"{v['self_cpu_ms_per_step'][g]:>16.2f}" for v in profile.values()))
        print(f"{'wall ms per step':<26}" + "".join(f"{v['wall_ms_per_step']:>16.2f}" for v in profile.values()))
    parts, verdicts = [], []
    for name, rec in results.items():
        if rec["hf_error"]:
            parts.append(f"{name} n/a (HF failed)")
            verdicts.append(False)
            continue
        r, goal = median(rec["ratio"]), goal_of(name)
        ok = r >= goal and rec["identical"]
        verdicts.append(ok)
        parts.append(f"{name} {r:.2f}× (goal ≥ {goal}, {'met' if ok else 'NOT met'}"
                     f"{'' if rec['identical'] else ', outputs differ'})")
    headline = (f"HEADLINE: {'met' if verdicts and all(verdicts) else 'NOT met'}: ours/HF tokens/s on {args.target}, "
                f"{args.task}, K={K}, greedy, decode path {args.decode_path}: {'; '.join(parts)}; load "
                f"{run.load_before[0] if run.load_before else '?'} → {os.getloadavg()[0]:.2f} (1-min, 2 cores)")
    figures = {"target": args.target, "device": place.device, "dtype": place.dtype, "task": args.task,
               "prompts": len(prompts), "k": K, "layers": N, "max_new_tokens": M, "repeats": args.repeats, "decode_path_requested": args.decode_path,
               "pairs": results, "goals": GOALS, "profile": profile, "headline": headline,
               "compile_s_total": round(sum(d.compile_s for d in fastpath._DECODERS.values()), 1)}   # untimed
    run.finish(figures)
    print(headline)
    return 0


if __name__ == "__main__":
    sys.exit(main())
