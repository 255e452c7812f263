"""The side-by-side timing loop: a baseline and a candidate generation on the same prompts, in one process.

The one home of the loop that ``measure --verify`` and the benches (``bench/ngram_speedup.py``,
``bench/engine_vs_hf.py``, ``bench/predicted_vs_measured.py`` through ``measure``) use to time speculative
decoding against the target alone (or our engine against transformers)::

    warm-up (untimed): one short generation of each, on the first prompt
    for round r = 1 … repeats:
        for each prompt: baseline then candidate (candidate first on even rounds, so a drift in machine load
                         hits both alike), each a full generation from the same prompt ids
        round ratio  = Σ_prompts baseline time / Σ_prompts candidate time
    speedup = median over rounds of the round ratios           (decode time: total − prefill; and total time)

Honest-benchmark habits (STYLE.md habit 11): warm-up excluded, both sides measured in the same round, medians
of repeats, the ratio formed per round before the median. Outputs are compared token for token (under greedy
decoding they must be identical). A side that cannot tell its prefill (transformers' ``generate``) reports
``prefill_s = None``, and then only total-time figures exist. Counters of the candidate (steps, drafted,
accepted) are summed over the first round.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any, Callable, List, Optional, Sequence, Tuple

from draftfinder.find.results import to_plain


@dataclass
class Run:
    """One generation as the loop sees it (an engine ``GenerationResult`` converts with :func:`as_run`)."""

    token_ids: List[int]
    total_s: float
    prefill_s: Optional[float] = None            # None: the generator does not report it
    stats: Any = None                            # engine.base.SpecStats when the generator has counters


def as_run(result: Any) -> Run:
    """A :class:`Run` from a :class:`Run` or an engine ``GenerationResult`` (its ``stats`` give the times)."""
    if isinstance(result, Run):
        return result
    s = result.stats
    return Run(list(result.token_ids), float(s.total_s), float(s.prefill_s), s)


Generate = Callable[[List[int], int], Any]       # (prompt ids, max new tokens) -> Run | GenerationResult


@dataclass
class RoundTiming:
    """One round: both sides over every prompt (sums)."""

    baseline_total_s: float
    candidate_total_s: float
    baseline_decode_s: Optional[float]           # Σ (total − prefill); None when a side reports no prefill
    candidate_decode_s: Optional[float]
    baseline_tokens: int
    candidate_tokens: int

    @property
    def decode_speedup(self) -> Optional[float]:
        if self.baseline_decode_s is None or not self.candidate_decode_s:
            return None
        return self.baseline_decode_s / self.candidate_decode_s

    @property
    def total_speedup(self) -> Optional[float]:
        return self.baseline_total_s / self.candidate_total_s if self.candidate_total_s > 0 else None

    @property
    def baseline_tokens_per_s(self) -> Optional[float]:
        return _rate(self.baseline_tokens, self.baseline_decode_s, self.baseline_total_s)

    @property
    def candidate_tokens_per_s(self) -> Optional[float]:
        return _rate(self.candidate_tokens, self.candidate_decode_s, self.candidate_total_s)

    @property
    def throughput_ratio(self) -> Optional[float]:
        """Candidate tokens/s ÷ baseline tokens/s on total time (differs from the speedup when the two sides
        produce different numbers of tokens)."""
        b = self.baseline_tokens / self.baseline_total_s if self.baseline_total_s > 0 else None
        c = self.candidate_tokens / self.candidate_total_s if self.candidate_total_s > 0 else None
        return c / b if b and c is not None else None


def _rate(tokens: int, decode_s: Optional[float], total_s: float) -> Optional[float]:
    t = decode_s if decode_s is not None else total_s
    return tokens / t if t and t > 0 else None


def _median(values: Sequence[Optional[float]]) -> Optional[float]:
    xs = [v for v in values if v is not None]
    return statistics.median(xs) if xs else None


@dataclass
class SideBySide:
    """The result of :func:`side_by_side`. Speedups and rates are medians over rounds."""

    baseline: str                                # labels, e.g. "target only" / "speculative K=4"
    candidate: str
    prompts: int
    repeats: int
    max_new_tokens: int
    rounds: List[RoundTiming] = field(default_factory=list)
    outputs_identical: bool = True               # candidate tokens == baseline tokens on every prompt and round
    mismatch_prompt_ids: List[str] = field(default_factory=list)
    candidate_steps: int = 0                     # first round, from the candidate's counters (0 without counters)
    candidate_drafted: int = 0
    candidate_accepted: int = 0
    candidate_reached: int = 0                   # drafts reached (Σ position_drafted): the run's own α denominator
    stopped: bool = False                        # should_stop() ended it early (fewer prompts or rounds)

    @property
    def decode_speedup(self) -> Optional[float]:
        return _median([r.decode_speedup for r in self.rounds])

    @property
    def total_speedup(self) -> Optional[float]:
        return _median([r.total_speedup for r in self.rounds])

    @property
    def throughput_ratio(self) -> Optional[float]:
        return _median([r.throughput_ratio for r in self.rounds])

    @property
    def baseline_tokens_per_s(self) -> Optional[float]:
        return _median([r.baseline_tokens_per_s for r in self.rounds])

    @property
    def candidate_tokens_per_s(self) -> Optional[float]:
        return _median([r.candidate_tokens_per_s for r in self.rounds])

    @property
    def candidate_tokens(self) -> int:
        return self.rounds[0].candidate_tokens if self.rounds else 0

    @property
    def accepted_per_drafted(self) -> Optional[float]:
        return self.candidate_accepted / self.candidate_drafted if self.candidate_drafted else None

    @property
    def observed_acceptance(self) -> Optional[float]:
        return self.candidate_accepted / self.candidate_reached if self.candidate_reached else None

    @property
    def tokens_per_step(self) -> Optional[float]:
        return self.candidate_tokens / self.candidate_steps if self.candidate_steps else None

    def to_dict(self) -> dict:
        d = to_plain(self)
        for name in ("decode_speedup", "total_speedup", "throughput_ratio", "baseline_tokens_per_s",
                     "candidate_tokens_per_s", "accepted_per_drafted", "observed_acceptance", "tokens_per_step"):
            d[name] = getattr(self, name)
        d["decode_speedups"] = [r.decode_speedup for r in self.rounds]
        d["total_speedups"] = [r.total_speedup for r in self.rounds]
        return d


def side_by_side(prompts: Sequence[Tuple[str, List[int]]], baseline: Generate, candidate: Generate, *,
                 max_new_tokens: int, repeats: int = 1, warmup_tokens: int = 8, labels: Tuple[str, str] = (
                     "baseline", "candidate"), alternate: bool = True,
                 should_stop: Optional[Callable[[], bool]] = None,
                 progress: Optional[Callable[[int, int, str], None]] = None) -> SideBySide:
    """Time ``baseline`` and ``candidate`` on the same ``(prompt_id, ids)`` prompts (module docstring).

    ``warmup_tokens`` (0: none) — the untimed warm-up generation of each side on the first prompt.
    ``alternate`` — run the candidate first on even rounds. ``should_stop()`` is polled before every prompt;
    a round cut short is dropped (its sums would not cover the same prompts as the others), unless it is the
    first, which is kept over the prompts it covered. ``progress(done, total, prompt_id)``.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    if not prompts:
        raise ValueError("no prompts to time")
    stop = should_stop or (lambda: False)
    out = SideBySide(labels[0], labels[1], prompts=0, repeats=0, max_new_tokens=max_new_tokens)
    if warmup_tokens > 0:
        first = prompts[0][1]
        baseline(first, warmup_tokens)
        candidate(first, warmup_tokens)
    total = repeats * len(prompts)
    for r in range(repeats):
        sums = [0.0, 0.0, 0.0, 0.0, 0, 0]         # base total, cand total, base decode, cand decode, tokens ×2
        decode_known = True
        done = 0
        for pid, ids in prompts:
            if stop():
                break
            if progress:
                progress(r * len(prompts) + done, total, pid)
            order = (candidate, baseline) if (alternate and r % 2 == 1) else (baseline, candidate)
            first_run = as_run(order[0](ids, max_new_tokens))
            second_run = as_run(order[1](ids, max_new_tokens))
            base, cand = (first_run, second_run) if order[0] is baseline else (second_run, first_run)
            sums[0] += base.total_s
            sums[1] += cand.total_s
            if base.prefill_s is None or cand.prefill_s is None:
                decode_known = False
            else:
                sums[2] += base.total_s - base.prefill_s
                sums[3] += cand.total_s - cand.prefill_s
            sums[4] += len(base.token_ids)
            sums[5] += len(cand.token_ids)
            if cand.token_ids != base.token_ids:
                out.outputs_identical = False
                if pid not in out.mismatch_prompt_ids:
                    out.mismatch_prompt_ids.append(pid)
            if r == 0 and cand.stats is not None:
                s = cand.stats
                out.candidate_steps += s.steps
                out.candidate_drafted += s.drafted
                out.candidate_accepted += s.accepted
                out.candidate_reached += sum(s.position_drafted)
            done += 1
        if done < len(prompts):
            out.stopped = True
            if r > 0 or done == 0:
                break
        out.rounds.append(RoundTiming(sums[0], sums[1], sums[2] if decode_known else None,
                                      sums[3] if decode_known else None, int(sums[4]), int(sums[5])))
        out.prompts = max(out.prompts, done)
        out.repeats += 1
        if out.stopped:
            break
    if progress:
        progress(total, total, "done")
    return out
