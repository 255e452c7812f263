"""Stages 4–5: acceptance summaries with intervals, per-K predictions (i.i.d. formula and replay), the
recommended K, and the check against the engine."""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from draftfinder.predict import speedup as est
from draftfinder.engine.base import SamplingConfig, SpecStats
from draftfinder.measure.formulas import SimulatedRun, bootstrap_ratio_ci, expected_run, verify_cost_curve
from draftfinder.measure.results import (CONTEXT_BUCKETS, MAX_K, AcceptanceResult, ContextBucket, DraftCost, KResult, Progress,
                      TargetCost, Verification)
from draftfinder.measure.scoring import Continuation, DraftTrace, _Scorer


# ---------------------------------------------------------------------------------------------------
# stage 4: summary and predictions
# ---------------------------------------------------------------------------------------------------

def summarize_acceptance(traces: Sequence[DraftTrace], *, seed: int = 0) -> AcceptanceResult:
    """α, greedy agreement (with bootstrap CIs over prompts) and the context-length buckets."""
    props = [sum(t.proposed) for t in traces]
    betas = [sum(b for b, pr in zip(t.beta, t.proposed) if pr) for t in traces]
    agrees = [sum(a for a, pr in zip(t.agree, t.proposed) if pr) for t in traces]
    positions = sum(len(t.proposed) for t in traces)
    proposed = sum(props)
    a_lo, a_hi = bootstrap_ratio_ci(betas, props, seed=seed)
    g_lo, g_hi = bootstrap_ratio_ci(agrees, props, seed=seed)
    buckets: List[ContextBucket] = []
    edges = list(CONTEXT_BUCKETS) + [None]
    for lo, hi in zip(edges[:-1], edges[1:]):
        num_b, den_b, agr_b = [], [], []
        for t in traces:
            nb = db = ab = 0.0
            for i, pr in enumerate(t.proposed):
                ctx = t.prompt_tokens + i
                if pr and ctx >= lo and (hi is None or ctx < hi):
                    nb += t.beta[i]
                    ab += t.agree[i]
                    db += 1
            if db:
                num_b.append(nb)
                den_b.append(db)
                agr_b.append(ab)
        if den_b:
            lo_ci, hi_ci = bootstrap_ratio_ci(num_b, den_b, seed=seed)
            buckets.append(ContextBucket(lo, hi, int(sum(den_b)), len(den_b), sum(agr_b) / sum(den_b),
                                         sum(num_b) / sum(den_b), lo_ci, hi_ci))
    mism = [t.target_argmax_mismatches for t in traces if t.target_argmax_mismatches is not None]
    return AcceptanceResult(
        alpha=sum(betas) / proposed if proposed else None, alpha_low=a_lo, alpha_high=a_hi,
        greedy_agreement=sum(agrees) / proposed if proposed else None, greedy_agreement_low=g_lo,
        greedy_agreement_high=g_hi, positions=positions, proposed_positions=proposed,
        coverage=proposed / positions if positions else 0.0, prompts=len(traces), by_context=buckets,
        target_argmax_mismatches=sum(mism) if mism else (0 if len(mism) else None))


def merge_runs(runs: Sequence[SimulatedRun]) -> SimulatedRun:
    """Add up the counters of several runs (prompts) at one K."""
    total = SpecStats()
    merged = SimulatedRun(total)
    for run in runs:
        s = run.stats
        total.steps += s.steps
        total.drafted += s.drafted
        total.accepted += s.accepted
        total.new_tokens += s.new_tokens
        total.k_history.extend(s.k_history)
        for n, c in s.accepted_hist.items():
            total.accepted_hist[n] = total.accepted_hist.get(n, 0) + c
        while len(total.position_drafted) < len(s.position_drafted):
            total.position_drafted.append(0)
            total.position_accepted.append(0)
        for i, (d, a) in enumerate(zip(s.position_drafted, s.position_accepted)):
            total.position_drafted[i] += d
            total.position_accepted[i] += a
        merged.step_drafted.extend(run.step_drafted)
        merged.step_accepted.extend(run.step_accepted)
        merged.draft_call_s.extend(run.draft_call_s)
    return merged


def simulated_cost(run: SimulatedRun, c: float, basis: str, verify_cost: Callable[[int], float],
                   c_two_pending: Optional[float] = None) -> float:
    """Time of one replayed generation in target-step units: Σ over steps of draft cost + v(drafted).

    v(d) = T_target(d + 1) / T_target(1), with v(0) = 1 (a plain step). Draft cost ``per call`` (n-gram): c for
    every step that called the drafter. ``per token`` (model drafts): d · c, except that the first draft forward
    of a step feeds two tokens (the last accepted draft, never fed, and the target's bonus token) when the
    previous step accepted all its drafts — as ``ModelDrafter`` does — and then costs ``c_two_pending``.
    """
    total = 0.0
    previous_full = False
    for k_step, d, n in zip(run.stats.k_history, run.step_drafted, run.step_accepted):
        if basis == "per call":
            draft = c if k_step > 0 else 0.0
        elif d > 0:
            first = c_two_pending if (previous_full and c_two_pending is not None) else c
            draft = first + (d - 1) * c
        else:
            draft = 0.0
        total += draft + (verify_cost(d) if d > 0 else 1.0)
        previous_full = d > 0 and n == d
    return total


def predict(acceptance: AcceptanceResult, traces: Sequence[DraftTrace], target_cost: Optional[TargetCost],
            draft_cost: Optional[DraftCost], *, greedy: bool, kind: str, max_k: int = MAX_K,
            seed: int = 0) -> Tuple[Dict[int, KResult], Optional[int], Optional[float], str]:
    """Per-K results, the recommended K, its predicted speedup and the method (see module docstring, point 5)."""
    alpha = acceptance.alpha
    by_k: Dict[int, KResult] = {}
    verify = target_cost.verify_cost_by_k if target_cost else {}

    def v(d: int) -> float:             # the measured v(d) wherever it exists; else the labelled model of it
        if d in verify:
            return verify[d]
        return verify_cost_curve(target_cost.measured_verify_costs(), d).verify_cost_by_k[d]

    c_eff = None
    if draft_cost is not None:
        c_eff = draft_cost.cost_ratio if draft_cost.basis == "per token" else None
    for k in range(1, max_k + 1):
        r = KResult(k=k, verify_cost=v(k) if target_cost else None,
                    tokens_per_step_iid=est.expected_tokens_per_step(alpha, k) if alpha is not None else None,
                    speedup_iid=None,
                    verify_cost_source=target_cost.verify_cost_source(k) if target_cost else None)
        if alpha is not None and draft_cost is not None and target_cost is not None:
            ck = c_eff if c_eff is not None else draft_cost.cost_ratio / k      # per-call cost spread over k
            # an n-gram that proposes at only a share of positions: α counts proposed positions only, so the
            # i.i.d. figure is for the steps where it proposes (coverage is reported beside it)
            r.speedup_iid = est.expected_speedup(alpha, k, ck, v(k))
        if greedy and traces and all(k in t.runs for t in traces):
            runs = [t.runs[k] for t in traces]
            merged = merge_runs(runs)
            s = merged.stats
            r.steps, r.new_tokens = s.steps, s.new_tokens
            r.tokens_per_step_simulated = s.new_tokens / s.steps if s.steps else None
            r.tokens_per_step_low, r.tokens_per_step_high = bootstrap_ratio_ci(
                [x.stats.new_tokens for x in runs], [x.stats.steps for x in runs], seed=seed)
            reached = sum(s.position_drafted)
            r.acceptance_simulated = sum(s.position_accepted) / reached if reached else None
            r.accepted_per_drafted = s.alpha
            r.position_acceptance = s.position_acceptance
            r.accepted_hist = dict(sorted(s.accepted_hist.items()))
            if draft_cost is not None and target_cost is not None:
                cost = sum(simulated_cost(x, draft_cost.cost_ratio, draft_cost.basis, v,
                                          draft_cost.cost_ratio_two_pending) for x in runs)
                r.speedup_simulated = s.new_tokens / cost if cost else None
        elif not greedy and traces and kind != "ngram":
            expected = [expected_run(t.beta, k) for t in traces]
            steps, reached = sum(e[0] for e in expected), sum(e[1] for e in expected)
            tokens = sum(len(t.beta) for t in traces)
            r.tokens_per_step_simulated = tokens / steps if steps else None
            r.acceptance_simulated = sum(e[2] for e in expected) / reached if reached else None
            if draft_cost is not None and target_cost is not None and r.tokens_per_step_simulated:
                r.speedup_simulated = r.tokens_per_step_simulated / (k * draft_cost.cost_ratio + v(k))
        by_k[k] = r
    key = "speedup_simulated" if any(r.speedup_simulated is not None for r in by_k.values()) else "speedup_iid"
    scored = {k: getattr(r, key) for k, r in by_k.items() if getattr(r, key) is not None}
    if not scored:
        return by_k, None, None, ""
    best = max(scored, key=lambda k: (scored[k], -k))
    if key == "speedup_simulated" and greedy:
        method = ("exact greedy replay on the target's continuations (tokens per step) / (draft cost + measured "
                  "verify cost per step)")
    elif key == "speedup_simulated":
        method = ("position-wise β along the target's sampled continuations (expected steps by dynamic "
                  "programming) / (K·c + v(K))")
    else:
        method = "Leviathan et al. 2023 Thm 3.8 with measured α, c and verify cost v(K)"
    return by_k, best, scored[best], method




# ---------------------------------------------------------------------------------------------------
# stage 5: verification with the engine
# ---------------------------------------------------------------------------------------------------

def verify_with_engine(target: Any, scorer: _Scorer, continuations: Sequence[Continuation], k: int, *,
                       max_new_tokens: int, sampling: SamplingConfig, predicted_speedup: Optional[float],
                       prediction_method: str, simulated_tokens_per_step: Optional[float],
                       progress: Optional[Progress] = None,
                       should_stop: Optional[Callable[[], bool]] = None) -> Optional[Verification]:
    """Run the engine at K (``speculative_generate``) and the target alone (``autoregressive_generate``) on the
    same prompts, side by side (:func:`sidebyside.side_by_side`: one untimed warm-up of each, interleaved prompt
    by prompt, one round); speedup = Σ target decode time / Σ speculative decode time (prefill excluded, as in
    Thm 3.8; ``total_speedup`` includes it)."""
    from draftfinder.engine.speculative import autoregressive_generate, speculative_generate
    from draftfinder.measure.sidebyside import side_by_side

    drafter = scorer.fresh(target) if scorer.kind == "ngram" else scorer.drafter
    n = len(continuations)
    result = side_by_side(
        [(c.prompt_id, c.prompt_ids) for c in continuations],
        lambda ids, m: autoregressive_generate(target, ids, max_new_tokens=m, sampling=sampling),
        lambda ids, m: speculative_generate(target, drafter, ids, max_new_tokens=m, sampling=sampling, k=k),
        max_new_tokens=max_new_tokens, repeats=1, warmup_tokens=4, labels=("target only", f"speculative K={k}"),
        should_stop=should_stop,
        progress=(lambda done, total, label: progress("verify", min(done, n), n, label)) if progress else None)
    if not result.rounds or not result.rounds[0].candidate_decode_s:
        return None
    rnd = result.rounds[0]
    return Verification(
        k=k, prompts=result.prompts, new_tokens=rnd.candidate_tokens, target_decode_s=rnd.baseline_decode_s,
        speculative_decode_s=rnd.candidate_decode_s, measured_speedup=rnd.decode_speedup,
        predicted_speedup=predicted_speedup, prediction_method=prediction_method,
        observed_acceptance=result.observed_acceptance, observed_accepted_per_drafted=result.accepted_per_drafted,
        observed_tokens_per_step=result.tokens_per_step, simulated_tokens_per_step=simulated_tokens_per_step,
        outputs_identical=result.outputs_identical if sampling.greedy else None,
        total_speedup=rnd.total_speedup)
