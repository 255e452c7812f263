"""Fitting llama.cpp's Metal constants on draftbench, the only published source we fit on.

draftbench (alexziskind1/draftbench @ 991497a, ``results/m4max-128gb_llamacpp_qwen25-*.json``) ran llama-server on
one M4 Max over Qwen2.5 targets (7B–72B, F16 … Q2_K) × drafts (0.5B–7B, F16 … Q2_K) with the server's default
drafting (n_max 16, p_min 0.75) and published, per pair, the speedup over the target alone and llama.cpp's
acceptance rate (accepted ÷ drafted); per target, the plain decode speed. The fit predicts each speedup from the
row's acceptance rate, formats and shapes through exactly the production code (:func:`latency.step_ms` with
candidate constants, :mod:`drafting` for the gated draft lengths) and minimises, by Levenberg–Marquardt on
bounded parameters::

    Σ_rows log(predicted speedup / published)²  +  4 · Σ_targets log(predicted tokens/s / published)²

(the baselines weigh 4×: one per target configuration against ~20 speedup rows each). Which rows it sees is the
caller's choice — ``bench/estimator_accuracy.py`` fits on training splits and reports held-out groups; the stored
constants (:data:`engine_costs.LLAMACPP_METAL_FIT`) are the fit on every draftbench row.

Assumed inputs: the mean context during generation, :data:`DRAFTBENCH_CTX` (prompts of ~70 tokens with the chat
template, up to 1024 generated); the rate is the third prompt's only (published.json's note), used as the pair's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from draftfinder.predict import drafting
from draftfinder.predict.engine_costs import ERA_2025_N_MAX, ERA_2025_P_MIN, LLAMACPP_METAL_FIT, metal_costs
from draftfinder.predict.latency import ModelShape, step_ms
from draftfinder.predict.devices import preset_device

DRAFTBENCH_CTX = 512
DRAFTBENCH_N_MAX = ERA_2025_N_MAX      # llama-server's default --draft-max then (engine_costs ERA_*)
DRAFTBENCH_P_MIN = ERA_2025_P_MIN
BASELINE_WEIGHT = 2.0          # on the log residual (4x in the squared sum)

# name -> (low, high) bounds of the fitted constants
BOUNDS: Dict[str, Tuple[float, float]] = {
    "bandwidth_efficiency": (0.3, 1.0), "per_layer_overhead_ms": (0.0, 0.2), "per_step_overhead_ms": (0.0, 10.0),
    "small_batch_growth_ext": (0.0, 1.0), "small_batch_growth_per_token": (0.0, 1.0),
    "gemm_dequant_ops": (0.0, 300.0), "stop_link": (0.05, 5.0)
}
DEQUANT_BOUNDS = (0.0, 60.0)
# where the search starts (physically plausible guesses, independent of any stored fit)
START: Dict[str, float] = {"bandwidth_efficiency": 0.85, "per_layer_overhead_ms": 0.02, "per_step_overhead_ms": 1.0,
                           "small_batch_growth_ext": 0.1, "small_batch_growth_per_token": 0.1,
                           "gemm_dequant_ops": 30.0, "stop_link": 1.0}
START_DEQUANT_OPS = 3.0


@dataclass(frozen=True)
class DraftbenchRow:
    row_id: str
    target: ModelShape
    draft: ModelShape
    target_size: str            # "7B" … "72B"
    target_quant: str           # "F16", "Q8_0", ...
    rate: float                 # llama.cpp accepted / drafted
    speedup: float
    baseline_tokens_per_s: float


def draftbench_rows(data=None) -> List[DraftbenchRow]:
    """The draftbench rows of ``data/published.json`` with the shapes of their models (predict.model_shapes)."""
    from draftfinder.predict.model_shapes import arch_of
    from draftfinder.predict.published import load_published

    data = data or load_published()
    out = []
    for r in data.by_source("draftbench"):
        t_arch, d_arch = arch_of(r.target.id), arch_of(r.draft.id)
        if t_arch is None or d_arch is None or r.acceptance is None or not r.speedup:
            raise ValueError(f"draftbench row {r.row_id} lacks a shape, acceptance or speedup")
        out.append(DraftbenchRow(r.row_id, t_arch.shape(r.target.quant.lower(), r.target.id),
                                 d_arch.shape(r.draft.quant.lower(), r.draft.id), r.target.label.split()[0],
                                 r.target.quant, r.acceptance.value, float(r.speedup), float(r.baseline_tokens_per_s)))
    return out


class _Predictor:
    """Speedups and baseline speeds of draftbench rows under candidate constants, with per-call caches."""

    def __init__(self, rows: Sequence[DraftbenchRow], device=None, ctx: int = DRAFTBENCH_CTX):
        self.rows = list(rows)
        self.device = device or preset_device("m4-max")
        self.ctx = ctx
        self._a: Dict[Tuple[float, float], float] = {}

    def a_of(self, rate: float, stop_link: float) -> float:
        key = (rate, stop_link)
        if key not in self._a:
            pol = drafting.DraftPolicy(DRAFTBENCH_N_MAX, DRAFTBENCH_P_MIN, stop_link)
            self._a[key] = drafting.a_from_rate(rate, pol)
        return self._a[key]

    def __call__(self, fit: Dict[str, float]) -> Tuple[List[float], Dict[str, float]]:
        costs = metal_costs(fit)
        memo: Dict[Tuple[ModelShape, int], float] = {}

        def t(shape: ModelShape, n: int) -> float:
            key = (shape, n)
            if key not in memo:
                memo[key] = step_ms(shape, n, self.device, "llama.cpp", ctx=self.ctx, costs=costs)
            return memo[key]

        pol = drafting.DraftPolicy(DRAFTBENCH_N_MAX, DRAFTBENCH_P_MIN, fit["stop_link"])
        speedups = []
        for r in self.rows:
            a = self.a_of(r.rate, fit["stop_link"])
            speedups.append(drafting.expected_speedup(a, pol, t(r.draft, 1), lambda n, s=r.target: t(s, n)))
        baselines = {r.target_size + " " + r.target_quant: 1000.0 / t(r.target, 1) for r in self.rows}
        return speedups, baselines


def predict_draftbench(rows: Sequence[DraftbenchRow], fit: Optional[Dict[str, float]] = None
                       ) -> Tuple[List[float], Dict[str, float]]:
    """(speedup per row, tokens/s per target configuration) predicted with ``fit`` (default: the stored fit)."""
    return _Predictor(rows)(dict(LLAMACPP_METAL_FIT if fit is None else fit))


@dataclass
class FitResult:
    params: Dict[str, float]
    n_rows: int
    n_baselines: int
    iterations: int
    rms_log_error: float
    fitted_formats: List[str] = field(default_factory=list)


def _formats_seen(rows: Sequence[DraftbenchRow]) -> List[str]:
    fmts = {r.target.fmt for r in rows} | {r.draft.fmt for r in rows}
    return sorted(f.name for f in fmts if f.family != "float")


def fit_llamacpp_metal(rows: Sequence[DraftbenchRow], *, fixed: Optional[Dict[str, float]] = None,
                       max_iter: int = 60) -> FitResult:
    """Fit the Metal constants on ``rows`` (module doc). ``fixed`` pins named constants. Needs numpy (a dependency
    of torch, which draftfinder requires)."""
    import numpy as np

    rows = list(rows)
    fmts = _formats_seen(rows)
    names = list(BOUNDS) + [f"dequant_ops.{f}" for f in fmts]
    bounds = [BOUNDS.get(n, DEQUANT_BOUNDS) for n in names]
    fixed = dict(fixed or {})
    free = [i for i, n in enumerate(names) if n not in fixed]
    pred = _Predictor(rows)
    obs_s = np.log([r.speedup for r in rows])
    base_obs: Dict[str, float] = {}
    for r in rows:
        base_obs[r.target_size + " " + r.target_quant] = r.baseline_tokens_per_s
    keys = sorted(base_obs)
    obs_b = np.log([base_obs[k] for k in keys])

    def params_of(z: "np.ndarray") -> Dict[str, float]:
        p = dict(fixed)
        for j, i in enumerate(free):
            lo, hi = bounds[i]
            p[names[i]] = lo + (hi - lo) / (1.0 + math.exp(-min(max(float(z[j]), -40.0), 40.0)))
        for n in names:
            p.setdefault(n, START.get(n, START_DEQUANT_OPS))
        return p

    def z_of(p: Dict[str, float]) -> "np.ndarray":
        z = []
        for i in free:
            lo, hi = bounds[i]
            v = min(max(p.get(names[i], (lo + hi) / 2), lo + 1e-6 * (hi - lo)), hi - 1e-6 * (hi - lo))
            z.append(math.log((v - lo) / (hi - v)))
        return np.array(z)

    def resid(z: "np.ndarray") -> "np.ndarray":
        s, b = pred(params_of(z))
        return np.concatenate([np.log(s) - obs_s, BASELINE_WEIGHT * (np.log([b[k] for k in keys]) - obs_b)])

    z = z_of({n: fixed.get(n, START.get(n, START_DEQUANT_OPS)) for n in names})
    r = resid(z)
    cost, damp, it = float(r @ r), 1e-2, 0
    for it in range(1, max_iter + 1):
        jac = np.empty((len(r), len(z)))
        for j in range(len(z)):
            dz = np.zeros_like(z)
            dz[j] = 1e-4
            jac[:, j] = (resid(z + dz) - r) / 1e-4
        a, g = jac.T @ jac, jac.T @ r
        improved = False
        while damp < 1e10:
            step = np.linalg.solve(a + damp * np.diag(np.diag(a) + 1e-12), -g)
            r_new = resid(z + step)
            c_new = float(r_new @ r_new)
            if c_new < cost:
                improved = cost - c_new > 1e-10 * max(cost, 1.0)
                z, r, cost, damp = z + step, r_new, c_new, max(damp / 3, 1e-7)
                break
            damp *= 4
        if not improved:
            break
    p = params_of(z)
    return FitResult({n: round(p[n], 6) for n in names}, len(rows), len(keys), it,
                     math.sqrt(cost / len(r)), fmts)


__all__ = ["DRAFTBENCH_CTX", "DraftbenchRow", "draftbench_rows", "predict_draftbench", "FitResult",
           "fit_llamacpp_metal", "BOUNDS"]
