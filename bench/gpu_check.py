#!/usr/bin/env python3
"""GPU check: the engine on a CUDA device is lossless (greedy), samples from the target's distribution, and is
benchmarked against transformers there. Run by ``bench/gpu_check.sh`` (its header says how to set up).

  1. greedy     for each target (default: the zoo models) and drafter (ngram, layerskip:L/2, the target as its own
                draft model): speculative_generate == autoregressive_generate, token for token, on --prompts
                prompts, in fp32 (strict: any difference fails the check); our plain greedy == transformers'
                ``generate`` greedy (fp32, strict); then the same speculative-vs-plain comparison in the device's
                auto dtype (bf16 / fp16), reported, not failed: in reduced precision a verify pass of K+1 tokens and
                a 1-token pass round differently, and a near-tie argmax may flip — the first differing position
                is recorded.
  2. sampling   the target's exact distribution of the first two new tokens under top-k sampling (k=6, T=1,
                from batched forwards) against speculative_generate with a layer-skip drafter of L−4 layers
                (SmolLM2: layerskip:26, ≈ 0.4 of its drafts accepted on the CPU; k=2 and 3 new tokens, so both
                tokens come from one draft → verify step; acceptances and rejections both happen) over
                --sampling-runs seeds:
                Pearson chi-square of the first token and of the joint of the first two, p > 1e-3 each
                (the logic of tests/engine/test_speculative.py's distribution test, on the zoo model).
  3. benchmark  bench/engine_vs_hf.py --device DEV --dtype auto (our engine vs transformers, side by side).

Writes bench/results/gpu_check_<gpu>.json (``--out``). Exit 0 when the strict checks pass, 1 when one fails,
2 when the device is absent (one line naming what torch found).

Usage: python bench/gpu_check.py [--device cuda] [--targets zoo:smollm2-135m,zoo:gemma3-270m] [--prompts 3]
       [--max-new-tokens 48] [--k 4] [--sampling-runs 400] [--skip-bench] [--bench-args ARGS] [--out FILE]
(``--device cpu`` runs the same checks on the CPU: that is how this script was exercised on a machine without
a GPU; the JSON then says device cpu.)
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Any, Dict, List

from _common import REPO, RESULTS, BenchRun, bench_parser, command_line

TOP_K = 6                   # the sampling check's top-k: 6 first tokens, 36 joint cells (pooled below 5 expected)
P_MIN = 1e-3                # as tests/enginekit.P_MIN


def gpu_slug(place: Any) -> str:
    gpus = place.accelerators.gpus if place.accelerators is not None else ()
    if place.device == "cpu" or not gpus:
        return place.device.replace(":", "")
    name = re.sub(r"[^a-z0-9]+", "-", gpus[0].name.lower()).strip("-")
    return name + (f"-x{len(gpus)}" if len(gpus) > 1 else "")


def greedy_check(target_name: str, place: Any, dtype: str, prompts: List[Any], args: Any) -> Dict[str, Any]:
    """Speculative vs plain greedy per drafter (and plain vs transformers when ``dtype`` is fp32)."""
    import torch

    from draftfinder.engine.base import SamplingConfig
    from draftfinder.engine.drafters import make_drafter
    from draftfinder.engine.loading import load_model
    from draftfinder.engine.speculative import autoregressive_generate, speculative_generate
    from draftfinder.measure.prompts import encode_prompt

    target = load_model(target_name, dtype=dtype, device=place.device, requested_device=place.requested_device)
    greedy = SamplingConfig(processor="greedy")
    ids = [(p.id, encode_prompt(target.tokenizer, p)) for p in prompts]
    layers = int(target.model.config.get_text_config().num_hidden_layers)
    specs = ["ngram", f"layerskip:{layers // 2}", target_name]
    plain = {pid: autoregressive_generate(target, x, max_new_tokens=args.max_new_tokens, sampling=greedy).token_ids
             for pid, x in ids}
    out: Dict[str, Any] = {"target": target_name, "dtype": dtype, "device": str(target.device),
                           "placement": target.placement.to_dict() if target.placement else None, "drafters": {}}
    for spec in specs:
        extra = {"dtype": dtype, "device": str(target.device)} if spec == target_name else {}
        drafter = make_drafter(spec, target, **extra)
        rows = []
        for pid, x in ids:
            r = speculative_generate(target, drafter, x, max_new_tokens=args.max_new_tokens, sampling=greedy, k=args.k)
            first = next((i for i, (a, b) in enumerate(zip(r.token_ids, plain[pid])) if a != b),
                         None if len(r.token_ids) == len(plain[pid]) else min(len(r.token_ids), len(plain[pid])))
            rows.append({"prompt": pid, "identical": first is None, "first_difference": first,
                         "tokens": len(r.token_ids), "drafted": r.stats.drafted, "accepted": r.stats.accepted})
        out["drafters"][spec] = {"identical": all(r["identical"] for r in rows), "prompts": rows}
        print(f"  greedy {target_name} {dtype} {spec:<24} identical on {sum(r['identical'] for r in rows)}/{len(rows)}")
    if dtype == "fp32":                                  # our plain decoding vs transformers' generate, greedy
        rows = []
        for pid, x in ids:
            inp = torch.tensor([x], dtype=torch.long, device=target.device)
            eos = target.eos_token_ids
            with torch.inference_mode():
                hf = target.model.generate(input_ids=inp, attention_mask=torch.ones_like(inp), do_sample=False,
                                           max_new_tokens=args.max_new_tokens, eos_token_id=eos or None,
                                           pad_token_id=(eos[0] if eos else None))[0, len(x):].tolist()
            rows.append({"prompt": pid, "identical": hf == list(plain[pid])})
        out["plain_vs_transformers"] = {"identical": all(r["identical"] for r in rows), "prompts": rows}
        print(f"  greedy {target_name} {dtype} plain vs transformers  identical on "
              f"{sum(r['identical'] for r in rows)}/{len(rows)}")
    return out


def sampling_check(target_name: str, place: Any, prompt: Any, runs: int) -> Dict[str, Any]:
    """Chi-square of speculative sampling (layer-skip drafter) against the exact top-k distribution."""
    import torch

    from draftfinder.engine.base import SamplingConfig
    from draftfinder.engine.drafters import make_drafter
    from draftfinder.engine.loading import load_model
    from draftfinder.engine.sampling import logits_to_probs
    from draftfinder.engine.speculative import speculative_generate
    from draftfinder.measure.prompts import encode_prompt

    from tests.enginekit import chi_square_p, pooled

    target = load_model(target_name, dtype="fp32", device=place.device, requested_device=place.requested_device)
    cfg = SamplingConfig("topk", temperature=1.0, top_k=TOP_K)
    x = encode_prompt(target.tokenizer, prompt)
    dev = target.device
    with torch.inference_mode():                         # exact: P(t1) and P(t1, t2) over the top-k supports
        p1 = logits_to_probs(target.model(torch.tensor([x], device=dev)).logits[0, -1], cfg).cpu()
        first = [int(i) for i in torch.nonzero(p1).flatten()]
        two = torch.tensor([x + [a] for a in first], device=dev)
        p2 = logits_to_probs(target.model(two).logits[:, -1], cfg).cpu()            # [|first|, V]
    cells = {(a, int(b)): float(p1[a] * p2[i, b]) for i, a in enumerate(first) for b in torch.nonzero(p2[i]).flatten()}
    layers = int(target.model.config.get_text_config().num_hidden_layers)
    spec = f"layerskip:{max(1, layers - 4)}"
    drafter = make_drafter(spec, target)
    c1 = {a: 0 for a in first}
    c2 = {c: 0 for c in cells}
    outside = accepted = drafted = 0
    for seed in range(runs):
        r = speculative_generate(target, drafter, x, max_new_tokens=3, k=2, eos_token_id=[],
                                 sampling=SamplingConfig("topk", temperature=1.0, top_k=TOP_K, seed=seed))
        a, b = r.token_ids[0], r.token_ids[1]
        accepted += r.stats.accepted
        drafted += r.stats.drafted
        if a in c1:
            c1[a] += 1
        if (a, b) in c2:
            c2[(a, b)] += 1
        else:
            outside += 1
    def p_value(observed: List[int], expected: List[float]) -> Any:
        cells_ = pooled(observed, expected)             # cells under 5 expected merged into one
        return chi_square_p(*cells_) if len(cells_[0]) >= 3 else None   # fewer: too few runs to judge

    p_first = p_value([c1[a] for a in first], [float(p1[a]) for a in first])
    p_joint = p_value([c2[c] for c in cells], [cells[c] for c in cells])
    if outside or any(p is not None and p <= P_MIN for p in (p_first, p_joint)):
        ok: Any = False
    else:
        ok = True if p_first is not None and p_joint is not None else None      # None: inconclusive
    fmt = lambda p: "n/a (too few runs)" if p is None else f"{p:.3g}"
    print(f"  sampling {target_name} {spec} k=2 top-k {TOP_K}, {runs} seeds: chi-square p "
          f"first {fmt(p_first)}, joint {fmt(p_joint)}; outside the support {outside}; "
          f"acceptance {accepted}/{drafted} → {'ok' if ok else 'FAILED' if ok is False else 'inconclusive'}")
    return {"target": target_name, "drafter": spec, "k": 2, "processor": "topk",
            "top_k": TOP_K, "temperature": 1.0, "runs": runs, "p_first_token": p_first, "p_joint_two_tokens": p_joint,
            "p_min": P_MIN, "outside_support": outside, "accepted": accepted, "drafted": drafted, "ok": ok}


def main() -> int:
    ap = bench_parser(__doc__)
    ap.set_defaults(device="cuda", out=None)
    ap.add_argument("--targets", default="zoo:smollm2-135m,zoo:gemma3-270m")
    ap.add_argument("--prompts", type=int, default=3)
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--sampling-runs", type=int, default=400)
    ap.add_argument("--skip-bench", action="store_true", help="leave out the engine-vs-transformers benchmark")
    ap.add_argument("--bench-args", default="", metavar="ARGS",
                    help="more arguments for bench/engine_vs_hf.py, e.g. \"--limit 1 --repeats 1\" (default: its own)")
    args = ap.parse_args()

    from draftfinder.engine.device import resolve
    from draftfinder.errors import DraftFinderError

    try:
        strict = resolve(args.device, "fp32")
        reduced = resolve(args.device, args.dtype)
    except DraftFinderError as err:
        print(f"gpu_check: {err.line()}", file=sys.stderr)
        return 2
    run = BenchRun(args)
    args.out = args.out or str(RESULTS / f"gpu_check_{gpu_slug(strict)}.json")
    from draftfinder.measure.prompts import load_prompts

    prompts = load_prompts("general", limit=args.prompts)
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    print(f"gpu_check on {strict.device} ({', '.join(g.name for g in strict.accelerators.gpus) or 'no GPU'}), "
          f"{command_line()}")
    figures: Dict[str, Any] = {"device": strict.device, "accelerators": strict.accelerators.to_dict(),
                               "greedy": [], "sampling": None, "engine_vs_hf": None}
    failures: List[str] = []
    for name in targets:
        for dtype in dict.fromkeys(["fp32", reduced.dtype]):
            res = greedy_check(name, strict, dtype, prompts, args)
            res["strict"] = dtype == "fp32"
            figures["greedy"].append(res)
            if res["strict"]:
                failures += [f"greedy {name} {spec}" for spec, d in res["drafters"].items() if not d["identical"]]
                if not res["plain_vs_transformers"]["identical"]:
                    failures.append(f"greedy {name} plain vs transformers")
    figures["sampling"] = sampling_check(targets[0], strict, prompts[0], args.sampling_runs)
    if figures["sampling"]["ok"] is False:
        failures.append("sampling")
    elif figures["sampling"]["ok"] is None:
        print("  sampling: inconclusive — raise --sampling-runs (default 400)")
    if not args.skip_bench:
        out = Path(args.out).with_name(Path(args.out).stem + "_engine_vs_hf.json")
        cmd = [sys.executable, str(REPO / "bench" / "engine_vs_hf.py"), "--device", strict.device, "--dtype",
               args.dtype, "--target", targets[0], "--threads", str(args.threads), "--out", str(out),
               *shlex.split(args.bench_args)]
        print("  benchmark: " + " ".join(cmd[1:]))
        try:
            subprocess.run(cmd, check=True)
            import json

            figures["engine_vs_hf"] = {"command": cmd[1:], "result_file": str(out.relative_to(REPO))
                                       if out.resolve().is_relative_to(REPO) else str(out),
                                       "result": json.loads(out.read_text())}
        except (subprocess.CalledProcessError, OSError, ValueError) as exc:
            traceback.print_exc(limit=1)
            figures["engine_vs_hf"] = {"command": cmd[1:], "error": f"{type(exc).__name__}: {exc}"}
            failures.append("benchmark")
    figures["failures"] = failures
    run.finish(figures)
    print("HEADLINE: gpu_check " + ("passed" if not failures else "FAILED: " + "; ".join(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
