#!/usr/bin/env python3
"""N-gram drafting speedup vs target-only, greedy, on summarization prompts and code-editing prompts.

For each prompt, side by side in one process (``draftfinder.measure.sidebyside.side_by_side``):
``autoregressive_generate`` (target alone) and ``speculative_generate`` with an n-gram drafter
(``make_drafter(SPEC)``), greedy, same K, same budget, interleaved per prompt, ``--repeats`` rounds after one
untimed warm-up of each. Speedup per task = median over rounds of Σ target time / Σ speculative time, on decode
time (prefill excluded) and on total time.
Outputs are checked identical (greedy). The code-editing prompts ("rewrite this function with X changed",
code included) are written in this file. Goal: ≥ 1.5×.

Usage: python bench/ngram_speedup.py [--target zoo:smollm2-135m] [--drafter ngram] [--k 4]
       [--max-new-tokens 96] [--limit 3] [--repeats 3] [--threads 1] [--out bench/results/ngram_speedup.json]
"""

from __future__ import annotations

import sys

from _common import BenchRun, bench_parser

CODE_EDIT_PROMPTS = [
    ("rename-var", "Rewrite this function with the variable `total` renamed to `running_sum`. "
     "Return only the full rewritten function.\n\n```python\n"
     "def average(values):\n"
     "    total = 0\n"
     "    count = 0\n"
     "    for v in values:\n"
     "        if v is None:\n"
     "            continue\n"
     "        total += v\n"
     "        count += 1\n"
     "    if count == 0:\n"
     "        return 0.0\n"
     "    return total / count\n```\n"),
    ("add-param", "Rewrite this function with a new parameter `sep` (default \",\") used instead of the "
     "hard-coded comma. Return only the full rewritten function.\n\n```python\n"
     "def parse_line(line):\n"
     "    fields = line.strip().split(\",\")\n"
     "    name = fields[0].strip()\n"
     "    age = int(fields[1])\n"
     "    city = fields[2].strip()\n"
     "    return {\"name\": name, \"age\": age, \"city\": city}\n```\n"),
    ("loop-to-comprehension", "Rewrite this function with the for loop changed into a list comprehension. "
     "Return only the full rewritten function.\n\n```python\n"
     "def squares_of_evens(numbers):\n"
     "    result = []\n"
     "    for n in numbers:\n"
     "        if n % 2 == 0:\n"
     "            result.append(n * n)\n"
     "    return result\n```\n"),
    ("add-logging", "Rewrite this function with the print calls changed to logger.info calls. "
     "Return only the full rewritten function.\n\n```python\n"
     "def copy_files(src_dir, dst_dir, names):\n"
     "    copied = 0\n"
     "    for name in names:\n"
     "        src = os.path.join(src_dir, name)\n"
     "        dst = os.path.join(dst_dir, name)\n"
     "        if not os.path.exists(src):\n"
     "            print(\"missing:\", src)\n"
     "            continue\n"
     "        shutil.copy(src, dst)\n"
     "        print(\"copied:\", src, \"->\", dst)\n"
     "        copied += 1\n"
     "    return copied\n```\n"),
]


def chat_ids(tokenizer, text: str):
    if getattr(tokenizer, "chat_template", None):
        ids = tokenizer.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True,
                                            tokenize=True)
        if hasattr(ids, "keys"):
            ids = ids["input_ids"]
        return [int(t) for t in ids]
    return [int(t) for t in tokenizer(text)["input_ids"]]


def run_task(target, spec, prompts, k, max_new, repeats, greedy_cfg, adaptive=None, pass_costs=None):
    """Target alone vs speculative with ``spec``, side by side (draftfinder.measure.sidebyside)."""
    from draftfinder.engine.drafters import make_drafter
    from draftfinder.engine.speculative import autoregressive_generate, speculative_generate
    from draftfinder.measure.sidebyside import side_by_side

    drafter = make_drafter(spec, target)
    res = side_by_side(
        prompts, lambda ids, m: autoregressive_generate(target, ids, max_new_tokens=m, sampling=greedy_cfg),
        lambda ids, m: speculative_generate(target, drafter, ids, max_new_tokens=m, sampling=greedy_cfg, k=k,
                                            adaptive=adaptive, pass_costs=pass_costs),
        max_new_tokens=max_new, repeats=repeats, warmup_tokens=8, labels=("target only", f"{spec} K={k}"))
    return {"prompts": res.prompts, "new_tokens": res.candidate_tokens, "target_tok_s": res.baseline_tokens_per_s,
            "spec_tok_s": res.candidate_tokens_per_s, "decode_speedup": res.decode_speedup,
            "decode_speedups": [r.decode_speedup for r in res.rounds], "total_speedup": res.total_speedup,
            "total_speedups": [r.total_speedup for r in res.rounds], "alpha": res.accepted_per_drafted,
            "tokens_per_step": res.tokens_per_step, "identical": res.outputs_identical,
            "side_by_side": res.to_dict()}


def main() -> int:
    ap = bench_parser(__doc__)
    ap.add_argument("--drafter", default="ngram", help="n-gram spec: ngram, ngram:onelevel:3, ...")
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--max-new-tokens", type=int, default=96)
    ap.add_argument("--limit", type=int, default=3, help="prompts per task")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--adaptive", action="store_true", help="K schedule +2 / −1 (engine.adaptive.HeuristicK) from --k")
    ap.add_argument("--pad", action="store_true",
                    help="extend n-gram drafts to the cheapest verify pass size (engine/passcost.py; calibrated here, untimed)")
    ap.add_argument("--tasks", default="summarization,code-editing")
    args = ap.parse_args()

    run = BenchRun(args)
    from draftfinder.engine.base import SamplingConfig
    from draftfinder.engine.loading import load_model
    from draftfinder.measure.prompts import encode_prompt, load_prompts

    target = load_model(args.target)
    greedy = SamplingConfig(processor="greedy")
    tasks = {
        "summarization": [(p.id, encode_prompt(target.tokenizer, p))
                          for p in load_prompts("summarization", limit=args.limit)],
        "code-editing": [(pid, chat_ids(target.tokenizer, text)) for pid, text in CODE_EDIT_PROMPTS[: args.limit]],
    }
    from draftfinder.engine.adaptive import HeuristicK

    adaptive = HeuristicK() if args.adaptive else None
    wanted = [t.strip() for t in args.tasks.split(",") if t.strip()]
    pass_costs = None
    if args.pad:
        from draftfinder.engine.passcost import calibrate

        first = next(iter(tasks.values()))[0][1]
        pass_costs = calibrate(target, first + first[: 64])
        print("pass costs (ms, measured): " + ", ".join(f"{n}:{ms:.1f}" for n, ms in pass_costs.ms.items()))
    rows = {name: run_task(target, args.drafter, prompts, args.k, args.max_new_tokens, args.repeats, greedy, adaptive,
                           pass_costs)
            for name, prompts in tasks.items() if name in wanted}

    print(f"n-gram speedup: target {args.target}, drafter {args.drafter}, K={args.k}"
          f"{' (adaptive +2/−1)' if args.adaptive else ''}{', pass-size padding' if args.pad else ''}, greedy, "
          f"max_new_tokens={args.max_new_tokens}, {args.repeats} rounds (warm-up excluded), medians")
    hdr = (f"{'task':<14} {'prompts':>7} {'tokens':>6} {'target tok/s':>12} {'spec tok/s':>10} {'α':>5} "
           f"{'tok/step':>8} {'decode ×':>8} {'total ×':>8} {'identical':>9}")
    print(hdr)
    for name, r in rows.items():
        print(f"{name:<14} {r['prompts']:>7} {r['new_tokens']:>6} {r['target_tok_s']:>12.1f} {r['spec_tok_s']:>10.1f} "
              f"{(r['alpha'] or 0):>5.2f} {(r['tokens_per_step'] or 0):>8.2f} {r['decode_speedup']:>8.2f} "
              f"{r['total_speedup']:>8.2f} {str(r['identical']):>9}")
    figures = {"target": args.target, "drafter": args.drafter, "k": args.k, "adaptive": args.adaptive, "pad": args.pad,
               "pass_costs_ms": pass_costs.ms if pass_costs else None, "max_new_tokens": args.max_new_tokens,
               "repeats": args.repeats, "tasks": rows, "goal_speedup": 1.5}
    run.finish(figures)
    parts = [f"{n} {r['decode_speedup']:.2f}× ({'meets' if r['decode_speedup'] >= 1.5 else 'MISSES'})"
             for n, r in rows.items()]
    print(f"HEADLINE: {args.drafter} K={args.k} vs target-only on {args.target}, greedy, decode-time speedup: "
          f"{'; '.join(parts)} the ≥ 1.5× goal; outputs identical: "
          f"{all(r['identical'] for r in rows.values())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
