"""``SpeedupEstimator``: the manual's API (§11.1), computed per engine, device and weight format.

The manual's formula ``(1 + α·k) / (1 + k·latency_ratio)`` with ``latency_ratio = (draft_mem/target_mem)^0.65``
and a cap is replaced by:

- acceptance from :func:`acceptance.prior_acceptance` (a prior fitted to published measurements) or a given
  figure in any of three vocabularies (``acceptance_kind``): ``alpha`` (per drafted token, Leviathan 2023 §3.1),
  ``rate`` (accepted ÷ drafted, llama.cpp/draftbench) or ``al`` (tokens per target pass with the bonus token,
  vLLM/SGLang/Spec-Bench), converted with the engine's drafting policy at the K it was measured at
  (:mod:`draftfinder.predict.drafting`);
- step times of target and draft (each at its own weight format) from the latency model
  (:mod:`draftfinder.predict.latency`) for the engine on the device at context ``ctx``, or a measured c / v(K);
- per K (llama.cpp: ``--spec-draft-n-max`` with the ``p_min`` confidence gate, whose draft lengths vary; the other
  engines: exactly K drafts) the expected tokens and milliseconds per step (:func:`drafting.expected_speedup`,
  which is Leviathan 2023 Thm 3.8 with the verify-cost extension when the drafts are a fixed K), maximised over
  K = 1 … max_k.

Every number in a :class:`SpeedupEstimate` carries a :class:`Provenance` saying whether it was measured or
estimated, by which method, on which engine and device.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Optional, Union

from draftfinder.constants import ESTIMATED, MAX_K, MEASURED
from draftfinder.find.results import Provenance, Task, to_plain
from draftfinder.predict import drafting
from draftfinder.predict import latency as hw
from draftfinder.predict import speedup as est
from draftfinder.predict.acceptance import AcceptanceEstimate, prior_acceptance
from draftfinder.predict.engine_costs import engine_costs

SPEEDUP_METHOD = ("expected tokens per step ÷ expected step time: Leviathan et al. 2023 Thm 3.8 with verify cost "
                  "(1−α^(k+1)) / ((1−α)(k·c + T(k+1)/T(1))) for a fixed K; over the gated draft lengths for llama.cpp")
ACCEPTANCE_KINDS = ("alpha", "rate", "al")


@dataclass
class SpeedupEstimate:
    """Everything the estimator derived for one target/draft pair on one engine and device."""

    hardware: str                                # the device's name
    acceptance_rate: float                       # α: acceptance per drafted token (after any conversion)
    cost_ratio: float                            # c = draft 1-token step / target 1-token step
    verify_cost_by_k: Dict[int, float]           # k -> T_target(k+1 tokens) / T_target(1 token)
    speedup_by_k: Dict[int, float]               # k -> expected walltime speedup (llama.cpp: k = n_max)
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
    engine: str = ""
    ctx: int = 0
    target_format: str = ""
    draft_format: str = ""
    draft_policy: str = ""                       # "fixed K" or "confidence-gated: n_max K, p_min P"
    draft_p_min: float = 0.0
    expected_drafted_per_step: float = 0.0       # E[D] at recommended_k
    acceptance_kind: str = "alpha"               # what the caller gave
    acceptance_given: Optional[float] = None     # the figure as given (before conversion to α)
    acceptance_rate_llamacpp: Optional[float] = None   # accepted ÷ drafted at recommended_k
    acceptance_length: Optional[float] = None          # tokens per target pass at recommended_k

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
    def estimate_speedup(target_info: Any, draft_info: Any, acceptance_rate: float, k: int = 4,
                         hardware: Any = None, **kw: Any) -> float:
        """Expected walltime speedup at this K (manual §11.1); ``kw`` as :meth:`evaluate` (engine, device, ctx …)."""
        est._check_k(k)
        return SpeedupEstimator.evaluate(target_info, draft_info, acceptance_rate, hardware, k, **kw).speedup_by_k[k]

    @staticmethod
    def recommend_k(target_info: Any, draft_info: Any, acceptance_rate: float, hardware: Any = None,
                    max_k: int = MAX_K, **kw: Any) -> int:
        """The K in 1 … max_k with the highest expected speedup (no bins, no caps)."""
        return SpeedupEstimator.evaluate(target_info, draft_info, acceptance_rate, hardware, max_k, **kw).recommended_k

    @staticmethod
    def evaluate(
        target_info: Any,
        draft_info: Any,
        acceptance: Union[float, AcceptanceEstimate],
        hardware: Any = None,
        max_k: int = MAX_K,
        *,
        engine: Optional[str] = None,
        device: Any = None,
        ctx: int = 0,
        draft_format: Optional[str] = None,
        target_format: Optional[str] = None,
        acceptance_kind: str = "alpha",
        acceptance_k: Optional[int] = None,
        draft_p_min: Optional[float] = None,
        cost_ratio: Optional[float] = None,
        acceptance_source: str = ESTIMATED,
        acceptance_method: Optional[str] = None,
        verify_costs: Optional[Dict[int, float]] = None,
        verify_cost_sources: Optional[Dict[int, str]] = None,
        verify_cost_method: Optional[str] = None,
    ) -> SpeedupEstimate:
        """Cost ratio, verify costs, speedup for every K, the best K, and the provenance of each figure.

        ``device`` (a device, preset name or profile; default ``hardware``, then ``constants.DEFAULT_HARDWARE``) and
        ``engine`` (default :func:`latency.default_engine` for the target's format) choose the latency constants;
        ``ctx`` is the context length (KV traffic); ``draft_format``/``target_format`` run a model at another weight
        format than its own. ``acceptance``: an :class:`AcceptanceEstimate` (its source/method/band are used) or a
        figure of ``acceptance_kind`` (``alpha`` | ``rate`` | ``al``), labelled ``acceptance_source``; a rate or
        an acceptance length is converted to α with the engine's drafting policy at ``acceptance_k`` (default: the
        engine's default n_max, else ``max_k``). ``draft_p_min``: llama.cpp's gate (default the engine's, 0.75;
        0 drafts exactly K). ``cost_ratio``: a measured c replacing the model's (labelled measured).
        ``verify_costs``: measured v(K) = T(K+1)/T(1) (``{K: v}``, each labelled by ``verify_cost_sources``;
        ``verify_cost_method`` says how they were taken); the model fills the other K.
        """
        dev = hw.resolve_device(device if device is not None else hardware)
        target = hw.ModelShape.of(target_info, target_format)
        draft = hw.ModelShape.of(draft_info, draft_format)
        eng = engine or hw.default_engine(target.weight_format, dev.kind)
        costs = engine_costs(eng, dev.kind)
        est._check_k(max_k, "max_k")
        p_min = float(costs.default_p_min if draft_p_min is None else draft_p_min) if costs.gated_drafting else 0.0

        def policy(k: int) -> drafting.DraftPolicy:
            return drafting.DraftPolicy(k, p_min)

        if acceptance_kind not in ACCEPTANCE_KINDS:
            raise ValueError(f"acceptance_kind must be one of {', '.join(ACCEPTANCE_KINDS)}, got {acceptance_kind!r}")
        given_k = acceptance_k or costs.default_n_max or max_k
        if isinstance(acceptance, AcceptanceEstimate):
            alpha, low, high = acceptance.alpha, acceptance.low, acceptance.high
            a_prov = Provenance(acceptance.source, acceptance.method or "acceptance estimate", acceptance.detail)
            given = alpha
        else:
            given = float(acceptance)
            alpha, low, high = _to_alpha(given, acceptance_kind, policy(given_k)), None, None
            a_prov = Provenance(
                acceptance_source,
                acceptance_method or ("measured acceptance rate" if acceptance_source == MEASURED
                                      else "acceptance rate supplied by the caller"),
                None if acceptance_kind == "alpha" else
                f"{acceptance_kind} {given:g} at K = {given_k} converted to α = {alpha:.4f} ({policy(given_k).describe()})",
            )
        est._check_alpha(alpha)

        where = f"{eng} on {getattr(dev, 'name', '?')}" + (f", ctx {ctx}" if ctx else "")
        target_ms = hw.step_ms(target, 1, dev, eng, ctx=ctx)
        if cost_ratio is None:
            draft_ms = hw.step_ms(draft, 1, dev, eng, ctx=ctx)
            c = draft_ms / target_ms
            c_prov = Provenance(ESTIMATED, f"latency model ({where})",
                                f"draft step ({draft.weight_format}) / target step ({target.weight_format}), 1 token "
                                "each: weight bytes / effective bandwidth + dequantization + overheads")
        else:
            c = est._check_c(cost_ratio)
            draft_ms = c * target_ms
            c_prov = Provenance(MEASURED, "measured cost ratio supplied by the caller")

        given_v = {int(k): float(v) for k, v in (verify_costs or {}).items() if 1 <= int(k) <= max_k}
        model_ms = {n: hw.step_ms(target, n, dev, eng, ctx=ctx) for n in range(1, max_k + 2)}

        def t_ms(n: int) -> float:                      # target time for n tokens: measured v where given
            return target_ms * given_v[n - 1] if (n - 1) in given_v else model_ms[n]

        verify = {k: t_ms(k + 1) / target_ms for k in range(1, max_k + 1)}
        v_sources = {k: ((verify_cost_sources or {}).get(k, MEASURED) if k in given_v else ESTIMATED)
                     for k in range(1, max_k + 1)}
        curve = {k: drafting.expected_speedup(alpha, policy(k), draft_ms, t_ms) for k in range(1, max_k + 1)}
        best_k = max(curve, key=lambda k: (curve[k], -k))
        speedup = curve[best_k]

        def s_at(a: float) -> float:
            return drafting.expected_speedup(a, policy(best_k), draft_ms, t_ms)

        if given_v:
            by_source: Dict[str, list] = {}
            for k, src in v_sources.items():
                by_source.setdefault(src, []).append(k)
            detail = "; ".join(f"{src} for K = {','.join(map(str, ks))}" for src, ks in by_source.items())
            v_prov = Provenance(MEASURED, verify_cost_method or "measured T_target(k+1 tokens) / T_target(1 token)",
                                detail + (f" (latency model, {where})" if ESTIMATED in by_source else ""))
        else:
            step = hw.step_breakdown(target, best_k + 1, dev, eng, ctx=ctx)
            v_prov = Provenance(ESTIMATED, f"latency model ({where})",
                                f"T_target(k+1 tokens) / T_target(1 token); at K = {best_k}: {step.kernel}, "
                                f"{step.bound}-bound")
        pol = policy(best_k)
        v_note = f"verify cost at k={best_k} {v_sources[best_k]}" + (f" ({where})" if v_sources[best_k] == ESTIMATED
                                                                       else "")
        inputs = f"α {a_prov.source}, c {c_prov.source}, {v_note}; drafting {pol.describe()}"
        provenance = {
            "acceptance_rate": a_prov,
            "cost_ratio": c_prov,
            "verify_cost_by_k": v_prov,
            "speedup_by_k": Provenance(ESTIMATED, SPEEDUP_METHOD, inputs),
            "recommended_k": Provenance(ESTIMATED, f"argmax of expected speedup over k = 1…{max_k}", inputs),
            "speedup": Provenance(ESTIMATED, SPEEDUP_METHOD, inputs),
            "target_step_ms": Provenance(ESTIMATED, f"latency model ({where})", target.weight_format),
            "draft_step_ms": Provenance(
                ESTIMATED if cost_ratio is None else MEASURED,
                f"latency model ({where})" if cost_ratio is None else "measured c × modelled target step",
                draft.weight_format),
        }
        return SpeedupEstimate(
            hardware=str(getattr(dev, "name", "?")),
            acceptance_rate=alpha,
            cost_ratio=c,
            verify_cost_by_k=verify,
            speedup_by_k=curve,
            recommended_k=best_k,
            speedup=speedup,
            expected_tokens_per_step=drafting.acceptance_length(alpha, pol),
            target_step_ms=target_ms,
            draft_step_ms=draft_ms,
            target_tokens_per_s=1000.0 / target_ms,
            speculative_tokens_per_s=est.tokens_per_second(target_ms, speedup),
            acceptance_low=low,
            acceptance_high=high,
            speedup_low=s_at(low) if low is not None else None,
            speedup_high=s_at(high) if high is not None else None,
            break_even_acceptance=_break_even(s_at),
            worthwhile=speedup > 1.0,
            provenance=provenance,
            verify_cost_source_by_k=v_sources,
            engine=eng,
            ctx=ctx,
            target_format=target.weight_format,
            draft_format=draft.weight_format,
            draft_policy=pol.describe(),
            draft_p_min=p_min,
            expected_drafted_per_step=drafting.expected_drafted(alpha, pol),
            acceptance_kind=acceptance_kind if not isinstance(acceptance, AcceptanceEstimate) else "alpha",
            acceptance_given=given,
            acceptance_rate_llamacpp=drafting.acceptance_rate(alpha, pol),
            acceptance_length=drafting.acceptance_length(alpha, pol),
        )


def _to_alpha(value: float, kind: str, policy: drafting.DraftPolicy) -> float:
    """α from a figure of ``kind`` under ``policy`` (drafting module: fixed-K formulas when p_min is 0)."""
    if kind == "alpha":
        return value
    if kind == "rate":
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"acceptance rate (accepted ÷ drafted) must be in [0, 1], got {value!r}")
        return drafting.a_from_rate(value, policy)
    if not 1.0 <= value <= policy.n_max + 1:
        raise ValueError(f"acceptance length must be in [1, K+1 = {policy.n_max + 1}], got {value!r}")
    return drafting.a_from_acceptance_length(value, policy)


def _break_even(speedup_at: Callable[[float], float], tol: float = 1e-6) -> float:
    """The α at which the speedup is exactly 1 (bisection; it grows with α). 1.0 if even α = 1 does not pay,
    0.0 if α = 0 already does."""
    if speedup_at(1.0) < 1.0:
        return 1.0
    if speedup_at(0.0) >= 1.0:
        return 0.0
    lo, hi = 0.0, 1.0
    while hi - lo > tol:
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if speedup_at(mid) >= 1.0 else (mid, hi)
    return hi


__all__ = ["SpeedupEstimator", "SpeedupEstimate", "SPEEDUP_METHOD", "ACCEPTANCE_KINDS"]
