"""A prior for the acceptance rate α of a target/draft pair, fitted to published measurements.

Model (logistic in the log size ratio)::

    logit(α) = a + b · log10(draft_params / target_params) + task_offset[task]
               − quant_penalty(draft_bits) − quant_penalty(target_bits)
               − (cross-family penalty when the two models are not of one family)
    α       ← α · tokenization_match_rate

- ``a``, ``b`` and the summarization offset are fitted (``refit()``) to the published α values in
  :data:`PUBLISHED_ACCEPTANCE`; ``b`` > 0 makes the prior grow with draft size, as every study observes
  ("As expected we see that α increases with the size of the approximation model", Leviathan 2023 §4.1).
- The slope is fitted *within* each group (one study × dataset × sampling temperature), so differences between
  tasks and studies do not bias it; the intercept is the mean group intercept. Between-group spread is large
  (the same size ratio gives 0.53–0.75 across tasks and temperatures), and it is what the uncertainty band
  reports: ``low``/``high`` are ±1 residual standard deviation in logit space (≈68 % if normal). That band is
  in-sample; out of sample (each group predicted by a fit without it) the α error is up to 0.21, RMSE ≈ 0.11
  (tests/predict/test_acceptance.py). On draftbench's prompts the prior is far too low (see below).
- The only task offset the data support is summarization vs. translation measured within one study on the
  same models (T5-XXL CNNDM vs. EnDe, Leviathan 2023 Table 3). No published point in this table isolates
  code or chat, so those offsets are 0 and the band carries the uncertainty.
- Quantization and cross-family penalties are **assumed** values of ours (no published measurement isolates
  them); they are named constants below and listed in every estimate's ``detail``.
- Different tokenizers: a draft token id means a different string to the target, so proposals are accepted
  only by coincidence; the prior is scaled by ``tokenization_match_rate`` (the share of test strings both
  tokenizers split identically), and a rate of 0 gives α = 0. (Universal assisted decoding re-tokenizes text
  between vocabularies; its acceptance is not modelled here.)

The manual's ``performance:`` config keys (§6.3) enter as overrides of the level at the reference size ratio
:data:`REFERENCE_SIZE_RATIO`::

    α_ref = base_rate + same_family_bonus·[same_family] + tokenizer_match_bonus·[tokenization_match_rate == 1]
    logit(α) = logit(α_ref) + b·(log10(ratio) − log10(REFERENCE_SIZE_RATIO)) + task/quant terms

With all three unset they default to the fitted model (``base_rate`` = the fitted cross-family level,
``same_family_bonus`` = fitted same-family level − that, ``tokenizer_match_bonus`` = 0), so overriding only one
keeps the others consistent with the fit. The size slope ``b`` always comes from the fit.

Published points (α, target ← draft; all same-family, same tokenizer):

=========================  ====================  ==============  ====  ======================================
study / dataset            target                drafts          temp  α
=========================  ====================  ==============  ====  ======================================
Leviathan 2023, Table 3    GPT-like 97M, lm1b    6M              0 / 1 0.88 / 0.89   (not fitted: toy target)
Leviathan 2023, Table 3    T5-XXL 11B, EnDe      77M/250M/800M   0     0.75 / 0.80 / 0.82
                                                                 1     0.62 / 0.68 / 0.71
Leviathan 2023, Table 3    T5-XXL 11B, CNNDM     77M/250M/800M   0     0.65 / 0.73 / 0.74
                                                                 1     0.53 / 0.55 / 0.56
Leviathan 2023, Table 3    LaMDA 137B, dialog    100M/2B/8B      0     0.61 / 0.71 / 0.75
                                                                 1     0.57 / 0.71 / 0.74
=========================  ====================  ==============  ====  ======================================

draftbench is listed too but **not fitted on**: its figure is llama.cpp's accepted ÷ drafted *rate* under the
confidence gate (p_min 0.75, n_max 16), a different quantity from α (``kind = "rate"``). Its results file for the
Qwen2.5-72B Q8_0 target on an M4 Max (alexziskind1/draftbench ``results/m4max-128gb_llamacpp_qwen25-72b.json`` @
991497a) gives 0.7429 (0.5B Q8_0), 0.8421 (1.5B Q4_K_M), 0.8325 (3B Q4_K_M), 0.8476 (7B Q8_0). (Issue 9 fitted the
draftbench README's "~57 % / ~68–70 % / ~72 %" and its example JSON's 0.6888 instead, cited as an RTX 4090: the README
shows them as sample output — the example's ``hardware`` field is the config template's placeholder — and no results
file contains them.) Converted through llama.cpp's gate (:mod:`draftfinder.predict.drafting`), those rates mean a
per-drafted-token acceptance of 0.96–0.98 on draftbench's three prompts (a JSON list, a small class, a numbered
list): far above what this prior, fitted on Leviathan's translation, summarization and dialog, gives for the
same sizes (≈0.7). tests/predict/test_acceptance.py checks the direction and order of that gap out of sample.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from draftfinder.constants import ESTIMATED, MEASURED
from draftfinder.find.results import Task, to_plain

LEVIATHAN = (
    "Leviathan, Kalman & Matias 2023, Fast Inference from Transformers via Speculative Decoding "
    "(ICML 2023, arXiv:2211.17192), Table 3"
)
DRAFTBENCH = (
    "alexziskind1/draftbench results/m4max-128gb_llamacpp_qwen25-72b.json @ 991497a (Apple M4 Max, llama-server "
    "defaults: n_max 16, p_min 0.75; temperature 0): acceptance_rate = llama.cpp draft_n_accepted / draft_n of the "
    "last of three prompts"
)


@dataclass(frozen=True)
class PublishedAcceptance:
    """One published acceptance measurement."""

    group: str                       # study × dataset × temperature: the slope is fitted within groups
    task: Task
    temperature: float
    target: str
    target_params: float
    draft: str
    draft_params: float
    alpha: float
    citation: str
    draft_bits: Optional[float] = None    # None: not stated (no quantization penalty applied)
    target_bits: Optional[float] = None
    used_in_fit: bool = True
    note: str = ""
    kind: str = "alpha"                   # alpha | rate (accepted ÷ drafted under the engine's drafting policy)


def _lev(group, task, temp, target, tp, draft, dp, alpha, used=True, note=""):
    return PublishedAcceptance(group, task, temp, target, tp, draft, dp, alpha, LEVIATHAN, None, None, used, note)


_TOY = "toy target (97M params, 8k-token BERT vocabulary, lm1b); outside the range draftfinder serves"
_T5_PARAMS = "parameter counts from Leviathan 2023 §4.1 (T5-XXL 11B, T5-large 800M, T5-base 250M, T5-small 77M)"
_LAMDA_PARAMS = "parameter counts from Leviathan 2023 §4.2 (LaMDA 137B target; 8B, 2B, 100M drafts)"
_QWEN_PARAMS = "parameter counts from the Qwen2.5 model cards (0.49B, 1.54B, 3.09B, 7.61B, 72.7B)"

def _db(draft, dp, rate, draft_bits, where):
    return PublishedAcceptance("draftbench-qwen25-72b", Task.GENERAL, 0, "Qwen2.5-72B-Instruct Q8_0", 72.7e9, draft,
                               dp, rate, DRAFTBENCH, draft_bits, 8.5008, used_in_fit=False, kind="rate",
                               note=f"{_QWEN_PARAMS}; {where}; an accepted/drafted rate under llama.cpp's gate, not α")


# GGUF bits/weight of the draftbench files (llama.cpp tools/quantize/README.md table): Q8_0 8.5008, Q4_K_M 4.8944.
PUBLISHED_ACCEPTANCE: Tuple[PublishedAcceptance, ...] = (
    _lev("lev-lm1b-t0", Task.GENERAL, 0, "GPT-like (97M)", 97e6, "GPT-like (6M)", 6e6, 0.88, False, _TOY),
    _lev("lev-lm1b-t1", Task.GENERAL, 1, "GPT-like (97M)", 97e6, "GPT-like (6M)", 6e6, 0.89, False, _TOY),
    _lev("lev-ende-t0", Task.GENERAL, 0, "T5-XXL (EnDe)", 11e9, "T5-small", 77e6, 0.75, note=_T5_PARAMS),
    _lev("lev-ende-t0", Task.GENERAL, 0, "T5-XXL (EnDe)", 11e9, "T5-base", 250e6, 0.80, note=_T5_PARAMS),
    _lev("lev-ende-t0", Task.GENERAL, 0, "T5-XXL (EnDe)", 11e9, "T5-large", 800e6, 0.82, note=_T5_PARAMS),
    _lev("lev-ende-t1", Task.GENERAL, 1, "T5-XXL (EnDe)", 11e9, "T5-small", 77e6, 0.62, note=_T5_PARAMS),
    _lev("lev-ende-t1", Task.GENERAL, 1, "T5-XXL (EnDe)", 11e9, "T5-base", 250e6, 0.68, note=_T5_PARAMS),
    _lev("lev-ende-t1", Task.GENERAL, 1, "T5-XXL (EnDe)", 11e9, "T5-large", 800e6, 0.71, note=_T5_PARAMS),
    _lev("lev-cnndm-t0", Task.SUMMARIZATION, 0, "T5-XXL (CNNDM)", 11e9, "T5-small", 77e6, 0.65, note=_T5_PARAMS),
    _lev("lev-cnndm-t0", Task.SUMMARIZATION, 0, "T5-XXL (CNNDM)", 11e9, "T5-base", 250e6, 0.73, note=_T5_PARAMS),
    _lev("lev-cnndm-t0", Task.SUMMARIZATION, 0, "T5-XXL (CNNDM)", 11e9, "T5-large", 800e6, 0.74, note=_T5_PARAMS),
    _lev("lev-cnndm-t1", Task.SUMMARIZATION, 1, "T5-XXL (CNNDM)", 11e9, "T5-small", 77e6, 0.53, note=_T5_PARAMS),
    _lev("lev-cnndm-t1", Task.SUMMARIZATION, 1, "T5-XXL (CNNDM)", 11e9, "T5-base", 250e6, 0.55, note=_T5_PARAMS),
    _lev("lev-cnndm-t1", Task.SUMMARIZATION, 1, "T5-XXL (CNNDM)", 11e9, "T5-large", 800e6, 0.56, note=_T5_PARAMS),
    _lev("lev-lamda-t0", Task.CHAT, 0, "LaMDA (137B)", 137e9, "LaMDA (100M)", 100e6, 0.61, note=_LAMDA_PARAMS),
    _lev("lev-lamda-t0", Task.CHAT, 0, "LaMDA (137B)", 137e9, "LaMDA (2B)", 2e9, 0.71, note=_LAMDA_PARAMS),
    _lev("lev-lamda-t0", Task.CHAT, 0, "LaMDA (137B)", 137e9, "LaMDA (8B)", 8e9, 0.75, note=_LAMDA_PARAMS),
    _lev("lev-lamda-t1", Task.CHAT, 1, "LaMDA (137B)", 137e9, "LaMDA (100M)", 100e6, 0.57, note=_LAMDA_PARAMS),
    _lev("lev-lamda-t1", Task.CHAT, 1, "LaMDA (137B)", 137e9, "LaMDA (2B)", 2e9, 0.71, note=_LAMDA_PARAMS),
    _lev("lev-lamda-t1", Task.CHAT, 1, "LaMDA (137B)", 137e9, "LaMDA (8B)", 8e9, 0.74, note=_LAMDA_PARAMS),
    _db("Qwen2.5-0.5B-Instruct Q8_0", 0.494e9, 0.7429, 8.5008, "JSON /results 0.5B Q8_0 row"),
    _db("Qwen2.5-1.5B-Instruct Q4_K_M", 1.54e9, 0.8421, 4.8944, "JSON /results 1.5B Q4_K_M row"),
    _db("Qwen2.5-3B-Instruct Q4_K_M", 3.09e9, 0.8325, 4.8944, "JSON /results 3B Q4_K_M row"),
    _db("Qwen2.5-7B-Instruct Q8_0", 7.61e9, 0.8476, 8.5008, "JSON /results 7B Q8_0 row"),
)

# --- assumed constants (ours; no published measurement isolates these effects) -------------------------

# Logit penalty for a quantized model, by bits/weight: (minimum bits, penalty). Assumed, monotone in
# quantization strength; 8-bit formats are treated as lossless for acceptance.
QUANT_LOGIT_PENALTY: Tuple[Tuple[float, float], ...] = ((8.0, 0.0), (6.0, 0.05), (4.0, 0.15), (0.0, 0.35))
# Logit penalty when draft and target share a tokenizer but not a family (different training data), e.g.
# TinyLlama for Llama-2. Assumed.
CROSS_FAMILY_LOGIT_PENALTY = 0.7
# The size ratio at which the manual's base_rate/bonus overrides set the level (a 1.5B draft for a 72B target).
REFERENCE_SIZE_RATIO = 0.02
# Width of the uncertainty band in residual standard deviations.
BAND_SDS = 1.0

# --- fitted constants (reproduced by refit(); tests/predict/test_acceptance.py checks they match) ----------------
FIT_INTERCEPT = 1.5908                 # a: logit(α) at size ratio 1 (draft as large as the target)
FIT_SLOPE_PER_DECADE = 0.3635          # b: logit(α) gained per 10× larger draft
FIT_SUMMARIZATION_OFFSET = -0.4864     # CNNDM vs EnDe, same models (Leviathan 2023 Table 3)
FIT_RESIDUAL_SD_LOGIT = 0.3079         # residual standard deviation, logit units
FIT_MAX_ABS_RESIDUAL_LOGIT = 0.4876    # largest |residual| over the fitted points, logit units
FIT_MAX_ABS_RESIDUAL_ALPHA = 0.1061    # the same in α units


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def quant_penalty(bits: Optional[float]) -> float:
    """The assumed logit penalty for a model stored at ``bits`` bits/weight (None or ≥ 8 bits: 0)."""
    if bits is None:
        return 0.0
    for min_bits, penalty in QUANT_LOGIT_PENALTY:
        if bits >= min_bits:
            return penalty
    return QUANT_LOGIT_PENALTY[-1][1]


@dataclass(frozen=True)
class PriorFit:
    """Result of :func:`refit`."""

    intercept: float
    slope_per_decade: float
    task_offsets: Dict[Task, float]
    residual_sd_logit: float
    max_abs_residual_logit: float
    max_abs_residual_alpha: float
    residuals_logit: Tuple[float, ...]
    n_points: int
    n_groups: int

    def predict_logit(self, draft_params: float, target_params: float, task: Task = Task.GENERAL) -> float:
        return self.intercept + self.slope_per_decade * math.log10(draft_params / target_params) + self.task_offsets.get(task, 0.0)


def refit(points: Sequence[PublishedAcceptance] = PUBLISHED_ACCEPTANCE) -> PriorFit:
    """Refit the prior from the published points (those with ``used_in_fit``). Deterministic.

    1. y = logit(α) + quant_penalty(draft_bits) + quant_penalty(target_bits)   (undo the assumed penalties)
       x = log10(draft_params / target_params)
    2. slope b: least squares on x and y demeaned within each group (study × dataset × temperature)
    3. group intercepts a_g = mean(y − b·x) over the group
    4. summarization offset = mean a_g of the Leviathan CNNDM groups − mean a_g of the EnDe groups
       (same T5 models, same study — the only within-study task contrast in the table)
    5. intercept a = mean over groups of a_g − offset(task_g)
    6. residuals y − (a + offset + b·x); SD with n − 3 degrees of freedom (a, b, offset)
    """
    used = [p for p in points if p.used_in_fit]
    if any(p.kind != "alpha" for p in used):
        raise ValueError("the prior is fitted on per-token α only; mark other kinds used_in_fit=False")
    if len(used) < 4:
        raise ValueError("need at least 4 published points to fit the prior")
    xs = [math.log10(p.draft_params / p.target_params) for p in used]
    ys = [_logit(p.alpha) + quant_penalty(p.draft_bits) + quant_penalty(p.target_bits) for p in used]
    groups: Dict[str, List[int]] = {}
    for i, p in enumerate(used):
        groups.setdefault(p.group, []).append(i)
    sxy = sxx = 0.0
    for idx in groups.values():
        mx = sum(xs[i] for i in idx) / len(idx)
        my = sum(ys[i] for i in idx) / len(idx)
        sxy += sum((xs[i] - mx) * (ys[i] - my) for i in idx)
        sxx += sum((xs[i] - mx) ** 2 for i in idx)
    slope = sxy / sxx
    a_g = {g: sum(ys[i] - slope * xs[i] for i in idx) / len(idx) for g, idx in groups.items()}
    cnndm = [a for g, a in a_g.items() if "cnndm" in g]
    ende = [a for g, a in a_g.items() if "ende" in g]
    summ = sum(cnndm) / len(cnndm) - sum(ende) / len(ende) if cnndm and ende else 0.0
    offsets = {t: 0.0 for t in Task}
    offsets[Task.SUMMARIZATION] = summ
    task_of = {p.group: p.task for p in used}
    intercept = sum(a - offsets[task_of[g]] for g, a in a_g.items()) / len(a_g)
    res = [y - (intercept + offsets[p.task] + slope * x) for p, x, y in zip(used, xs, ys)]
    dof = max(len(used) - 3, 1)
    sd = math.sqrt(sum(r * r for r in res) / dof)
    res_alpha = [
        abs(p.alpha - _sigmoid(intercept + offsets[p.task] + slope * x
                               - quant_penalty(p.draft_bits) - quant_penalty(p.target_bits)))
        for p, x in zip(used, xs)
    ]
    return PriorFit(
        intercept=intercept,
        slope_per_decade=slope,
        task_offsets=offsets,
        residual_sd_logit=sd,
        max_abs_residual_logit=max(abs(r) for r in res),
        max_abs_residual_alpha=max(res_alpha),
        residuals_logit=tuple(res),
        n_points=len(used),
        n_groups=len(groups),
    )


# --- the estimate ---------------------------------------------------------------------------------------

@dataclass
class AcceptanceEstimate:
    """An acceptance rate with its band and where it came from."""

    alpha: float
    low: float
    high: float
    source: str = ESTIMATED           # estimated | measured | published
    method: str = ""
    detail: Optional[str] = None
    adjustments: Dict[str, float] = field(default_factory=dict)   # logit terms applied, by name

    @classmethod
    def measured(cls, alpha: float, *, low: Optional[float] = None, high: Optional[float] = None,
                 method: str = "measured", detail: Optional[str] = None) -> "AcceptanceEstimate":
        """Wrap a measured α (e.g. from draftfinder's benchmark) so it is labelled measured."""
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"measured acceptance rate must be in [0, 1], got {alpha!r}")
        return cls(alpha, alpha if low is None else low, alpha if high is None else high, MEASURED, method, detail)

    def to_dict(self) -> Dict[str, Any]:
        return to_plain(self)


_TASK_ALIASES = {t.value: t for t in Task}


def _as_task(task: Any) -> Task:
    if isinstance(task, Task):
        return task
    try:
        return _TASK_ALIASES[str(task).lower()]
    except KeyError:
        raise ValueError(f"unknown task {task!r}; use one of: {', '.join(_TASK_ALIASES)}") from None


def _positive(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) or value <= 0:
        raise ValueError(f"{name} must be a number > 0, got {value!r}")
    return float(value)


def fitted_reference_levels() -> Tuple[float, float]:
    """(same-family α, cross-family same-tokenizer α) of the stored fit at REFERENCE_SIZE_RATIO, GENERAL,
    16-bit — the defaults behind ``base_rate`` and ``same_family_bonus``."""
    z = FIT_INTERCEPT + FIT_SLOPE_PER_DECADE * math.log10(REFERENCE_SIZE_RATIO)
    return _sigmoid(z), _sigmoid(z - CROSS_FAMILY_LOGIT_PENALTY)


def prior_acceptance(
    target_params: float,
    draft_params: float,
    *,
    same_family: bool,
    task: Any = Task.GENERAL,
    draft_bits: Optional[float] = 16,
    target_bits: Optional[float] = 16,
    tokenization_match_rate: float = 1.0,
    base_rate: Optional[float] = None,
    same_family_bonus: Optional[float] = None,
    tokenizer_match_bonus: Optional[float] = None,
) -> AcceptanceEstimate:
    """Estimate α for a pair from sizes, family, task, quantization and tokenization (model in module doc)."""
    tp = _positive("target_params", target_params)
    dp = _positive("draft_params", draft_params)
    task = _as_task(task)
    for name, bits in (("draft_bits", draft_bits), ("target_bits", target_bits)):
        if bits is not None:
            _positive(name, bits)
    if isinstance(tokenization_match_rate, bool) or not isinstance(tokenization_match_rate, (int, float)) \
            or not 0.0 <= tokenization_match_rate <= 1.0:
        raise ValueError(f"tokenization_match_rate must be in [0, 1], got {tokenization_match_rate!r}")
    if base_rate is not None and not 0.0 < base_rate < 1.0:
        raise ValueError(f"base_rate must be in (0, 1), got {base_rate!r}")
    for name, bonus in (("same_family_bonus", same_family_bonus), ("tokenizer_match_bonus", tokenizer_match_bonus)):
        if bonus is not None and not -1.0 < bonus < 1.0:
            raise ValueError(f"{name} must be in (-1, 1), got {bonus!r}")

    rate = float(tokenization_match_rate)
    if rate == 0.0:
        return AcceptanceEstimate(
            0.0, 0.0, 0.0, ESTIMATED, "tokenizer mismatch",
            "the draft's token ids mean different strings to the target (tokenization match rate 0), so drafted "
            "tokens are accepted only by coincidence: α ≈ 0 and speculative decoding cannot pay off without "
            "re-tokenization (universal assisted decoding)",
        )

    ratio = dp / tp
    notes: List[str] = []
    if ratio > 1.0:
        notes.append(f"draft is larger than the target (ratio {ratio:.3g}); size term capped at ratio 1")
        ratio = 1.0
    x = math.log10(ratio)
    x_ref = math.log10(REFERENCE_SIZE_RATIO)

    fit_same, fit_cross = fitted_reference_levels()
    base = fit_cross if base_rate is None else float(base_rate)
    sfb = (fit_same - fit_cross) if same_family_bonus is None else float(same_family_bonus)
    tmb = 0.0 if tokenizer_match_bonus is None else float(tokenizer_match_bonus)
    perfect = rate >= 1.0
    alpha_ref = base + (sfb if same_family else 0.0) + (tmb if perfect else 0.0)
    alpha_ref = min(max(alpha_ref, 1e-3), 1.0 - 1e-3)

    size_term = FIT_SLOPE_PER_DECADE * (x - x_ref)
    task_term = FIT_SUMMARIZATION_OFFSET if task is Task.SUMMARIZATION else 0.0
    qd, qt = quant_penalty(draft_bits), quant_penalty(target_bits)
    z = _logit(alpha_ref) + size_term + task_term - qd - qt
    sd = FIT_RESIDUAL_SD_LOGIT * BAND_SDS

    overrides = [n for n, v in (("base_rate", base_rate), ("same_family_bonus", same_family_bonus),
                                ("tokenizer_match_bonus", tokenizer_match_bonus)) if v is not None]
    parts = [
        f"size ratio {dp / tp:.4g} ({'same family' if same_family else 'different family, shared tokenizer'})",
        f"level at ratio {REFERENCE_SIZE_RATIO}: {alpha_ref:.3f}"
        + (f" (config overrides: {', '.join(overrides)})" if overrides else " (fitted)"),
    ]
    if task_term:
        parts.append(f"summarization offset {task_term:+.3f} logit (fitted, Leviathan 2023 CNNDM vs EnDe)")
    if qd or qt:
        parts.append(f"quantization penalty −{qd + qt:.2f} logit (assumed: draft {draft_bits} bits, "
                     f"target {target_bits} bits)")
    if rate < 1.0:
        parts.append(f"scaled by tokenization match rate {rate:.3f}")
    parts.append(f"band ±{BAND_SDS:g} residual SD ({FIT_RESIDUAL_SD_LOGIT:.3f} logit)")
    parts.extend(notes)
    return AcceptanceEstimate(
        alpha=_sigmoid(z) * rate,
        low=_sigmoid(z - sd) * rate,
        high=_sigmoid(z + sd) * rate,
        source=ESTIMATED,
        method=f"acceptance prior: logit-linear in log10(draft/target size), fitted to "
        f"{sum(p.used_in_fit for p in PUBLISHED_ACCEPTANCE)} published measurements (Leviathan 2023 Table 3)",
        detail="; ".join(parts),
        adjustments={"size": size_term, "task": task_term, "quantization": -(qd + qt),
                     "level_logit": _logit(alpha_ref)},
    )


__all__ = [
    "AcceptanceEstimate",
    "PublishedAcceptance",
    "PUBLISHED_ACCEPTANCE",
    "PriorFit",
    "refit",
    "prior_acceptance",
    "quant_penalty",
    "fitted_reference_levels",
]
