"""``draftfinder measure``: acceptance, cost and speedup of drafts for a target, measured on this machine.

    draftfinder measure TARGET --draft D [--draft D2 …] [--task general|code|chat|summarization]
                        [--prompts FILE] [--limit N] [--max-new-tokens N] [--verify]
                        [--processor P] [--temperature T] [--top-k K] [--top-p P] [--seed S]
                        [--timing-repeats N] [--timing-ks LIST] [--threads N] [--device DEV] [--dtype DT] [--no-save]
                        [--format table|json|yaml]

Drafts: ``layerskip:N`` (the target's first N layers), ``ngram`` / ``ngram:basic:N`` / ``ngram:onelevel:N``, or
a draft model's name. The method is in :mod:`draftfinder.measure`. Data go to stdout, progress (rich bars on a
terminal, plain lines otherwise) and warnings to stderr. Results are saved under
``$DRAFTFINDER_HOME/measurements/<machine>/`` (``find`` reads them back). Ctrl-C once stops after the current
step and keeps, prints and saves what was measured (marked partial, exit code 130) beside any complete
measurement of the same pair, never over it (``….partial.json``); twice aborts.
"""

from __future__ import annotations

import argparse
from typing import Any, Callable, Dict, List, Optional

from draftfinder.errors import EXIT_INTERRUPTED, EXIT_USAGE, DraftFinderError, UsageError
from draftfinder.report.progress import PhaseProgress, StopOnInterrupt

HELP = "measure acceptance, cost and speedup of drafts for a target on this machine (real runs)"


def configure(parser: argparse.ArgumentParser) -> None:
    from draftfinder.engine.base import PROCESSORS
    from draftfinder.measure import DEFAULT_LIMIT, DEFAULT_MAX_NEW_TOKENS, DEFAULT_TIMING_REPEATS
    from draftfinder.measure.prompts import TASKS
    from draftfinder.report.output import FORMATS

    parser.add_argument("target", metavar="TARGET", help="target model: zoo:NAME, a .gguf file, a folder or a Hub id")
    parser.add_argument("--draft", action="append", default=[], metavar="D", required=True,
                        help="draft to measure (repeatable): layerskip:N, ngram[:basic|onelevel:N] or a model name")
    g = parser.add_argument_group("prompts")
    g.add_argument("--task", default="general", choices=list(TASKS), help="built-in prompt set (default general)")
    g.add_argument("--prompts", metavar="FILE", help="your own prompts: a JSON list or one prompt per line")
    g.add_argument("--limit", type=int, default=DEFAULT_LIMIT, metavar="N",
                   help=f"prompts to use, the first N (default {DEFAULT_LIMIT}: about a minute on 2 CPU cores)")
    g.add_argument("--max-new-tokens", type=int, default=DEFAULT_MAX_NEW_TOKENS, metavar="N",
                   help=f"tokens the target generates per prompt (default {DEFAULT_MAX_NEW_TOKENS})")
    g = parser.add_argument_group("sampling (α is measured under this processor)")
    g.add_argument("--processor", default="greedy", choices=list(PROCESSORS), help="default greedy")
    g.add_argument("--temperature", type=float, default=1.0, metavar="T")
    g.add_argument("--top-k", type=int, default=50, metavar="K")
    g.add_argument("--top-p", type=float, default=0.9, metavar="P")
    g.add_argument("--seed", type=int, default=0)
    g = parser.add_argument_group("measurement")
    g.add_argument("--verify", action="store_true",
                   help="also run the engine at the recommended K and the target alone, and report the measured "
                        "speedup beside the prediction")
    g.add_argument("--timing-repeats", type=int, default=DEFAULT_TIMING_REPEATS, metavar="N",
                   help=f"timed rounds of target passes (median; default {DEFAULT_TIMING_REPEATS})")
    g.add_argument("--timing-ks", metavar="LIST",
                   help="Ks whose verify pass is timed, e.g. 1,2,4,8,16; the others are modelled and labelled: "
                        "interpolated between timed Ks, extrapolated (affine in K) past the last one "
                        "(default: every K from 1 to 16)")
    from draftfinder.cli.generate_cmd import add_threads_argument

    add_threads_argument(g)
    from draftfinder.cli.run_device_flags import add_run_device_arguments

    add_run_device_arguments(g)
    g.add_argument("--no-save", action="store_true", help="do not save the results for find")
    parser.add_argument("--format", default="table", choices=list(FORMATS), help="output format (default table)")


def _check(args: argparse.Namespace) -> None:
    from draftfinder.cli.run_device_flags import check_run_device_args

    check_run_device_args(args)
    if args.limit < 1:
        raise UsageError(f"--limit must be at least 1, got {args.limit}", hint="e.g. --limit 6")
    if args.max_new_tokens < 2:
        raise UsageError(f"--max-new-tokens must be at least 2, got {args.max_new_tokens}",
                         hint="e.g. --max-new-tokens 48")
    if args.timing_repeats < 1:
        raise UsageError(f"--timing-repeats must be at least 1, got {args.timing_repeats}", hint="e.g. 3")
    if args.timing_ks is not None:
        try:
            ks = sorted({int(x) for x in args.timing_ks.split(",") if x.strip()})
        except ValueError:
            raise UsageError(f"--timing-ks: '{args.timing_ks}' is not a comma-separated list of whole numbers",
                             hint="e.g. --timing-ks 1,2,4,8,16") from None
        if not ks or ks[0] < 1 or ks[-1] > 16:
            raise UsageError(f"--timing-ks: values must be between 1 and 16, got '{args.timing_ks}'",
                             hint="e.g. --timing-ks 1,2,4,8,16")
        args.timing_ks = ks
    from draftfinder.cli.generate_cmd import check_threads

    check_threads(args.threads)
    if args.processor == "greedy" and args.temperature != 1.0:
        raise UsageError("--temperature has no effect with the greedy processor",
                         hint="add --processor multinomial (or topk, nucleus, topknucleus)")


# --- progress on stderr --------------------------------------------------------------------------------

class _Progress(PhaseProgress):
    prefix = "measure"


class _StopOnInterrupt(StopOnInterrupt):
    prefix = "measure"


# --- the command ---------------------------------------------------------------------------------------

def build(args: argparse.Namespace, *, progress: Optional[Callable[..., None]] = None,
          should_stop: Optional[Callable[[], bool]] = None) -> Dict[str, Any]:
    """Run the measurement the flags describe; the payload every format is rendered from."""
    from draftfinder.engine.base import SamplingConfig
    from draftfinder.measure import measure

    from draftfinder.engine.drafter_specs import check_drafter_spec
    from draftfinder.engine.threads import apply_threads, busy_machine_hint
    from draftfinder.models.resolver import Resolver
    from draftfinder.report.output import info

    _check(args)
    resolver = Resolver()
    for spec in args.draft:               # a bad drafter is refused in seconds, before torch and the weights load
        check_drafter_spec(spec, args.target, resolver)
    from draftfinder.cli.run_device_flags import resolve_run_device

    place = resolve_run_device(args)                 # an absent device is refused before torch loads weights
    busy = busy_machine_hint(apply_threads(args.threads))
    if busy:
        info(f"hint: {busy}")
    sampling = SamplingConfig(processor=args.processor, temperature=args.temperature, top_k=args.top_k,
                              top_p=args.top_p, seed=args.seed)
    results = measure(args.target, args.draft, task=args.task, prompts_path=args.prompts, limit=args.limit,
                      max_new_tokens=args.max_new_tokens, sampling=sampling, verify=args.verify,
                      timing_repeats=args.timing_repeats, timing_ks=args.timing_ks, save=not args.no_save,
                      progress=progress, should_stop=should_stop, resolver=resolver, place=place)
    payload = {
        "target": results[0].target_id,
        "task": results[0].task,
        "partial": any(m.partial for m in results),
        "measurements": [m.to_dict() for m in results],
    }
    errors = [m.save_error.line() for m in results if getattr(m, "save_error", None) is not None]
    if errors:
        payload["not_saved"] = errors
    return payload


def run(args: argparse.Namespace) -> int:
    from draftfinder.report.output import emit, info

    progress = _Progress()
    try:
        with _StopOnInterrupt() as stop:
            try:
                payload = build(args, progress=progress, should_stop=stop)
            except DraftFinderError as err:
                if not stop.requested:
                    raise
                info(f"measure: interrupted — {err.message}")          # Ctrl-C before anything was measured
                return EXIT_INTERRUPTED
    finally:
        progress.close()
    for m in payload["measurements"]:
        for w in m.get("warnings", []):
            info(f"warning: {m['draft_id']}: {w}")
    emit(payload, args.format, table=render_table)
    for m in payload["measurements"]:
        if m.get("path"):
            info(f"saved{' (partial)' if m.get('partial') else ''}: {m['path']}")
            if m.get("partial"):
                from draftfinder.measure.store import complete_sibling

                complete = complete_sibling(m["path"])
                info(f"  kept the complete measurement {complete}: find and sweep use it" if complete.is_file()
                     else "  find and sweep use it (labelled partial) until a complete run is saved")
    for line in payload.get("not_saved", []):       # the results are above; find cannot use them
        info(f"draftfinder: error: not saved: {line}")
    if payload["partial"]:
        info("measure: interrupted — the results above cover only what was measured before Ctrl-C")
        return EXIT_INTERRUPTED
    return EXIT_USAGE if payload.get("not_saved") else 0


# --- table ---------------------------------------------------------------------------------------------

def _f(x: Any, fmt: str = ".3f", none: str = "—") -> str:
    return none if x is None else format(x, fmt)


def _ci(lo: Any, hi: Any) -> str:
    return "" if lo is None or hi is None else f"  [{lo:.3f}–{hi:.3f}]"


def _label(m: Dict[str, Any], key: str) -> str:
    p = (m.get("provenance") or {}).get(key)
    return f"[{p['source']}: {p['method']}]" if p else ""


def render_table(d: Dict[str, Any]) -> str:
    """Human text for a :func:`build` payload (after ``schema.to_plain``)."""
    ms: List[Dict[str, Any]] = d["measurements"]
    first = ms[0]
    mach = first["machine"]
    s = first["sampling"]
    proc = s["processor"] + ("" if s["processor"] == "greedy" else f", T={s['temperature']:g}")
    lines = [f"target   {d['target']}   task {d['task']} ({first['prompts']} prompts, {first['generated_tokens']} "
             f"tokens generated, {proc})",
             f"machine  {mach['cpu']} ({mach['cores']} cores, torch {mach['torch']}, {mach['torch_threads']} threads)"]
    tc = first.get("target_cost")
    if tc:
        gen = tc.get("generation_tokens_per_s")
        lines.append(f"target   {tc['step_ms']:.1f} ms per 1-token step at {tc['context_tokens']} tokens of context"
                     + (f"; plain decoding {gen:.1f} tok/s" if gen else "") + f"  {_label(first, 'target_cost.step_ms')}")
    for m in ms:
        lines += [""] + _render_draft(m)
    if d.get("partial"):
        lines += ["", "PARTIAL: interrupted — only what was measured before Ctrl-C is shown"]
    return "\n".join(lines)


def _render_draft(m: Dict[str, Any]) -> List[str]:
    a = m["acceptance"]
    lines = [f"draft {m['draft_id']} ({m['draft_kind']})"]
    lines.append(f"  α (acceptance)     {_f(a['alpha'])}{_ci(a['alpha_low'], a['alpha_high'])}  "
                 f"{_label(m, 'acceptance.alpha')}")
    lines.append(f"  greedy agreement   {_f(a['greedy_agreement'])}"
                 f"{_ci(a['greedy_agreement_low'], a['greedy_agreement_high'])}  over {a['proposed_positions']} "
                 f"positions" + (f" ({100 * a['coverage']:.0f}% of {a['positions']} had a proposal)"
                                 if a['coverage'] < 1 else ""))
    dc = m.get("draft_cost")
    if dc:
        lines.append(f"  cost ratio c       {dc['cost_ratio']:.4g}  ({dc['step_ms']:.3g} ms {dc['basis']})  "
                     f"{_label(m, 'draft_cost.cost_ratio')}")
    if a["by_context"]:
        lines.append("  context tokens   positions  prompts  agreement      α")
        for b in a["by_context"]:
            rng = f"{b['context_tokens_min']}–{b['context_tokens_max'] - 1}" if b["context_tokens_max"] else \
                f"{b['context_tokens_min']}+"
            lines.append(f"  {rng:>14}   {b['positions']:9d}  {b['prompts']:7d}  {_f(b['greedy_agreement']):>9}  "
                         f"{_f(b['alpha'])}{_ci(b['alpha_low'], b['alpha_high'])}")
    by_k = m.get("by_k") or {}
    if by_k:
        best = m.get("recommended_k")
        lines.append("     K   v(K)  v(K) from     tok/step iid  speedup iid  tok/step replay  speedup replay  run α  "
                     "accepted at window position 1, 2, …")
        for k in sorted(by_k, key=int):
            r = by_k[k]
            pos = " ".join(_f(x, ".2f", "-") for x in (r.get("position_acceptance") or [])[:6])
            mark = "  ← recommended" if best is not None and int(k) == int(best) else ""
            lines.append(f"  {int(k):4d}  {_f(r['verify_cost'], '.2f'):>5}  {r.get('verify_cost_source') or '—':<12}  "
                         f"{_f(r['tokens_per_step_iid'], '.2f'):>12}  "
                         f"{_f(r['speedup_iid'], '.2f'):>10}x  {_f(r['tokens_per_step_simulated'], '.2f'):>15}  "
                         f"{_f(r['speedup_simulated'], '.2f'):>13}x  {_f(r.get('acceptance_simulated'), '.2f'):>5}  "
                         f"{pos}{mark}")
        lines.append("        run α: accepted / drafts reached in a run at K (what the engine observes; differs from the "
                     "token-level α because a run skips the position after each bonus token)")
        for key in ("target_cost.verify_cost_by_k", "by_k.speedup_iid", "by_k.tokens_per_step_simulated",
                    "by_k.speedup_simulated"):
            if key in (m.get("provenance") or {}):
                lines.append(f"        {key.split('.')[-1]}: {_label(m, key)}")
        tc = m.get("target_cost") or {}
        if tc.get("extrapolated_k"):
            lines.append(f"        v(K) extrapolated for K ≥ {tc['extrapolated_k'][0]}: {tc.get('extrapolation_method')}")
    if m.get("recommended_k") is not None:
        lines.append(f"  recommended K = {m['recommended_k']}: predicted speedup {m['predicted_speedup']:.2f}x  "
                     f"{_label(m, 'predicted_speedup')}")
    v = m.get("verification")
    if v:
        same = "" if v.get("outputs_identical") is None else \
            ("; outputs identical to the target's" if v["outputs_identical"] else "; OUTPUTS DIFFER from the target's")
        lines.append(f"  verified at K = {v['k']}: measured speedup {v['measured_speedup']:.2f}x (predicted "
                     f"{_f(v['predicted_speedup'], '.2f')}x) — target {v['target_decode_s']:.2f} s vs speculative "
                     f"{v['speculative_decode_s']:.2f} s decode, {v['new_tokens']} tokens  "
                     f"{_label(m, 'verification.measured_speedup')}")
        lines.append(f"    observed acceptance {_f(v['observed_acceptance'])}, {_f(v['observed_tokens_per_step'], '.2f')} "
                     f"tokens/step (replay {_f(v['simulated_tokens_per_step'], '.2f')}){same}")
    t = m.get("timings_s") or {}
    if t:
        lines.append(f"  time: generate {t.get('generate_s', 0):.1f} s, score {t.get('score_this_draft_s', 0):.1f} s "
                     f"(all K), time target {t.get('time_target_s', 0):.1f} s")
    return lines
