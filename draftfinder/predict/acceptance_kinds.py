"""Acceptance in every engine's vocabulary: per-token α, accepted ÷ drafted, and acceptance length.

Pure functions, no I/O. Three numbers go by the name "acceptance"; they are not interchangeable:

``alpha`` — per-token acceptance probability α.
    Leviathan, Kalman & Matias 2023, "Fast Inference from Transformers via Speculative Decoding" (ICML 2023,
    arXiv:2211.17192), Definition 3.1: α = E(β), β = Σ_x min(p(x), q(x)), the probability that the target
    accepts one drafted token. Range [0, 1). It does not depend on K (under the i.i.d. assumption of §3.1).

``rate`` — accepted ÷ drafted tokens.
    llama.cpp's server reports ``timings.draft_n`` (tokens drafted) and ``timings.draft_n_accepted`` (of those,
    accepted) and logs ``draft acceptance rate = draft_n_accepted / draft_n``; draftbench's ``acceptance_rate``
    is that figure; vLLM logs it as ``draft_acceptance_rate = num_accepted_tokens / num_draft_tokens``
    (``vllm/v1/spec_decode/metrics.py``); LM Studio shows "accepted draft tokens" the same way. Range [0, 1).
    It depends on K: the later positions of a long draft are accepted less often, so at K > 1 rate < α.

``al`` — acceptance length: mean tokens per target (verification) pass, the bonus token included.
    vLLM: ``mean_acceptance_length = 1 + num_accepted_tokens / num_drafts`` ("Conventionally, mean acceptance
    length includes the bonus token", ``vllm/v1/spec_decode/metrics.py``); SGLang's "accept length"; Spec-Bench's
    "#Mean Accepted Tokens" (Xia et al. 2024). 1.0 is plain decoding. Range [1, K + 1].

Conversions (for the K in question)
-----------------------------------
Under Leviathan's i.i.d. model (each drafted token accepted with probability α, independently, until the
first rejection) with a fixed draft length K:

    AL(α, K)   = (1 − α^(K+1)) / (1 − α)          Leviathan 2023 §3.1, Equation (1); AL(1, K) = K + 1
    rate(α, K) = (AL − 1) / K = α(1 − α^K) / ((1 − α)·K)        accepted per step ÷ drafted per step

``AL − 1 = rate · K`` holds for any acceptance process — it is counting (accepted per pass = accepted ÷
drafted × drafted per pass) — so AL ↔ rate at the same K is exact. Getting α from AL or rate needs the i.i.d.
model: AL(α, K) rises strictly from 1 (α = 0) to K + 1 (α = 1), so it is inverted by bisection
(:func:`alpha_from_al`), monotone by construction and exact to ~1e-12. At K = 1 all three coincide with
α: rate = α, AL = 1 + α.

Engines that draft variable lengths
-----------------------------------
llama.cpp stops drafting when the draft's top token probability falls below ``--draft-p-min`` (default 0.75,
with ``--draft-max`` 16: ``common_speculative_params`` in ``common/speculative.h``) and skips drafts shorter than
``--draft-min``; n-gram / prompt-lookup proposers stop where
the match ends; vLLM's n-gram proposer may propose nothing. Then the tokens drafted per pass, L̄, is below
``--draft-max``, and:

- the identity becomes ``AL = 1 + rate · L̄`` (still exact, with L̄ = drafted tokens ÷ passes);
- with ``mean_drafted=L̄`` the conversions to α treat every pass as drafting L̄ tokens (the formulas above
  with a real exponent). That is approximate in two directions: (a) the expected accepted count per pass is
  concave in the draft length, so averaging lengths first (Jensen) makes the α found *lower* than the true
  per-token α when lengths vary independently of acceptance; (b) confidence gating drafts only the tokens the
  draft is sure of, which are accepted more often, so a gated rate overstates the α an ungated fixed-K
  drafter would see (α found *higher*). Neither is modelled; the result is labelled estimated;
- passing ``--draft-max`` as K for a gated engine without ``mean_drafted`` is wrong: rate at K = 16 under
  the fixed-K model implies a far higher α than the same rate at the ~3–6 tokens llama.cpp really drafts.

Ranges (bad input is one line through :func:`draftfinder.ranges.check_number`): α and rate in [0, 1), AL in
[1, L + 1] with L = K (or the mean drafted length), K a whole number ≥ 1, the mean drafted length in (0, K].
The AL range is closed at K + 1 (every draft accepted), which maps to α = 1 and rate = 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional

from draftfinder.ranges import check_number, parse_number

KINDS = ("alpha", "rate", "al")
KIND_LABELS = {
    "alpha": "per-token acceptance α",
    "rate": "accepted ÷ drafted",
    "al": "acceptance length (tokens per target pass, bonus included)",
}
KIND_DEFINITIONS = {
    "alpha": "expected probability the target accepts one drafted token (Leviathan et al. 2023, Definition 3.1)",
    "rate": "accepted draft tokens / drafted tokens (llama.cpp draft_n_accepted / draft_n; draftbench; vLLM "
            "draft_acceptance_rate)",
    "al": "mean tokens per target pass including the bonus token (vLLM/SGLang acceptance length; Spec-Bench "
          "#Mean Accepted Tokens)",
}
IID_METHOD = "i.i.d. acceptance, Leviathan et al. 2023 Eq. (1): AL = (1 − α^(K+1)) / (1 − α), rate = (AL − 1) / K"
IID_SHORT = "i.i.d. acceptance, Leviathan et al. 2023 Eq. 1"
MAX_K_ACCEPTANCE = 1024        # a draft length far beyond any engine's (llama.cpp --draft-max default 16)

_BISECT_STEPS = 200


# --- validation ---------------------------------------------------------------------------------------

def check_k(k: Any, name: str = "K", *, source: Optional[str] = None) -> int:
    """The draft length K: a whole number from 1 to :data:`MAX_K_ACCEPTANCE`."""
    return check_number(k, name, kind=int, low=1, high=MAX_K_ACCEPTANCE, source=source,
                        hint="K is the number of tokens drafted per step (e.g. --draft-max or num_speculative_tokens)")


def check_mean_drafted(mean_drafted: Any, k: int, name: str = "mean drafted length", *,
                       source: Optional[str] = None) -> float:
    """Mean tokens drafted per target pass: a number in (0, K]."""
    return check_number(mean_drafted, name, low=0, high=k, low_open=True, source=source,
                        unit=f"tokens per target pass, at most K = {k}",
                        hint="drafted tokens ÷ target passes, e.g. llama-server draft_n ÷ passes that drafted")


def _length(k: Any, mean_drafted: Any) -> float:
    """The draft length the formulas use: ``mean_drafted`` when given, else K (both validated)."""
    k = check_k(k)
    return float(k) if mean_drafted is None else check_mean_drafted(mean_drafted, k)


def acceptance_range(kind: str, k: Optional[int] = None, mean_drafted: Optional[float] = None) -> Dict[str, Any]:
    """``{"low", "high", "high_open"}`` of a kind: α and rate [0, 1), AL [1, L + 1] (L = K or mean drafted)."""
    kind = check_kind(kind)
    if kind in ("alpha", "rate"):
        return {"low": 0.0, "high": 1.0, "high_open": True}
    return {"low": 1.0, "high": _length(k, mean_drafted) + 1.0, "high_open": False}


def check_kind(kind: Any, name: str = "--acceptance-kind") -> str:
    """One of :data:`KINDS` (case-insensitive), else a one-line :class:`~draftfinder.errors.UsageError`."""
    from draftfinder.errors import UsageError

    text = str(kind).strip().lower()
    if text not in KINDS:
        raise UsageError(f"{name} must be one of {', '.join(KINDS)}, got {kind!r}",
                         hint="alpha = per-token α, rate = accepted ÷ drafted, al = tokens per target pass")
    return text


_HINTS = {
    "alpha": "give α as a fraction (0.7) or a percentage (70%); α = 1 is not a measurement",
    "rate": "give accepted ÷ drafted as a fraction (0.7) or a percentage (70%)",
    "al": "give tokens per target pass including the bonus token: 1 (nothing accepted) to K + 1 (all accepted)",
}


def check_acceptance(value: Any, kind: str, k: Optional[int] = None, *, mean_drafted: Optional[float] = None,
                     name: str = "--acceptance", source: Optional[str] = None) -> float:
    """A parsed acceptance value checked against its kind's range (one :class:`NumberError` line if not).

    AL needs K (its range is [1, K + 1]); α and rate do not.
    """
    kind = check_kind(kind)
    if kind == "al" and k is None:
        from draftfinder.errors import UsageError

        raise UsageError(f"{name} as an acceptance length needs the K it was measured at",
                         hint="add --acceptance-k K (tokens drafted per step when it was measured)")
    r = acceptance_range(kind, k, mean_drafted)
    unit = f"{KIND_LABELS[kind]}" + (f" at K = {k}" if kind == "al" and mean_drafted is None else "")
    if kind == "al" and mean_drafted is not None:
        unit += f" with {mean_drafted:g} tokens drafted per pass"
    return check_number(value, name, low=r["low"], high=r["high"], high_open=r["high_open"], source=source,
                        unit=unit, hint=_HINTS[kind])


def parse_acceptance(text: Any, kind: str, k: Optional[int] = None, *, mean_drafted: Optional[float] = None,
                     name: str = "--acceptance", source: Optional[str] = None) -> float:
    """Text typed by the user (``0.7``, ``70%`` for α and rate; ``3.2`` for AL) → a checked value."""
    kind = check_kind(kind)
    if kind == "al" and k is None:
        check_acceptance(None, kind, None, name=name, source=source)      # raises the "needs K" line
    r = acceptance_range(kind, k, mean_drafted)
    unit = KIND_LABELS[kind] + (f" at K = {k}" if kind == "al" else "")
    return parse_number(text, name, percent=kind != "al", low=r["low"], high=r["high"], high_open=r["high_open"],
                        source=source, unit=unit, hint=_HINTS[kind])


def alpha_from_setting(value: Any, kind: Any = "alpha", k: Any = None, *, name: str = "--acceptance",
                       kind_name: str = "--acceptance-kind", k_name: str = "--acceptance-k",
                       mean_drafted: Any = None, source: Optional[str] = None) -> Optional[float]:
    """An acceptance setting (a config key or flag already parsed) of ``kind`` measured at ``k`` → α.

    Validates the kind, that rate and AL come with their K (and α without one), and the value's range; every
    failure is one line naming ``name``/``kind_name``/``k_name`` (and ``source``). None stays None.
    """
    from draftfinder.errors import UsageError

    where = f"{source}: " if source else ""
    kind = check_kind(kind, f"{where}{kind_name}")
    if kind == "alpha" and (k is not None or mean_drafted is not None):
        raise UsageError(f"{where}{k_name} is the K a rate or acceptance length was measured at; α does not "
                         f"depend on K", hint=f"drop {k_name}, or set {kind_name} to rate or al")
    if kind != "alpha" and k is None and value is not None:
        raise UsageError(f"{where}{name} as {KIND_LABELS[kind]} needs the K it was measured at",
                         hint=f"set {k_name} (tokens drafted per step when it was measured)")
    if value is None:
        return None
    k_checked = None if k is None else check_k(k, k_name, source=source)
    md = None if mean_drafted is None else check_mean_drafted(mean_drafted, k_checked, source=source)
    v = check_acceptance(value, kind, k_checked, mean_drafted=md, name=name, source=source)
    return to_alpha(v, kind, k_checked, md)


def _alpha_in(alpha: Any) -> float:
    """α as used internally: [0, 1] (1 is the limit every-token-accepted; user input stops below it)."""
    return check_number(alpha, "alpha", low=0, high=1, hint="α is a probability")


# --- formulas -----------------------------------------------------------------------------------------

def al_from_alpha(alpha: float, k: int, mean_drafted: Optional[float] = None) -> float:
    """Acceptance length ``(1 − α^(L+1)) / (1 − α)``, L = K (or ``mean_drafted``); at α = 1 the limit L + 1.

    Source: Leviathan et al. 2023 §3.1, Equation (1) — the mean of a capped geometric variable (accepted drafts
    plus the one token the target always contributes). With a real L (variable-length drafting) this treats
    every pass as drafting L tokens; see the module docstring for what that approximates.
    """
    a = _alpha_in(alpha)
    length = _length(k, mean_drafted)
    if a == 1.0:
        return length + 1.0
    return (1.0 - a ** (length + 1.0)) / (1.0 - a)


def rate_from_alpha(alpha: float, k: int, mean_drafted: Optional[float] = None) -> float:
    """Accepted ÷ drafted ``(AL − 1) / L = α(1 − α^L) / ((1 − α)·L)`` under i.i.d. acceptance (Leviathan §3.1).

    At K = 1 it equals α; for K > 1 it is below α (a rejected token ends the step, so later positions are
    reached less often).
    """
    length = _length(k, mean_drafted)
    return (al_from_alpha(alpha, k, mean_drafted) - 1.0) / length


def al_from_rate(rate: float, k: int, mean_drafted: Optional[float] = None) -> float:
    """``AL = 1 + rate · L`` (L = K or the mean drafted length): exact counting, no acceptance model.

    accepted per pass = (accepted ÷ drafted) × (drafted per pass); AL adds the bonus token. vLLM computes both
    from the same counters (``vllm/v1/spec_decode/metrics.py``).
    """
    r = check_number(rate, "rate", low=0, high=1, hint=_HINTS["rate"])
    return 1.0 + r * _length(k, mean_drafted)


def rate_from_al(al: float, k: int, mean_drafted: Optional[float] = None) -> float:
    """``rate = (AL − 1) / L``: the exact inverse of :func:`al_from_rate`."""
    length = _length(k, mean_drafted)
    a = check_number(al, "acceptance length", low=1, high=length + 1.0, hint=_HINTS["al"])
    return (a - 1.0) / length


def alpha_from_al(al: float, k: int, mean_drafted: Optional[float] = None) -> float:
    """α with ``(1 − α^(L+1)) / (1 − α) = AL``, by bisection on [0, 1].

    AL(α) is strictly increasing in α (each term α^j of 1 + α + … + α^L is), from 1 at α = 0 to L + 1 at
    α = 1, so the root is unique and bisection keeps the inverse monotone: a larger AL never gives a smaller α.
    200 halvings reach the float resolution. AL = 1 → 0; AL = L + 1 → 1.
    """
    length = _length(k, mean_drafted)
    target = check_number(al, "acceptance length", low=1, high=length + 1.0, hint=_HINTS["al"])
    if target <= 1.0:
        return 0.0
    if target >= length + 1.0:
        return 1.0
    lo, hi = 0.0, 1.0
    for _ in range(_BISECT_STEPS):
        mid = (lo + hi) / 2.0
        if mid in (lo, hi):
            break
        if al_from_alpha(mid, k, mean_drafted) < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2.0


def alpha_from_rate(rate: float, k: int, mean_drafted: Optional[float] = None) -> float:
    """α from accepted ÷ drafted at draft length K: ``alpha_from_al(1 + rate · L, K)`` (exact at K = 1: α = rate)."""
    return alpha_from_al(al_from_rate(rate, k, mean_drafted), k, mean_drafted)


def to_alpha(value: float, kind: str, k: Optional[int] = None, mean_drafted: Optional[float] = None) -> float:
    """Any kind → α. α passes through (K not needed); rate and AL need the K they were measured at."""
    kind = check_kind(kind)
    if kind == "alpha":
        return _alpha_in(value)
    if k is None:
        raise ValueError(f"converting {KIND_LABELS[kind]} to α needs the K it was measured at")
    return alpha_from_rate(value, k, mean_drafted) if kind == "rate" else alpha_from_al(value, k, mean_drafted)


def from_alpha(alpha: float, kind: str, k: int, mean_drafted: Optional[float] = None) -> float:
    """α → any kind at draft length K (under i.i.d. acceptance)."""
    kind = check_kind(kind)
    if kind == "alpha":
        return _alpha_in(alpha)
    return rate_from_alpha(alpha, k, mean_drafted) if kind == "rate" else al_from_alpha(alpha, k, mean_drafted)


def convert(value: float, from_kind: str, to_kind: str, k: int, mean_drafted: Optional[float] = None) -> float:
    """``value`` of ``from_kind`` measured at K → ``to_kind`` at the same K (and mean drafted length).

    rate ↔ AL is the exact identity ``AL = 1 + rate · L``; every conversion through α uses the i.i.d. model.
    """
    from_kind, to_kind = check_kind(from_kind), check_kind(to_kind)
    if {from_kind, to_kind} == {"rate", "al"}:
        return al_from_rate(value, k, mean_drafted) if from_kind == "rate" else rate_from_al(value, k, mean_drafted)
    if from_kind == to_kind:
        return float(value)
    return from_alpha(to_alpha(value, from_kind, k, mean_drafted), to_kind, k, mean_drafted)


# --- labelled views -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class AcceptanceFigure:
    """One acceptance number with its kind, the draft length it is for, and where it came from."""

    value: float
    kind: str                          # alpha | rate | al
    k: Optional[int]                   # the K it is for (None for α, which does not depend on K)
    source: str                        # measured | estimated | published
    method: str
    mean_drafted: Optional[float] = None   # tokens drafted per pass when not K (variable-length drafting)

    def to_dict(self) -> Dict[str, Any]:
        return {"value": round(self.value, 6), "kind": self.kind, "label": KIND_LABELS[self.kind], "k": self.k,
                "mean_drafted": self.mean_drafted, "source": self.source, "method": self.method}


@dataclass(frozen=True)
class AcceptanceViews:
    """α, accepted ÷ drafted and acceptance length for one K, each labelled; ``given`` is the input as typed."""

    k: int
    alpha: AcceptanceFigure
    rate: AcceptanceFigure
    al: AcceptanceFigure
    given: Optional[AcceptanceFigure] = None

    def to_dict(self) -> Dict[str, Any]:
        out = {"k": self.k, "alpha": self.alpha.to_dict(), "rate": self.rate.to_dict(), "al": self.al.to_dict(),
               "definitions": dict(KIND_DEFINITIONS)}
        if self.given is not None:
            out["given"] = self.given.to_dict()
        return out

    def short(self) -> str:
        """``α 0.712 · accepted/drafted 0.604 · AL 3.42 at K=4`` (no sources; callers add them)."""
        return (f"α {self.alpha.value:.3f} · accepted/drafted {self.rate.value:.3f} · "
                f"AL {self.al.value:.2f} at K={self.k}")


def derived_source(given_source: str, exact: bool) -> str:
    """A number converted from another keeps its source only when the conversion is exact counting (rate ↔ AL at
    the same K and drafted length); a conversion through the i.i.d. model is an estimate."""
    from draftfinder.constants import ESTIMATED

    return given_source if exact else ESTIMATED


def views_at_k(alpha: float, k: int, *, source: str, method: str,
               given: Optional[AcceptanceFigure] = None) -> AcceptanceViews:
    """The three kinds at K from α (labelled ``source``/``method``). rate and AL at K are i.i.d. conversions,
    hence estimated — except the given figure's own kind at the K it was measured at (same number, same
    source), and its exact rate ↔ AL counterpart there."""
    k = check_k(k)
    a = _alpha_in(alpha)
    figs: Dict[str, AcceptanceFigure] = {
        "alpha": AcceptanceFigure(a, "alpha", None, source, method),
    }
    for kind in ("rate", "al"):
        figs[kind] = AcceptanceFigure(from_alpha(a, kind, k), kind, k, derived_source(source, False),
                                      f"from α {a:.4f} at K={k} under i.i.d. acceptance ({IID_SHORT})")
    if given is not None and given.k == k and given.mean_drafted is None and given.kind in ("rate", "al"):
        other = "al" if given.kind == "rate" else "rate"
        figs[given.kind] = given
        figs[other] = AcceptanceFigure(convert(given.value, given.kind, other, k), other, k,
                                       derived_source(given.source, True),
                                       f"from the given {KIND_LABELS[given.kind]} by AL = 1 + rate·K (exact counting)")
    return AcceptanceViews(k, figs["alpha"], figs["rate"], figs["al"], given)


def alpha_from_given(value: float, kind: str, k: Optional[int], *, source: str, method: str,
                     mean_drafted: Optional[float] = None) -> "tuple[float, AcceptanceFigure, str]":
    """A user's/source's acceptance figure → ``(α, the figure, how α was obtained)``.

    α given: passes through with its source. rate/AL given at K: α by inverting the i.i.d. model (estimated).
    """
    kind = check_kind(kind)
    fig = AcceptanceFigure(float(value), kind, None if kind == "alpha" else check_k(k), source, method,
                           mean_drafted)
    if kind == "alpha":
        return float(value), fig, method
    alpha = to_alpha(value, kind, k, mean_drafted)
    length = f"{mean_drafted:g} tokens drafted per pass (K={k})" if mean_drafted is not None else f"K={k}"
    how = f"α from {KIND_LABELS[kind]} {value:g} at {length}, inverting AL = (1 − α^(K+1)) / (1 − α) ({IID_SHORT})"
    return alpha, fig, how


__all__ = [
    "KINDS", "KIND_LABELS", "KIND_DEFINITIONS", "IID_METHOD", "IID_SHORT", "MAX_K_ACCEPTANCE",
    "check_k", "check_mean_drafted", "check_kind", "check_acceptance", "parse_acceptance", "acceptance_range",
    "al_from_alpha", "rate_from_alpha", "al_from_rate", "rate_from_al", "alpha_from_al", "alpha_from_rate",
    "to_alpha", "from_alpha", "convert", "alpha_from_setting",
    "AcceptanceFigure", "AcceptanceViews", "views_at_k", "alpha_from_given", "derived_source",
]
