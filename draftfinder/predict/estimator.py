"""``SpeedupEstimator``: the manual's API (§11.1), computed the right way.

The manual's formula ``(1 + α·k) / (1 + k·latency_ratio)`` with ``latency_ratio = (draft_mem/target_mem)^0.65``
and a cap is replaced by:

- α from :func:`acceptance.prior_acceptance` (a prior fitted to published measurements), or a measured α;
- c = T_draft / T_target and the verify cost T_target(k+1)/T_target(1) from the latency model in
  :mod:`hardware` (a roofline of batch-1 decoding on a named hardware profile), or a measured c;
- the speedup from Leviathan et al. 2023, Theorem 3.8, with the verify-cost extension
  (:func:`estimate.expected_speedup`), maximised over every K in 1 … max_k (:func:`estimate.optimal_k`).

Every number in a :class:`SpeedupEstimate` carries a :class:`schema.Provenance` saying whether it was
measured or estimated, by which method and on which hardware profile.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Union

from draftfinder.predict import speedup as est
from draftfinder.predict import latency as hw
from draftfinder.predict.acceptance import AcceptanceEstimate, prior_acceptance
from draftfinder.constants import ESTIMATED, MAX_K, MEASURED
from draftfinder.find.results import Provenance, Task, to_plain

SPEEDUP_METHOD = "Leviathan et al. 2023 Thm 3.8 with verify cost: (1−α^(k+1)) / ((1−α)(k·c + T(k+1)/T(1)))"


@dataclass
class SpeedupEstimate:
    """Everything the estimator derived for one target/draft pair on one hardware profile."""

    hardware: str
    acceptance_rate: float                       # α used
    cost_ratio: float                            # c = draft 1-token step / target 1-token step
    verify_cost_by_k: Dict[int, float]           # k -> T_target(k+1 tokens) / T_target(1 token)
    speedup_by_k: Dict[int, float]               # k -> expected walltime speedup
    recommended_k: int
    speedup: float                               # at recommended_k
    expected_tokens_per_step: float              # at recommended_k
    target_step_ms: float                        # plain decoding, one target step (latency model)
    draft_step_ms: float                         # one draft step (latency model, or c × target when c is measured)
    target_tokens_per_s: float                   # plain decoding
    speculative_tokens_per_s: float              # with speculation at recommended_k
    acceptance_low: Optional[float] = None       # α band
    acceptance_high: Optional[float] = None
    speedup_low: Optional[float] = None          # speedup at recommended_k for the α band ends
    speedup_high: Optional[float] = None
    break_even_acceptance: Optional[float] = None   # α at which recommended_k just breaks even
    worthwhile: bool = True                      # speedup > 1
    provenance: Dict[str, Provenance] = field(default_factory=dict)
    verify_cost_source_by_k: Dict[int, str] = field(default_factory=dict)   # k -> estimated | measured |
                                                                            # interpolated | extrapolated

    def to_dict(self) -> Dict[str, Any]:
        return to_plain(self)


def _name(model: Any) -> str:
    return getattr(model, "model_id", None) or "model"


class SpeedupEstimator:
    """Acceptance, speedup and K for a target/draft pair (manual §11.1 names and signatures, plus ``evaluate``)."""

    # --- acceptance -------------------------------------------------------------------------------------
    @staticmethod
    def estimate_acceptance(
        target_info: Any,
        draft_info: Any,
        same_family: bool,
        tokenizer_match: bool,
        tokenization_match_rate: float,
        task: Task = Task.GENERAL,
        *,
        base_rate: Optional[float] = None,
        same_family_bonus: Optional[float] = None,
        tokenizer_match_bonus: Optional[float] = None,
    ) -> AcceptanceEstimate:
        """The acceptance prior with its band (see :func:`acceptance.prior_acceptance`).

        ``tokenizer_match`` False with ``tokenization_match_rate`` 1.0 (e.g. a padded vocabulary that tokenizes
        identically) is treated as compatible; the rate is what scales α.
        """
        rate = float(tokenization_match_rate)
        if not tokenizer_match and rate >= 1.0:
            rate = 1.0
        return prior_acceptance(
            float(target_info.num_parameters),
            float(draft_info.num_parameters),
            same_family=bool(same_family),
            task=task,
            draft_bits=getattr(draft_info, "bits_per_param", 16) or 16,
            target_bits=getattr(target_info, "bits_per_param", 16) or 16,
            tokenization_match_rate=rate,
            base_rate=base_rate,
            same_family_bonus=same_family_bonus,
            tokenizer_match_bonus=tokenizer_match_bonus,
        )

    @staticmethod
    def estimate_acceptance_rate(
        target_info: Any,
        draft_info: Any,
        same_family: bool,
        tokenizer_match: bool,
        tokenization_match_rate: float,
        task: Task = Task.GENERAL,
        **overrides: Optional[float],
    ) -> float:
        """Estimated α (manual §11.1). ``overrides``: base_rate, same_family_bonus, tokenizer_match_bonus."""
        return SpeedupEstimator.estimate_acceptance(
            target_info, draft_info, same_family, tokenizer_match, tokenization_match_rate, task, **overrides
        ).alpha

    # --- speedup ----------------------------------------------------------------------------------------
    @staticmethod
    def estimate_speedup(
        target_info: Any,
        draft_info: Any,
        acceptance_rate: float,
        k: int = 4,
        hardware: Union[str, hw.HardwareProfile, None] = None,
    ) -> float:
        """Expected walltime speedup at this K on ``hardware`` (default ``constants.DEFAULT_HARDWARE``)."""
        profile = hw.get_profile(hardware)
        c = hw.cost_ratio(target_info, draft_info, profile)
        return est.expected_speedup(acceptance_rate, k, c, hw.verify_cost(target_info, k, profile))

    @staticmethod
    def recommend_k(
        target_info: Any,
        draft_info: Any,
        acceptance_rate: float,
        hardware: Union[str, hw.HardwareProfile, None] = None,
        max_k: int = MAX_K,
    ) -> int:
        """The K in 1 … max_k with the highest expected speedup (no bins, no caps)."""
        profile = hw.get_profile(hardware)
        c = hw.cost_ratio(target_info, draft_info, profile)
        k, _ = est.optimal_k(acceptance_rate, c, hw.verify_cost_fn(target_info, profile), max_k)
        return k

    @staticmethod
    def evaluate(
        target_info: Any,
        draft_info: Any,
        acceptance: Union[float, AcceptanceEstimate],
        hardware: Union[str, hw.HardwareProfile, None] = None,
        max_k: int = MAX_K,
        *,
        cost_ratio: Optional[float] = None,
        acceptance_source: str = ESTIMATED,
        acceptance_method: Optional[str] = None,
        verify_costs: Optional[Dict[int, float]] = None,
        verify_cost_sources: Optional[Dict[int, str]] = None,
        verify_cost_method: Optional[str] = None,
    ) -> SpeedupEstimate:
        """Cost ratio, verify costs, speedup for every K, the best K, and the provenance of each figure.

        ``acceptance``: an :class:`AcceptanceEstimate` (its source/method/band are used) or a bare α, labelled
        ``acceptance_source`` (pass ``constants.MEASURED`` for a measured α). ``cost_ratio``: a measured c;
        when given it replaces the latency model's c and is labelled measured. ``verify_costs``: v(K) from a
        measurement (``{K: v}``, each labelled by ``verify_cost_sources``: measured / interpolated /
        extrapolated; ``verify_cost_method`` says how they were taken); they replace the latency model's v(K)
        at those K, the model fills the rest (labelled estimated in ``verify_cost_source_by_k``).
        """
        profile = hw.get_profile(hardware)
        if isinstance(acceptance, AcceptanceEstimate):
            alpha, low, high = acceptance.alpha, acceptance.low, acceptance.high
            a_prov = Provenance(acceptance.source, acceptance.method or "acceptance estimate", acceptance.detail)
        else:
            alpha, low, high = float(acceptance), None, None
            a_prov = Provenance(
                acceptance_source,
                acceptance_method or ("measured acceptance rate" if acceptance_source == MEASURED
                                      else "acceptance rate supplied by the caller"),
            )
        est._check_alpha(alpha)  # fail early with the estimate module's message

        target_ms = hw.model_step_ms(target_info, 1, profile)
        hw_note = f"hardware profile {profile.name}"
        if cost_ratio is None:
            c = hw.cost_ratio(target_info, draft_info, profile)
            draft_ms = hw.model_step_ms(draft_info, 1, profile)
            c_prov = Provenance(ESTIMATED, f"latency model ({profile.name})",
                                "max(weight bytes / effective bandwidth, 2·params·tokens / effective FLOP/s) "
                                "+ layers × per-layer overhead; draft step / target step, 1 token each")
        else:
            c = est._check_c(cost_ratio)
            draft_ms = c * target_ms
            c_prov = Provenance(MEASURED, "measured cost ratio supplied by the caller")

        vfn = hw.verify_cost_fn(target_info, profile)
        given = {int(k): float(v) for k, v in (verify_costs or {}).items() if 1 <= int(k) <= max_k}
        verify = {k: given[k] if k in given else vfn(k) for k in range(1, max_k + 1)}
        v_sources = {k: ((verify_cost_sources or {}).get(k, MEASURED) if k in given else ESTIMATED)
                     for k in range(1, max_k + 1)}
        if given:
            by_source: Dict[str, list] = {}
            for k, src in v_sources.items():
                by_source.setdefault(src, []).append(k)
            detail = "; ".join(f"{src} for K = {','.join(map(str, ks))}" for src, ks in by_source.items())
            v_prov = Provenance(MEASURED, verify_cost_method or "measured T_target(k+1 tokens) / T_target(1 token)",
                                detail + (f" (latency model {profile.name})" if ESTIMATED in by_source else ""))
        else:
            v_prov = Provenance(ESTIMATED, f"latency model ({profile.name})", "T_target(k+1 tokens) / T_target(1 token)")
        curve = est.speedup_curve(alpha, c, lambda k: verify[k], max_k)
        best_k = max(curve, key=lambda k: (curve[k], -k))
        speedup = curve[best_k]
        s_low = est.expected_speedup(low, best_k, c, verify[best_k]) if low is not None else None
        s_high = est.expected_speedup(high, best_k, c, verify[best_k]) if high is not None else None

        v_note = f"verify cost at k={best_k} {v_sources[best_k]}" + (f" ({hw_note})" if v_sources[best_k] == ESTIMATED
                                                                       else "")
        inputs = f"α {a_prov.source}, c {c_prov.source}, {v_note}"
        provenance = {
            "acceptance_rate": a_prov,
            "cost_ratio": c_prov,
            "verify_cost_by_k": v_prov,
            "speedup_by_k": Provenance(ESTIMATED, SPEEDUP_METHOD, inputs),
            "recommended_k": Provenance(ESTIMATED, f"argmax of expected speedup over k = 1…{max_k}", inputs),
            "speedup": Provenance(ESTIMATED, SPEEDUP_METHOD, inputs),
            "target_step_ms": Provenance(ESTIMATED, f"latency model ({profile.name})"),
            "draft_step_ms": Provenance(
                ESTIMATED if cost_ratio is None else MEASURED,
                f"latency model ({profile.name})" if cost_ratio is None else "measured c × modelled target step",
            ),
        }
        return SpeedupEstimate(
            hardware=profile.name,
            acceptance_rate=alpha,
            cost_ratio=c,
            verify_cost_by_k=verify,
            speedup_by_k=curve,
            recommended_k=best_k,
            speedup=speedup,
            expected_tokens_per_step=est.expected_tokens_per_step(alpha, best_k),
            target_step_ms=target_ms,
            draft_step_ms=draft_ms,
            target_tokens_per_s=1000.0 / target_ms,
            speculative_tokens_per_s=est.tokens_per_second(target_ms, speedup),
            acceptance_low=low,
            acceptance_high=high,
            speedup_low=s_low,
            speedup_high=s_high,
            break_even_acceptance=est.break_even_alpha(best_k, c, verify[best_k]),
            worthwhile=speedup > 1.0,
            provenance=provenance,
            verify_cost_source_by_k=v_sources,
        )


__all__ = ["SpeedupEstimator", "SpeedupEstimate", "SPEEDUP_METHOD"]
