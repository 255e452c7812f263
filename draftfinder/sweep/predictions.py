"""The estimator's prediction beside each measured sweep cell.

In order of preference, for target × draft × K:

1. a saved ``draftfinder measure`` of this target × draft × task on this machine: its per-K prediction
   (measured α — teacher-forced, exact greedy replay — with measured c and v(K) of our engine on this CPU);
   provenance ``measured`` for the inputs, the speedup itself predicted (``method`` says so);
2. model drafts without a measurement: :meth:`estimator.SpeedupEstimator.evaluate` with the acceptance prior
   (``acceptance.prior_acceptance``, fitted to published points) and the latency model on the sweep's
   hardware profile (``cpu`` when ``hardware`` names no known profile); provenance ``estimated``;
3. n-gram and layer-skip drafts without a measurement: no prediction (``reason`` says how to get one:
   their acceptance depends on the text, not on model metadata).

A prediction never fails a sweep: any error becomes ``{"speedup": None, "reason": …}``.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

from draftfinder.constants import ESTIMATED, MEASURED
from draftfinder.sweep.config import Entry, SweepConfig

_CACHE: Dict[Any, Any] = {}


def _profile_name(cfg: SweepConfig) -> str:
    from draftfinder.predict.latency import get_profile

    try:
        return get_profile(cfg.hardware).name
    except Exception:
        return "cpu"


def _record(path: str) -> Any:
    if path not in _CACHE:
        from draftfinder.models.resolver import Resolver

        _CACHE[path] = Resolver(offline=True).resolve(path)
    return _CACHE[path]


def _draft_id(draft: Entry) -> str:
    if draft.type in ("ngram", "layerskip"):
        return draft.spec
    return _record(str(draft.path)).model_id


def predict_cell(cfg: SweepConfig, target: Entry, draft: Entry, k: Optional[int]) -> Dict[str, Any]:
    if cfg.backend == "openai" or not target.path:
        return {"speedup": None, "reason": "the server decides K and the draft; no local model to predict from"}
    k = int(k or 4)
    try:
        out = _from_measurement(cfg, target, draft, k) or _from_estimator(cfg, target, draft, k)
        if draft.adaptive and out.get("speedup") is not None:
            out["method"] += "; for a fixed K (this cell starts at K and adapts it)"
        return out
    except Exception as exc:  # a prediction is an extra: never fatal
        return {"speedup": None, "reason": f"no prediction: {str(exc).splitlines()[0][:160]}"}


def _from_measurement(cfg: SweepConfig, target: Entry, draft: Entry, k: int) -> Optional[Dict[str, Any]]:
    from draftfinder.engine.base import SamplingConfig
    from draftfinder.measure.store import load_measurement

    sampling = None if cfg.settings.temperature == 0 else SamplingConfig(processor="multinomial",
                                                                         temperature=cfg.settings.temperature)
    m = load_measurement(_record(str(target.path)).model_id, _draft_id(draft), cfg.settings.task, sampling=sampling)
    if m is None or k not in m.by_k:
        return None
    kr = m.by_k[k]
    speedup = kr.speedup_simulated if kr.speedup_simulated is not None else kr.speedup_iid
    return {"speedup": speedup, "alpha": m.acceptance.alpha, "k": k,
            "c": m.cost_ratio if m.draft_cost is not None else None, "provenance": MEASURED,
            "method": ("predicted from draftfinder measure (measured α, exact greedy replay, measured c and v(K) "
                       "of our engine on this machine)" + ("; partial measurement (interrupted run)" if m.partial
                                                           else "")), "source": m.path}


def _from_estimator(cfg: SweepConfig, target: Entry, draft: Entry, k: int) -> Dict[str, Any]:
    if draft.type != "model":
        return {"speedup": None, "k": k,
                "reason": (f"no prediction for {draft.type} drafts without a measurement: run draftfinder measure "
                           f"{target.path} --draft {draft.spec} --task {cfg.settings.task}")}
    from draftfinder.predict.estimator import SpeedupEstimator
    from draftfinder.models.analysis import ModelAnalyzer

    t_info = ModelAnalyzer.analyze_record(_record(str(target.path)))
    d_info = ModelAnalyzer.analyze_record(_record(str(draft.path)))
    same = bool(t_info.model_family and t_info.model_family == d_info.model_family)
    acc = SpeedupEstimator.estimate_acceptance(t_info, d_info, same, True, 1.0)
    profile = _profile_name(cfg)
    est = SpeedupEstimator.evaluate(t_info, d_info, acc, hardware=profile, max_k=max(16, k))
    return {"speedup": est.speedup_by_k.get(k), "alpha": est.acceptance_rate, "k": k, "c": est.cost_ratio,
            "provenance": ESTIMATED,
            "method": f"acceptance prior + latency model ({profile}); Leviathan 2023 Thm 3.8 with verify cost"}
