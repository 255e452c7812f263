"""``train_report.json``: what was trained, on what, how well — every number with its source.

=========================  ==================================================================================
figure                     source
=========================  ==================================================================================
data sizes, times          measured while building the teacher data (``teacher.TeacherStats``)
curves, held_out           measured: held-out greedy acceptance, teacher-forced on the held-out prompts'
                           greedy continuations (``student.EvalResult``), at each evaluation step
cost_ratio_c, verify_costs measured by ``measure`` (``measure/costs.py``: paired median timings of the trained
                           draft's ``draft(ctx, 1)`` and of target passes of K+1 tokens) on this machine
predicted_speedup          estimated: ``predict.speedup.expected_speedup(α, K, c, v(K))`` — Leviathan et al.
                           2023, Theorem 3.8, with the measured verify cost v(K) in place of its 1
                           (``predict/speedup.py``); α = the held-out acceptance of the kept weights
measured                   measured: our engine (``engine.speculative.speculative_generate``) vs the target
                           alone (``autoregressive_generate``) on held-out prompts, side by side
                           (``measure/sidebyside.py`` through ``measure(verify=True)``), greedy, at the K
                           ``measure`` recommends; outputs compared token for token
=========================  ==================================================================================

The measured part reuses :func:`draftfinder.measure.measure` on the trained folder exactly as
``draftfinder measure TARGET --draft DIR --verify`` runs it (not saved to the measurement store: the report
holds it).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

from draftfinder.constants import ESTIMATED, MEASURED

SCHEMA_VERSION = 1


@dataclass
class TrainReport:
    """The report (keys of ``train_report.json``; ``to_dict`` renders it)."""

    target: str
    method: str
    task: str
    loss: str
    seed: int
    layers: Optional[int]
    draft_vocab: Optional[int]
    data: Dict[str, Any] = field(default_factory=dict)
    training: Dict[str, Any] = field(default_factory=dict)
    curves: Dict[str, List[Any]] = field(default_factory=dict)
    held_out: Dict[str, Any] = field(default_factory=dict)
    before_training: Dict[str, Any] = field(default_factory=dict)
    student: Dict[str, Any] = field(default_factory=dict)
    cost_ratio_c: Optional[Dict[str, Any]] = None
    verify_costs: Dict[str, Any] = field(default_factory=dict)
    predicted_speedup: Dict[str, Any] = field(default_factory=dict)
    measured: Optional[Dict[str, Any]] = None
    machine: Dict[str, Any] = field(default_factory=dict)
    command: str = ""
    created: str = ""
    draftfinder_version: str = ""
    schema_version: int = SCHEMA_VERSION
    warnings: List[str] = field(default_factory=list)

    def to_dict(self) -> Dict[str, Any]:
        from draftfinder.find.results import to_plain

        return to_plain(self)


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def predicted_speedups(alpha: float, c: float, verify_costs: Dict[int, float]) -> Dict[int, float]:
    """``{K: expected_speedup(α, K, c, v(K))}`` for every K with a verify cost (``predict/speedup.py``:
    Leviathan et al. 2023, Theorem 3.8 with the verify cost v(K) = T(K+1)/T(1) in place of 1)."""
    from draftfinder.predict.speedup import expected_speedup

    return {int(k): expected_speedup(alpha, int(k), c, float(v)) for k, v in sorted(verify_costs.items())}


def base_report(*, target: str, method: str, task: str, loss: str, seed: int, layers: Optional[int],
                draft_vocab: Optional[int], data: Any, split: Any, loop: Any, student: Any, command: str) -> TrainReport:
    """Everything but the measured cost/speed part (:func:`add_measurement`)."""
    from draftfinder.version import __version__

    summary = data.summary()
    summary.update(split.to_dict())
    summary["source"] = MEASURED
    summary["held_out_is"] = "the held-out prompts' greedy continuations only (never trained on)"
    best = loop.best
    curves = loop.curves
    return TrainReport(
        target=target, method=method, task=split.task, loss=loss, seed=seed, layers=layers, draft_vocab=draft_vocab,
        data=summary,
        training={"steps": loop.steps, "minutes": round(loop.minutes, 3), "stopped_because": loop.stopped_because,
                  "best_step": loop.best_step, "sessions": loop.sessions, "resumed_from_step": loop.resumed_from_step,
                  "tokens_seen": loop.tokens_seen, "steps_per_s": loop.steps_per_s,
                  "kept": "the weights of the best held-out acceptance (not the lowest loss)", "source": MEASURED},
        curves={"step": curves.step, "loss": curves.loss, "held_out_acceptance": curves.held_out_acceptance,
                "minutes": curves.minutes, "source": MEASURED,
                "loss_is": f"mean {loss} training loss since the previous evaluation"},
        held_out={**(best.to_dict() if best else {}), "step": loop.best_step, "source": MEASURED,
                  "method": "greedy agreement (draft argmax = target argmax), teacher-forced on the held-out "
                            "prompts' greedy continuations; per_position: chain acceptance at draft position 1.."},
        before_training={**(loop.initial.to_dict() if loop.initial else {}), "source": MEASURED,
                         "method": "the same evaluation at step 0 (the student as initialised from the target)"},
        student=student.cost_hint(), command=command, created=now(), draftfinder_version=__version__)


def add_measurement(report: TrainReport, target: Any, draft_folder: str, held_out_prompts: List[Any], *,
                    max_new_tokens: int, limit: int, timing_repeats: int = 3, max_k: int = 8,
                    progress: Optional[Callable[..., None]] = None,
                    should_stop: Optional[Callable[[], bool]] = None, place: Any = None) -> None:
    """Fill ``cost_ratio_c``, ``verify_costs``, ``predicted_speedup``, ``measured`` and ``machine`` by running
    ``measure`` (greedy, ``verify=True``) on the first ``limit`` held-out prompts with the draft in
    ``draft_folder``. ``target``: the loaded target (its name is what ``measure`` loads: the process cache
    returns the same weights: ``place`` must be the device and dtype it was loaded with)."""
    from draftfinder.engine.base import SamplingConfig
    from draftfinder.measure import measure

    prompts = list(held_out_prompts)[:limit]
    ms = measure(target.name, [draft_folder], prompts=prompts, limit=None, max_new_tokens=max_new_tokens,
                 sampling=SamplingConfig(), verify=True, max_k=max_k, timing_repeats=timing_repeats,
                 timing_ks=list(range(1, max_k + 1)), save=False, progress=progress, should_stop=should_stop,
                 place=place)
    m = ms[0]
    report.machine = m.machine.to_dict()
    tc, dc = m.target_cost, m.draft_cost
    if tc is None or dc is None:
        report.warnings.append("the cost measurement was interrupted: no c, v(K), predicted or measured speedup")
        return
    report.cost_ratio_c = {"value": dc.cost_ratio, "source": MEASURED, "draft_step_ms": dc.step_ms,
                           "target_step_ms": tc.step_ms, "method": dc.method}
    report.verify_costs = {**{str(k): v for k, v in sorted(tc.verify_cost_by_k.items()) if k <= max_k},
                           "source": MEASURED, "context_tokens": tc.context_tokens,
                           "method": "v(K) = T_target(K+1 tokens) / T_target(1 token), paired medians "
                                     "(measure/costs.time_target)"}
    alpha = report.held_out.get("acceptance")
    vks = {k: v for k, v in tc.verify_cost_by_k.items() if k <= max_k}
    if alpha is not None:
        pred = predicted_speedups(alpha, dc.cost_ratio, vks)
        best_k = max(pred, key=lambda k: (pred[k], -k))
        report.predicted_speedup = {
            **{str(k): v for k, v in pred.items()}, "best_k": best_k, "best": pred[best_k],
            "source": ESTIMATED,
            "method": "expected_speedup(α, K, c, v(K)) = (1 − α^(K+1)) / ((1 − α)(K·c + v(K))) — Leviathan et al. "
                      "2023 Thm 3.8 with the measured verify cost (predict/speedup.py); α = held-out acceptance, "
                      "c and v(K) measured"}
    v = m.verification
    a = m.acceptance
    measured: Dict[str, Any] = {
        "source": MEASURED, "prompts": m.prompts, "prompt_ids": m.prompt_ids, "max_new_tokens": max_new_tokens,
        "engine_alpha": a.alpha, "engine_alpha_method": "measure: teacher-forced on these prompts' greedy "
                                                        "continuations (same as the held-out acceptance, fewer "
                                                        "prompts and tokens)",
        "recommended_k": m.recommended_k, "measure_predicted_speedup": m.predicted_speedup}
    if v is not None:
        measured.update({
            "K": v.k, "speedup": v.measured_speedup, "outputs_identical": v.outputs_identical,
            "target_tokens_per_s": v.new_tokens / v.target_decode_s if v.target_decode_s else None,
            "spec_tokens_per_s": v.new_tokens / v.speculative_decode_s if v.speculative_decode_s else None,
            "new_tokens": v.new_tokens, "target_decode_s": v.target_decode_s,
            "spec_decode_s": v.speculative_decode_s, "observed_acceptance": v.observed_acceptance,
            "tokens_per_step": v.observed_tokens_per_step,
            "method": "our engine: speculative_generate at K vs autoregressive_generate, greedy, side by side "
                      "(measure/sidebyside.py), decode time (prefill excluded), one warm-up each untimed"})
    else:
        report.warnings.append("the engine run was interrupted: no measured speedup")
    report.measured = measured
    report.warnings += list(m.warnings)


def render_summary(report: Dict[str, Any]) -> str:
    """The few lines printed on stdout at the end of a run (from ``train_report.json``'s dict)."""
    d, t, h, b = report["data"], report["training"], report["held_out"], report.get("before_training") or {}
    lines = [
        f"target   {report['target']}   method {report['method']}   task {report['task']}   loss {report['loss']}",
        f"data     {d['train_tokens']:,} train tokens ({d['continuation_tokens']:,} greedy continuations of "
        f"{d['train_prompts']} prompts, {d['sampled_tokens']:,} sampled, {d['corpus_tokens']:,} corpus) · "
        f"{d['held_out_tokens']:,} held-out tokens ({d['held_out_prompts']} prompts)",
        f"         generation {_rate(d.get('generation_tokens_per_s'))} tok/s, scoring {_rate(d.get('scoring_tokens_per_s'))}"
        f" tok/s  [measured]",
        f"training {t['steps']} steps in {t['minutes']:.1f} min ({t['stopped_because']}), best at step {t['best_step']}",
        f"held-out acceptance α {_f(b.get('acceptance'))} before → {_f(h.get('acceptance'))} kept   per position "
        + " ".join(_f(x, '.2f') for x in (h.get("per_position") or [])[:6]) + "  [measured, teacher-forced]",
    ]
    c = report.get("cost_ratio_c")
    if c:
        vk = {k: v for k, v in (report.get("verify_costs") or {}).items() if k.isdigit()}
        lines.append(f"cost     c = {c['value']:.3f}   v(K) = " + ", ".join(f"{float(vk[k]):.2f}" for k in sorted(vk, key=int))
                     + "  [measured]")
    p = {k: v for k, v in (report.get("predicted_speedup") or {}).items() if k.isdigit()}
    if p:
        lines.append("predicted speedup " + "  ".join(f"K={k}: {float(x):.2f}x" for k, x in p.items())
                     + "  [estimated: Leviathan Thm 3.8 with v(K)]")
    m = report.get("measured") or {}
    if m.get("speedup") is not None:
        same = "outputs identical" if m.get("outputs_identical") else "OUTPUTS DIFFER"
        lines.append(f"measured speedup {m['speedup']:.2f}x at K={m['K']} on {m['prompts']} held-out prompts "
                     f"({_rate(m.get('target_tokens_per_s'))} → {_rate(m.get('spec_tokens_per_s'))} tok/s, {same})"
                     f"  [measured, our engine]")
    return "\n".join(lines)


def _f(x: Any, fmt: str = ".3f") -> str:
    return "—" if x is None else format(x, fmt)


def _rate(x: Any) -> str:
    return "—" if x is None else f"{x:.1f}"
