#!/usr/bin/env python3
"""Train a draft for a zoo target on this CPU, then measure it against target-only and model-free drafting.

For each target × method (``--targets``, ``--methods``), one ``draftfinder train`` run (the exact command is
recorded; ``--max-minutes`` of training, the data's generation and scoring timed apart), then on the *held-out*
HumanEval prompts of that run's split (never trained on), side by side in one process
(``draftfinder.measure.sidebyside.side_by_side``: warm-up excluded, interleaved, medians of rounds):

- target-only greedy decoding vs speculative decoding with the trained draft at the K the report recommends
  (``--draft DIR``: an independent HF folder or an EAGLE-3 head), outputs checked identical;
- the same held-out prompts with the best model-free drafter here (``ngram`` and ``layerskip:N``; each at its
  own best K of 1–4 on the first round), so "above the best model-free drafter" is judged on the same prompts.

For an independent draft of a GGUF target, ``--gguf`` also exports a GGUF draft and runs it in llama-server
(``-md``, ``--spec-type draft-simple``) against the zoo target GGUF: tokens/s with and without, draft_n.

Goals (issue 12): zoo:smollm2-135m, code, ≤ 30 min of training, best method: held-out greedy acceptance ≥ 0.65 and
measured speedup ≥ 1.3× with identical outputs, above the best model-free drafter.

Usage: python bench/train_draft.py [--targets zoo:smollm2-135m] [--methods eagle3,independent] [--minutes 30]
       [--corpus DIR] [--work DIR] [--limit 30] [--max-new-tokens 128] [--repeats 2] [--threads 1]
       [--skip-train] [--out bench/results/train_draft.json]
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from _common import REPO, BenchRun, bench_parser

GOAL_ACCEPTANCE = 0.65
GOAL_SPEEDUP = 1.3
DEFAULT_CORPUS = "/usr/lib/python3.11"        # the stdlib's source: code the target scores teacher-forced


def slug(target: str) -> str:
    return target.replace("zoo:", "").replace("/", "_")


def train(args, target: str, method: str, out: Path) -> dict:
    """Run ``draftfinder train`` (resumes when ``out``'s work folder holds a checkpoint); return the command."""
    cmd = [sys.executable, "-m", "draftfinder", "train", target, "--out", str(out), "--method", method,
           "--task", "code", "--max-minutes", str(args.minutes), "--threads", str(args.threads), "--seed", "0"]
    if args.corpus:
        cmd += ["--corpus", args.corpus]
    if method == "independent" and args.gguf:
        cmd += ["--gguf"]
    cmd += args.train_arg
    shown = " ".join(["draftfinder"] + cmd[3:])
    if args.skip_train and (out / "train_report.json").is_file():
        return {"command": shown, "ran": False, "wall_s": None, "rc": 0}
    print(f"$ {shown}", flush=True)
    t0 = time.perf_counter()
    rc = subprocess.call(cmd, cwd=REPO)
    return {"command": shown, "ran": True, "wall_s": round(time.perf_counter() - t0, 1), "rc": rc}


def side(target_model, drafter_spec: str, prompts, k: int, max_new: int, repeats: int) -> dict:
    from draftfinder.engine.base import SamplingConfig
    from draftfinder.engine.drafters import make_drafter
    from draftfinder.engine.speculative import autoregressive_generate, speculative_generate
    from draftfinder.measure.sidebyside import side_by_side

    greedy = SamplingConfig(processor="greedy")
    drafter = make_drafter(drafter_spec, target_model)
    res = side_by_side(
        prompts, lambda ids, m: autoregressive_generate(target_model, ids, max_new_tokens=m, sampling=greedy),
        lambda ids, m: speculative_generate(target_model, drafter, ids, max_new_tokens=m, sampling=greedy, k=k),
        max_new_tokens=max_new, repeats=repeats, warmup_tokens=8, labels=("target only", f"{drafter_spec} K={k}"))
    return {"drafter": drafter_spec, "k": k, "prompts": res.prompts, "new_tokens": res.candidate_tokens,
            "target_tok_s": res.baseline_tokens_per_s, "spec_tok_s": res.candidate_tokens_per_s,
            "decode_speedup": res.decode_speedup, "total_speedup": res.total_speedup,
            "acceptance_per_drafted": res.accepted_per_drafted, "tokens_per_step": res.tokens_per_step,
            "identical": res.outputs_identical, "source": "measured (side by side, this run)"}


def best_of(target_model, spec: str, prompts, ks, max_new, repeats) -> dict:
    """The spec at each K on the first two prompts (1 round), then the best K on all prompts."""
    probe = {k: side(target_model, spec, prompts[:2], k, max_new, 1)["decode_speedup"] or 0 for k in ks}
    k = max(probe, key=probe.get)
    row = side(target_model, spec, prompts, k, max_new, repeats)
    row["k_probe"] = probe
    return row


def held_out_prompts(target_model, report: dict, limit: int):
    from draftfinder.measure.prompts import encode_prompt
    from draftfinder.train.prompts import load_split

    split = load_split("code", seed=int(report.get("seed", 0)))
    prompts = [(p.id, encode_prompt(target_model.tokenizer, p)) for p in split.held_out][:limit]
    return prompts


def main() -> int:
    ap = bench_parser(__doc__)
    ap.add_argument("--targets", default="zoo:smollm2-135m")
    ap.add_argument("--methods", default="eagle3,independent")
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--corpus", default=DEFAULT_CORPUS)
    ap.add_argument("--work", default=str(Path.home() / ".cache" / "draftfinder-bench" / "train_draft"))
    ap.add_argument("--limit", type=int, default=30, help="held-out prompts timed")
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--gguf", action="store_true", help="also export the independent draft to GGUF, run llama-server")
    ap.add_argument("--skip-train", action="store_true", help="reuse a finished run's folder")
    ap.add_argument("--train-arg", action="append", default=[], help="extra argument passed to train (repeatable)")
    args = ap.parse_args()
    run = BenchRun(args)

    from draftfinder.engine.loading import load_model

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    for target in [t.strip() for t in args.targets.split(",") if t.strip()]:
        tmodel = load_model(target)
        free = None
        for method in [m.strip() for m in args.methods.split(",") if m.strip()]:
            out = work / f"{slug(target)}-{method}"
            cmd = train(args, target, method, out)
            report_path = out / "train_report.json"
            if not report_path.is_file():
                rows.append({"target": target, "method": method, "train": cmd, "error": "no train_report.json"})
                continue
            report = json.loads(report_path.read_text())
            prompts = held_out_prompts(tmodel, report, args.limit)
            k = int((report.get("measured") or {}).get("K") or report.get("recommended_k") or 2)
            trained = side(tmodel, str(out), prompts, k, args.max_new_tokens, args.repeats)
            if free is None:
                n_layers = int(tmodel.model.config.num_hidden_layers)
                free = {spec: best_of(tmodel, spec, prompts, (1, 2, 3, 4), args.max_new_tokens, args.repeats)
                        for spec in ("ngram", f"layerskip:{max(1, n_layers // 4)}")}
            row = {"target": target, "method": method, "train": cmd, "report": str(report_path),
                   "held_out_acceptance": (report.get("held_out") or {}).get("acceptance"),
                   "per_position": (report.get("held_out") or {}).get("per_position"),
                   "cost_ratio_c": report.get("cost_ratio_c"), "training": report.get("training"),
                   "data": report.get("data"), "trained": trained, "model_free": free}
            gguf = (report.get("student") or {}).get("gguf") or {}
            if gguf:                       # measured by train --gguf itself (llama-server, held-out prompts)
                row["gguf"] = {key: gguf.get(key) for key in ("path", "dtype", "file_bytes", "vocab_checks_passed")}
                row["llama_server"] = gguf.get("llama_server")
            row["train_measured"] = report.get("measured")
            if not cmd["ran"]:
                cmd["command"] = report.get("command") or cmd["command"]
            rows.append(row)

    print(f"train_draft: code task, held-out HumanEval prompts, greedy, max_new_tokens={args.max_new_tokens}, "
          f"{args.repeats} rounds (warm-up excluded), decode-time speedup vs target-only, medians")
    print(f"{'target':<18} {'drafter':<22} {'α held-out':>10} {'c':>6} {'K':>2} {'speedup':>8} {'identical':>9}")
    for r in rows:
        if "error" in r:
            print(f"{r['target']:<18} {r['method']:<22} {r['error']}")
            continue
        c = r["cost_ratio_c"]
        c = c.get("value") if isinstance(c, dict) else c
        acc = r["held_out_acceptance"]
        acc = acc.get("value") if isinstance(acc, dict) else acc
        t = r["trained"]
        print(f"{r['target']:<18} {('trained ' + r['method']):<22} {acc or 0:>10.3f} {c or 0:>6.3f} {t['k']:>2} "
              f"{t['decode_speedup'] or 0:>7.2f}× {str(t['identical']):>9}")
        for spec, f in r["model_free"].items():
            print(f"{'':<18} {spec:<22} {f['acceptance_per_drafted'] or 0:>10.3f} {'':>6} {f['k']:>2} "
                  f"{f['decode_speedup'] or 0:>7.2f}× {str(f['identical']):>9}")
        if r.get("llama_server"):
            ls = r["llama_server"]
            print(f"{'':<18} {'llama-server GGUF':<22} {ls.get('acceptance') or 0:>10.3f} {'':>6} {k:>2} "
                  f"{ls.get('speedup') or 0:>7.2f}×  draft_n={ls.get('draft_n')}")
    figures = {"targets": args.targets, "methods": args.methods, "minutes": args.minutes, "corpus": args.corpus,
               "max_new_tokens": args.max_new_tokens, "repeats": args.repeats, "rows": rows,
               "goal": {"acceptance": GOAL_ACCEPTANCE, "speedup": GOAL_SPEEDUP}}
    run.finish(figures)
    good = [r for r in rows if "error" not in r]
    for target in sorted({r["target"] for r in good}):
        mine = [r for r in good if r["target"] == target]
        best = max(mine, key=lambda r: r["trained"]["decode_speedup"] or 0)
        acc = best["held_out_acceptance"]
        acc = acc.get("value") if isinstance(acc, dict) else acc
        sp = best["trained"]["decode_speedup"] or 0
        free_best = max((f["decode_speedup"] or 0) for f in best["model_free"].values())
        met = (acc or 0) >= GOAL_ACCEPTANCE and sp >= GOAL_SPEEDUP and best["trained"]["identical"] and sp > free_best
        print(f"HEADLINE: {target} best trained draft ({best['method']}): held-out α {acc or 0:.2f}, "
              f"{sp:.2f}× measured (outputs identical: {best['trained']['identical']}), best model-free "
              f"{free_best:.2f}× — goal α ≥ {GOAL_ACCEPTANCE}, ≥ {GOAL_SPEEDUP}×, above model-free: "
              f"{'met' if met else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
