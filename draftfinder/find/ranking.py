"""Quality score, tier and warnings of a draft candidate (manual §4.2–4.4, §7.4).

Score (0–100) = 40·speedup + 30·acceptance + 15·size_ratio + 10·family + 5·tokenization, each component in
[0, 1] (manual §4.3 weights):

- speedup:      (S − 1) / (S_full − 1) clipped, S_full = 3.0× (a 3× speedup earns the full 40 points);
- acceptance:   α itself (the expected per-token acceptance);
- size ratio:   1 inside the optimal band [optimal_min, optimal_max] (manual §4.4 / config
                ``performance.optimal_size_ratio_*``), falling linearly in log10 ratio to 0 one decade away;
- family:       1 for the same family, else 0;
- tokenization: the tokenization test match rate.

Tier (manual §4.2): the best tier whose score, acceptance *and* speedup thresholds are all met —
EXCELLENT ≥80 / α ≥0.80 / ≥2.0×, GOOD ≥65 / ≥0.70 / ≥1.5×, ACCEPTABLE ≥50 / ≥0.60 / ≥1.3×,
MARGINAL ≥35 / ≥0.50 / ≥1.2×, else POOR.

Ranking (:func:`rank_key`): the expert's rule first, then the expected speedup on the chosen hardware, not the
score — the score and tier stay as columns. The sort key is ``(variant tier, −speedup rounded to 0.01×, basis,
−quality score, model id)``:

0. **the expert's pick first** (:mod:`draftfinder.find.expert`): an instruct/chat target gets the instruct/chat
   drafts of its family first — same EOS and chat template tuning, its own line (Coder for Coder) before other
   lines — then drafts whose variant is unknown, then the flagged ones: a base draft ("base model: EOS/chat
   template differ"), or any draft whose EOS differs. A base target gets base drafts first, the same way. The
   tier never lifts a draft above one that fits the device's memory;
1. the expected speedup at the recommended K, highest first, compared at the 0.01× the report prints;
2. on a tie, the better-founded number first: ``measured`` before ``published`` before ``estimated``. The
   basis of a speedup is the weakest source among its inputs — α, c and the verify cost v(K)
   (:func:`speedup_basis`): a saved ``draftfinder measure`` of the pair makes α measured, and c measured on
   the ``cpu`` profile (the machine it was timed on); otherwise they come from the acceptance prior and the
   latency model (estimated). A speedup that is itself published is ``published``: it replaces an estimated
   one only when a published row is about the same pair (target and draft models and weight formats) on
   the chosen hardware preset, with the chosen engine, for the chosen task (find/published_basis.py); the
   model's estimate is kept beside it. Published rows of the pair in any other setup are shown, never used;
3. then the higher quality score, then the model id (case-insensitive, alphabetical).

A pair that does not fit the device's memory (:mod:`draftfinder.predict.memory`) has no speedup: it ranks below
every pair that fits; among those, the variant tier first, then the least memory needed.

So the usage snippet, written for row 1, is for the draft with the highest expected speedup.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, List, Mapping, Tuple

from draftfinder.constants import ESTIMATED, MEASURED, PUBLISHED
from draftfinder.find.results import QualityTier

WEIGHTS = {"speedup": 40.0, "acceptance": 30.0, "size_ratio": 15.0, "family": 10.0, "tokenization": 5.0}
FULL_MARKS_SPEEDUP = 3.0

# (tier, min score, min acceptance, min speedup) — manual §4.2, best first.
TIER_THRESHOLDS = [
    (QualityTier.EXCELLENT, 80.0, 0.80, 2.0),
    (QualityTier.GOOD, 65.0, 0.70, 1.5),
    (QualityTier.ACCEPTABLE, 50.0, 0.60, 1.3),
    (QualityTier.MARGINAL, 35.0, 0.50, 1.2),
]

# Evidence order of a speedup's basis (lower is better founded).
BASIS_ORDER = {MEASURED: 0, PUBLISHED: 1, ESTIMATED: 2}
# The provenance entries a speedup is computed from (α, c, v(K)); the first name present is used for α.
SPEEDUP_INPUTS = (("acceptance_rate_estimate", "acceptance_rate"), ("cost_ratio",), ("verify_cost_by_k",))
RANK_ORDER = ["fits the device's memory (pairs that do not fit last, least memory needed first)",
              "variant.tier (the target's variant and line first: instruct/chat drafts for an instruct target, "
              "base drafts for a base target; flagged variants and other EOS last)",
              "estimated_speedup (highest first, at 0.01x)", "speedup_basis (measured, published, estimated)",
              "quality_score (highest first)", "model_id (alphabetical)"]
RANKING_RULE = ("an instruct/chat target's instruct/chat drafts of the same family first (same EOS and chat "
                "template tuning; its own line before other lines), a base target's base drafts first; drafts of "
                "unknown variant next and flagged ones (base draft for an instruct target, another EOS) last; "
                "within that, ranked by the expected speedup at the recommended K on the chosen hardware (highest first, "
                "compared at 0.01x); ties: measured before published before estimated speedups, then the higher "
                "quality score, then the model id. A speedup's basis is the weakest of its inputs (acceptance "
                "rate, cost ratio, verify cost): measured when a saved `draftfinder measure` of the pair supplies "
                "them for this hardware, else estimated. Pairs that do not fit the device's memory have no speedup "
                "and come last, those needing the least memory first; published when a published measurement of the same "
                "pair, weight formats, hardware, engine and task replaces an estimated speedup")


def _clip(x: float) -> float:
    return max(0.0, min(1.0, x))


def size_ratio_component(ratio: float, optimal_min: float, optimal_max: float) -> float:
    """1 inside [optimal_min, optimal_max]; linear in log10 distance to the band, 0 one decade away."""
    if ratio <= 0:
        return 0.0
    if optimal_min <= ratio <= optimal_max:
        return 1.0
    edge = optimal_min if ratio < optimal_min else optimal_max
    return _clip(1.0 - abs(math.log10(ratio / edge)))


@dataclass
class ScoreBreakdown:
    speedup: float
    acceptance: float
    size_ratio: float
    family: float
    tokenization: float

    @property
    def total(self) -> float:
        return sum(WEIGHTS[name] * getattr(self, name) for name in WEIGHTS)


def quality_score(speedup: float, acceptance: float, size_ratio: float, same_family: bool,
                  tokenization_match_rate: float, optimal_min: float = 0.1,
                  optimal_max: float = 0.3) -> ScoreBreakdown:
    """The manual's weighted score, components in [0, 1] (see module docstring)."""
    return ScoreBreakdown(
        speedup=_clip((speedup - 1.0) / (FULL_MARKS_SPEEDUP - 1.0)),
        acceptance=_clip(acceptance),
        size_ratio=size_ratio_component(size_ratio, optimal_min, optimal_max),
        family=1.0 if same_family else 0.0,
        tokenization=_clip(tokenization_match_rate),
    )


def quality_tier(score: float, acceptance: float, speedup: float) -> QualityTier:
    """Best tier whose three thresholds are all met (manual §4.2)."""
    for tier, min_score, min_alpha, min_speedup in TIER_THRESHOLDS:
        if score >= min_score and acceptance >= min_alpha and speedup >= min_speedup:
            return tier
    return QualityTier.POOR


def speedup_basis(provenance: Mapping[str, Any]) -> str:
    """``measured`` | ``published`` | ``estimated``: the weakest source among the speedup's inputs (α, c, v(K)).

    ``provenance`` maps field names to :class:`~draftfinder.find.results.Provenance` (or dicts with ``source``).
    A speedup whose own provenance is measured (timed side by side) is measured whatever its inputs; one whose
    own provenance is published (find/published_basis.py) is published.
    """
    def source(entry: Any) -> str:
        return entry["source"] if isinstance(entry, Mapping) else entry.source

    own = provenance.get("estimated_speedup") or provenance.get("speedup")
    if own is not None and source(own) == MEASURED:
        return MEASURED
    if own is not None and source(own) == PUBLISHED:      # a published speedup of the same setup (published_basis)
        return PUBLISHED
    worst = BASIS_ORDER[MEASURED]
    for names in SPEEDUP_INPUTS:
        entry = next((provenance[n] for n in names if n in provenance), None)
        rank = BASIS_ORDER.get(source(entry), BASIS_ORDER[ESTIMATED]) if entry is not None else BASIS_ORDER[ESTIMATED]
        worst = max(worst, rank)
    return next(name for name, rank in BASIS_ORDER.items() if rank == worst)


def rank_key(candidate: Any) -> Tuple[int, int, float, int, float, str]:
    """Sort key of a :class:`~draftfinder.find.results.DraftModelCandidate` (see the module docstring)."""
    from draftfinder.find.expert import TIER_UNKNOWN

    variant = getattr(candidate, "variant", None)
    tier = variant.tier if variant is not None else TIER_UNKNOWN
    if candidate.estimated_speedup is None:            # does not fit: after every pair that does
        needed = getattr(getattr(candidate, "fit", None), "required_gb", None) or 0.0
        return (1, tier, needed, BASIS_ORDER.get(candidate.speedup_basis, 2), -candidate.quality_score,
                candidate.model_id.lower())
    return (0, tier, -round(candidate.estimated_speedup, 2), BASIS_ORDER.get(candidate.speedup_basis, 2),
            -candidate.quality_score, candidate.model_id.lower())


def candidate_warnings(*, size_ratio: float, quantized: bool, quantization: str, official: bool,
                       tokenization_match_rate: float, num_tests: int, speedup: float,
                       engine_problems: List[str], is_peft: bool = False, basis: str = ESTIMATED) -> List[str]:
    """The manual's §7.4 warnings, plus engine rejections and a below-1× speedup (``basis`` names its kind)."""
    out: List[str] = []
    if size_ratio < 0.01:
        out.append("Very small model - may have poor quality (< 1% of target size)")
    if size_ratio > 0.5:
        out.append("Large draft model - limited speedup benefit (> 50% of target size)")
    if quantized:
        out.append(f"Quantized variant ({quantization})")
    if not official:
        out.append("Community model (not official)")
    if num_tests and tokenization_match_rate < 1.0:
        out.append(f"Tokenization mismatch on {100 * (1 - tokenization_match_rate):.0f}% of tests")
    if speedup < 1.0:
        out.append(f"{basis.capitalize()} speedup below 1× ({speedup:.2f}×): the draft costs more than it saves here")
    if is_peft:
        out.append("PEFT adapter: needs its base model loaded with the adapter")
    out.extend(engine_problems)
    return out
