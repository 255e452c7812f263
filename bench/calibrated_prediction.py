#!/usr/bin/env python3
"""Calibrate this machine, then predict its own sweeps: predicted vs measured speedup of llama-server and engine
cells of the zoo models (n-gram and self-draft drafts), with each cell's measured acceptance as input.

1. ``draftfinder calibrate`` (``measure.calibrate``) of ``--models`` on llama.cpp and our engine, T(1..16), saved as
   the profile ``local`` in a private data home (the user's profiles are not touched; zoo GGUFs are read from
   where they already are). ``--profile FILE`` reuses a saved profile instead (recorded).
2. ``draftfinder sweep`` (``sweep.runner.run_sweep``) per backend (``llamacpp``, ``engine``) and target: baseline,
   ``ngram`` (n = 3) and a self-draft (the target as its own draft model) at each ``--k``; greedy, ``--task``
   prompts; measured speedup = cell tok/s ÷ baseline tok/s (the sweep's own figure: llama-server's
   ``predicted_per_second``, the engine's decode tok/s).
3. Per draft cell, predictions from the cell's measured acceptance (accepted ÷ drafted at K → α, i.i.d.,
   Leviathan et al. 2023 Eq. 1; ``predict.calibration.alpha_from_rate``):

   ``calibrated``  Leviathan Thm 3.8 with verify cost, every cost from the calibration: v(K) = T(K+1)/T(1) and
                   c = the draft step / T(1) measured for that engine and model (0 for n-gram drafts)
                   (``predict.calibration.calibrated_speedup``; the same figure the sweep writes beside the cell,
                   checked here) — the headline while the latency model does not read calibrations
   ``estimate``    ``draftfinder estimate --hardware local --engine E`` with the model's shape and that α (and
                   ``--cost-ratio 0`` for n-gram drafts), as a user would run it: the latency model of this build
                   (it says whether it used the calibration)
   ``counters``    diagnostic, not a prediction: the cell's own tokens per step and drafted per step with the
                   calibrated T(b) (interpolated at the mean verify size) — isolates the cost model from the
                   i.i.d. acceptance model

Error = |predicted − measured| / measured. Headline: median over every draft cell (goal ≤ 15 %). Validation is out
of sample: the calibration never sees a sweep cell (different prompts, requests and servers).

Usage: python bench/calibrated_prediction.py [--models zoo:smollm2-135m,zoo:gemma3-270m] [--k 2,4,8]
       [--task summarization] [--prompts 3] [--max-tokens 64] [--runs 1] [--threads 1]
       [--backends llamacpp,engine] [--repeats 3] [--profile FILE] [--out FILE]
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

from _common import BenchRun, bench_parser

ENGINE_OF = {"llamacpp": "llama.cpp", "engine": "draftfinder"}


def main() -> int:
    ap = bench_parser(__doc__, engine=False)
    ap.add_argument("--models", default="zoo:smollm2-135m,zoo:gemma3-270m")
    ap.add_argument("--k", default="2,4,8")
    ap.add_argument("--task", default="summarization")
    ap.add_argument("--prompts", type=int, default=3)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--backends", default="llamacpp,engine")
    ap.add_argument("--repeats", type=int, default=3, help="calibration repeats")
    ap.add_argument("--profile", help="a saved calibration profile file to use instead of calibrating")
    args = ap.parse_args()

    from draftfinder import constants

    zoo = str(constants.zoo_dir())
    home = tempfile.mkdtemp(prefix="draftfinder-bench-home-")
    os.environ["DRAFTFINDER_ZOO_DIR"] = zoo                  # read the zoo GGUFs where they are
    os.environ["DRAFTFINDER_HOME"] = home                    # profiles and sweep files stay private to this run
    run = BenchRun(args)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    ks = [int(x) for x in args.k.split(",") if x.strip()]

    from draftfinder.predict.calibration import load_profile, save_profile

    if args.profile:
        profile = load_profile(args.profile)
        profile.name = "local"
        profile.partial = False
        calibrated_by = f"loaded from {args.profile}"
    else:
        from draftfinder.measure.calibrate import make_plan, run_calibration

        engines = ",".join(ENGINE_OF[b] for b in backends)
        plan = make_plan(name="local", models=",".join(models), engines=engines, threads=args.threads,
                         max_batch=16, repeats=args.repeats, context_tokens=256)
        plan.command = (f"draftfinder calibrate --models {','.join(models)} --engines {engines} --threads "
                        f"{args.threads} --repeats {args.repeats}")
        profile = run_calibration(plan, progress=lambda ph, d, t, label: print(f"calibrate: {ph} {d + 1}/{t} {label}",
                                                                                file=sys.stderr))
        calibrated_by = plan.command
    save_profile(profile)
    run.extra_versions.update({k: v for k, v in profile.versions.items() if k.startswith("llama_server")})

    cells = []
    for backend in backends:
        for model in models:
            cells += sweep_and_predict(backend, model, ks, args, profile)

    def med(rows, key):
        errs = [r[key] for r in rows if r.get(key) is not None]
        return statistics.median(errs) if errs else None

    groups = {}
    for r in cells:
        groups.setdefault(f"{r['backend']} {r['draft_kind']}", []).append(r)
    summary = {name: {"cells": len(rows), "median_abs_error_calibrated": med(rows, "error_calibrated"),
                      "median_abs_error_estimate": med(rows, "error_estimate"),
                      "median_abs_error_counters": med(rows, "error_counters")} for name, rows in groups.items()}
    headline = med(cells, "error_calibrated")
    print(f"{'backend':<9} {'target':<18} {'draft':<6} {'K':>2} {'rate':>5} {'α':>5} {'measured':>8} "
          f"{'calibr.':>8} {'estimate':>8} {'counters':>8}")
    for r in cells:
        f = lambda x: "—" if x is None else f"{x:.2f}x"
        print(f"{r['backend']:<9} {r['target']:<18} {r['draft_kind']:<6} {r['k']:>2} {r['rate']:>5.2f} "
              f"{r['alpha']:>5.2f} {f(r['measured_speedup']):>8} {f(r['predicted_calibrated']):>8} "
              f"{f(r['predicted_estimate']):>8} {f(r['predicted_counters']):>8}")
    for name, s in summary.items():
        print(f"{name}: {s['cells']} cells, median abs error calibrated "
              f"{_pct(s['median_abs_error_calibrated'])}, estimate {_pct(s['median_abs_error_estimate'])}, counters "
              f"{_pct(s['median_abs_error_counters'])}")
    figures = {"calibration": {"by": calibrated_by, "profile": profile.to_dict()},
               "settings": {"models": models, "k": ks, "task": args.task, "prompts": args.prompts,
                            "max_tokens": args.max_tokens, "runs": args.runs, "threads": args.threads,
                            "backends": backends, "temperature": 0.0},
               "cells": cells, "summary": summary,
               "headline": {"median_abs_error_calibrated": headline, "goal": 0.15, "cells": len(cells),
                            "median_abs_error_estimate": med(cells, "error_estimate"),
                            "definition": "median over draft cells of |predicted − measured| / measured speedup; "
                                          "predicted from the cell's measured acceptance and the calibration"}}
    run.finish(figures)
    print(f"HEADLINE: calibrated prediction of this machine's sweeps ({len(cells)} cells: "
          f"{', '.join(backends)} × {', '.join(models)} × ngram/self-draft × K {args.k}): median abs error "
          f"{_pct(headline)} (goal ≤ 15 %); estimate --hardware local: {_pct(med(cells, 'error_estimate'))}")
    return 0


def _pct(x):
    return "—" if x is None else f"{100 * x:.1f} %"


def sweep_and_predict(backend, model, ks, args, profile):
    """One sweep (baseline, ngram, self-draft × ks) of ``model`` on ``backend``; a row per draft cell."""
    from draftfinder.sweep.config import sweep_config_from_dict
    from draftfinder.sweep.runner import run_sweep

    label = model.split(":")[-1]
    cfg = sweep_config_from_dict({
        "name": f"calibrated-{backend}-{label}", "backend": backend, "hardware": "local",
        "targets": [{"label": label, "path": model}],
        "drafts": [{"label": "ngram", "type": "ngram", "n": 3}, {"label": "self", "path": model}],
        "settings": {"max_tokens": args.max_tokens, "temperature": 0.0, "task": args.task, "prompts": args.prompts,
                     "runs": args.runs, "warmup": 1, "seed": 0, "threads": args.threads, "k": ks}})
    path = Path(os.environ["DRAFTFINDER_HOME"]) / f"{cfg.name}.json"
    res = run_sweep(cfg, path, log=lambda line: print(f"sweep {backend} {label}: {line}", file=sys.stderr))
    engine = ENGINE_OF[backend]
    tcal = profile.calibration(engine, model)
    rows = []
    for c in res.cells:
        if c.get("draft") is None or c.get("status") != "ok" or not c.get("speedup"):
            continue
        rows.append(predict_row(backend, model, c, tcal, engine))
    return rows


def predict_row(backend, model, c, tcal, engine):
    from draftfinder.predict.calibration import alpha_from_rate, calibrated_speedup

    k = int(c["k"])
    kind = "ngram" if c.get("draft_type") == "ngram" else "self"
    runs = [r for r in c.get("runs") or []]
    drafted = sum(int(r.get("drafted") or 0) for r in runs)
    accepted = sum(int(r.get("accepted") or 0) for r in runs)
    tokens = sum(int(r.get("tokens") or 0) for r in runs)
    rate = accepted / drafted if drafted else 0.0
    alpha = alpha_from_rate(rate, k)
    measured = float(c["speedup"])
    row = {"backend": backend, "target": model, "draft_kind": kind, "k": k, "drafted": drafted, "accepted": accepted,
           "tokens": tokens, "rate": rate, "alpha": alpha, "measured_speedup": measured,
           "measured_tps": c.get("mean_tps"), "baseline_tps": c.get("baseline_tps"),
           "sweep_prediction": c.get("prediction")}
    cal = calibrated_speedup(tcal, k, alpha, draft_kind="ngram" if kind == "ngram" else "model", draft=tcal)
    row["predicted_calibrated"] = cal.get("speedup")
    row["calibrated_method"] = cal.get("method") or cal.get("reason")
    sp = (c.get("prediction") or {}).get("speedup")
    row["sweep_prediction_agrees"] = None if sp is None or cal.get("speedup") is None else \
        abs(sp - cal["speedup"]) < 1e-9
    row["predicted_estimate"], row["estimate_command"], row["estimate_note"] = _estimate(tcal, engine, k, alpha, kind)
    row["predicted_counters"] = _counters(backend, runs, tcal, k, kind)
    for key in ("calibrated", "estimate", "counters"):
        p = row[f"predicted_{key}"]
        row[f"error_{key}"] = None if p is None else abs(p - measured) / measured
    return row


def _estimate(tcal, engine, k, alpha, kind):
    """``draftfinder estimate --hardware local --engine E`` with the calibrated model's shape, in this process."""
    import contextlib
    import io

    from draftfinder.cli.main import main as cli

    shape = ["--target-params", str(int(tcal.params)), "--target-bits", tcal.weight_format, "--target-layers",
             str(tcal.layers), "--draft-params", str(int(tcal.params)), "--draft-bits", tcal.weight_format,
             "--draft-layers", str(tcal.layers)]
    argv = ["estimate", *shape, "--acceptance", f"{min(alpha, 0.999):.6f}", "--hardware", "local", "--engine",
            engine, "--threads", "1", "--max-k", str(max(16, k)), "--format", "json"]
    if kind == "ngram":
        argv += ["--cost-ratio", "0"]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli(argv)
    command = "draftfinder " + " ".join(argv)
    if code != 0:
        return None, command, err.getvalue().strip()[-300:]
    d = json.loads(out.getvalue())
    by_k = _find_key(d, "speedup_by_k") or {}
    value = by_k.get(str(k), by_k.get(k))
    note = _find_key(d, "latency_model") or ""
    return (None if value is None else float(value)), command, json.dumps(note)[:300] if note else ""


def _find_key(d, key):
    if isinstance(d, dict):
        if key in d:
            return d[key]
        for v in d.values():
            found = _find_key(v, key)
            if found is not None:
                return found
    elif isinstance(d, list):
        for v in d:
            found = _find_key(v, key)
            if found is not None:
                return found
    return None


def _counters(backend, runs, tcal, k, kind):
    """Tokens per step and drafted per step from the cell's own counters, with the calibrated T(b) at the mean
    verify size (linear interpolation) and c from the calibration: speedup = tokens/step × T(1) / step time."""
    steps = 0
    for r in runs:
        if backend == "engine" and r.get("steps"):
            steps += int(r["steps"])
        elif r.get("tokens"):
            steps += int(r["tokens"]) - 1 - int(r.get("accepted") or 0)      # llama: first token from the prompt
    tokens = sum(int(r.get("tokens") or 0) for r in runs) - (0 if backend == "engine" else len(runs))
    drafted = sum(int(r.get("drafted") or 0) for r in runs)
    if steps <= 0 or tokens <= 0:
        return None
    per_step, verify = tokens / steps, 1.0 + drafted / steps
    lo = int(verify)
    t_lo, t_hi = tcal.t_ms(lo), tcal.t_ms(min(lo + 1, 16))
    if t_lo is None or t_hi is None:
        return None
    t_verify = t_lo + (verify - lo) * (t_hi - t_lo)
    draft_ms = 0.0 if kind == "ngram" else (tcal.draft_step_ms or 0.0) * (drafted / steps)
    return per_step * tcal.t_ms(1) / (t_verify + draft_ms)


if __name__ == "__main__":
    sys.exit(main())
