"""Stage 3: what a target pass of 1 … K+1 tokens and a draft step cost on this machine (paired, median,
warm-up excluded)."""

from __future__ import annotations

import os
import statistics
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from draftfinder.engine.base import SamplingConfig
from draftfinder.errors import DraftFinderError
from draftfinder.measure.formulas import EXTRAPOLATED_V, INTERPOLATED_V, median_ms, verify_cost_curve
from draftfinder.measure.results import DEFAULT_TIMING_REPEATS, MAX_K, DraftCost, TargetCost
from draftfinder.measure.scoring import Continuation, DraftTrace, _Scorer


# ---------------------------------------------------------------------------------------------------
# stage 3: cost on this machine
# ---------------------------------------------------------------------------------------------------

def typical_context(continuations: Sequence[Continuation]) -> Tuple[List[int], int]:
    """A real sequence and the typical context length: the median over prompts of (prompt + half the
    continuation), the point where a generation spends its average step."""
    lengths = [len(c.prompt_ids) + len(c.tokens) // 2 for c in continuations]
    length = int(statistics.median(lengths))
    longest = max(continuations, key=lambda c: len(c.sequence)).sequence
    seq = list(longest)
    while len(seq) < length + 32:             # tile a short sequence (only when every continuation is short)
        seq += longest
    return seq, length


def time_target(target: Any, continuations: Sequence[Continuation], *, max_k: int = MAX_K,
                repeats: int = DEFAULT_TIMING_REPEATS, warmup: int = 1, sizes: Optional[Sequence[int]] = None,
                should_stop: Optional[Callable[[], bool]] = None) -> TargetCost:
    """Target forwards of n = 1 … max_k+1 tokens (or ``sizes``) after a KV cache of the typical context, exactly
    as the engine runs them (``model_forward`` → all n rows of logits, then a rollback).

    Every n-token pass is timed right after a 1-token pass, and v(K) is the median over rounds of those *paired*
    ratios T(K+1)/T(1): a shared, busy machine slows both alike, so the ratio holds where raw times drift.
    Sizes are interleaved in each round with a rotating order; the first ``warmup`` rounds are dropped.
    ``pass_ms`` holds the median raw times. Ks not measured are modelled by :func:`formulas.verify_cost_curve`:
    interpolated between measured Ks (``interpolated_k``), extrapolated past the last one (``extrapolated_k``).
    """
    import torch

    from draftfinder.engine.passcost import PassTimer

    sizes = sorted(set(sizes or range(1, max_k + 2)) | {1})
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    seq, length = typical_context(continuations)
    model = target.model
    samples: Dict[int, List[float]] = {n: [] for n in sizes}
    ratios: Dict[int, List[float]] = {n: [] for n in sizes if n > 1}
    feed = seq[length: length + max(sizes)]
    with torch.inference_mode():
        timed = PassTimer(model, seq[:length], feed).seconds
        for r in range(warmup + repeats):
            if r > warmup and should_stop is not None and should_stop():
                break
            others = [n for n in sizes if n > 1]
            shift = r % max(1, len(others))
            for n in others[shift:] + others[:shift]:
                one, many = timed(1), timed(n)
                if r >= warmup:
                    samples[1].append(one)
                    samples[n].append(many)
                    ratios[n].append(many / one)
            if not others:
                one = timed(1)
                if r >= warmup:
                    samples[1].append(one)
    pass_ms = {n: median_ms(v) for n, v in samples.items() if v}
    if 1 not in pass_ms:
        raise DraftFinderError("target timing was interrupted before any measurement")
    measured = {n - 1: statistics.median(v) for n, v in ratios.items() if v}
    if not measured:
        raise DraftFinderError("target timing was interrupted before any verify pass was timed")
    curve = verify_cost_curve(measured, max_k)
    return TargetCost(context_tokens=length, pass_ms=pass_ms, verify_cost_by_k=curve.verify_cost_by_k,
                      interpolated_k=curve.ks(INTERPOLATED_V), extrapolated_k=curve.ks(EXTRAPOLATED_V),
                      verify_cost_source_by_k=dict(curve.source_by_k), extrapolation_slope_per_k=curve.slope_per_k,
                      extrapolation_method=curve.method,
                      repeats=max(0, min((len(v) for v in ratios.values()), default=len(samples[1]))),
                      warmup=warmup, step_ms=pass_ms[1], load_average=load)


def time_draft(scorer: _Scorer, target: Any, continuations: Sequence[Continuation], traces: Sequence[DraftTrace],
               target_cost: TargetCost, *, sampling: SamplingConfig, samples: int = 12, warmup: int = 2) -> DraftCost:
    """The draft's step time on this machine relative to ``target_cost.step_ms``.

    Model and layer-skip drafts: the real drafter's ``draft(ctx, 1)`` after an ``accept`` (so each call feeds the
    previous token, as in a run), context = the typical one; median of ``samples`` calls after ``warmup``.
    N-gram: the median (draft + accept) time per step of the greedy replays (all K), per call.
    """
    import torch

    if scorer.kind == "ngram":
        calls = [t for tr in traces for run in tr.runs.values()
                 for t, k_step in zip(run.draft_call_s, run.stats.k_history) if k_step > 0]
        if not calls:                                   # sampling: no replays were run; time lookups directly
            calls = _time_ngram_calls(scorer.fresh(target), continuations, sampling)
        step = median_ms(calls)
        return DraftCost(step_ms=step, cost_ratio=step / target_cost.step_ms, basis="per call", samples=len(calls),
                         method="median (draft + accept) wall time per step of the n-gram replays / target 1-token step")
    from draftfinder.engine import cache as kv
    from draftfinder.engine.speculative import model_forward, prefill

    from draftfinder.engine.device import input_device, timer

    seq, length = typical_context(continuations)
    drafter = scorer.drafter
    gen = torch.Generator().manual_seed(int(sampling.seed))
    clock = timer(input_device(target.model))            # synchronises a GPU; perf_counter on the CPU
    ids = list(seq[:length])
    times: List[float] = []
    ratios: List[float] = []
    two_ratios: List[float] = []
    with torch.inference_mode():
        cache = kv.new_cache(target.model)                # a target 1-token pass beside every draft call
        prefill(target.model, cache, ids)
        base = kv.cache_length(cache)
    two: List[float] = []
    drafter.begin(ids)
    try:
        for r in range(warmup + 2 * samples):
            with torch.inference_mode():
                t0 = clock()
                model_forward(target.model, cache, [ids[-1]])
                one = clock() - t0
                kv.rollback(cache, base)
            pending = 2 if r % 2 else 1          # alternate: after a rejection (1 token to feed) / a full accept (2)
            t0 = clock()
            tokens = drafter.draft(ids, 1, sampling, gen).tokens
            elapsed = clock() - t0
            drafted = int(tokens[0]) if tokens else int(seq[len(ids) % len(seq)])
            # next call feeds `pending` tokens: the draft (never fed) and, for 2, one more as the bonus token
            ids = ids + ([drafted] if (r + 1) % 2 == 0 else [drafted, int(seq[len(ids) % len(seq)])])
            drafter.accept(1, ids)
            if r >= warmup:
                (times if pending == 1 else two).append(elapsed)
                (ratios if pending == 1 else two_ratios).append(elapsed / one)
    finally:
        drafter.end()
    return DraftCost(step_ms=median_ms(times), cost_ratio=statistics.median(ratios), basis="per token",
                     samples=len(times),
                     method=f"median over {len(times)} pairs of (the drafter's draft(ctx, 1) after accept, feeding 1 "
                            f"token) / (a target 1-token pass), at {length} tokens of context",
                     cost_ratio_two_pending=statistics.median(two_ratios) if two_ratios else None)


def _time_ngram_calls(drafter: Any, continuations: Sequence[Continuation], sampling: SamplingConfig,
                      k: int = 4) -> List[float]:
    import torch

    gen = torch.Generator().manual_seed(int(sampling.seed))
    times: List[float] = []
    for cont in continuations:
        drafter.begin(cont.prompt_ids)
        for i in range(len(cont.tokens)):
            ids = cont.sequence[: len(cont.prompt_ids) + i + 1]
            t0 = time.perf_counter()
            drafter.draft(ids, k, sampling, gen)
            drafter.accept(0, ids)
            times.append(time.perf_counter() - t0)
        drafter.end()
    return times or [0.0]
