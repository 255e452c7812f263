"""The estimator's prediction beside each measured sweep cell, from inputs of the cell's own engine or saying not.

Every prediction names the engine its inputs were timed on (``inputs_engine``), the engine the cell runs
(``cell_engine``) and whether they agree (``same_engine``). Engines: ``pytorch`` (our engine and transformers'
assisted generation: PyTorch eager forwards of the same model) and ``llama.cpp`` (llama-server). In order of
preference, for target × draft × K:

1. **same engine, measured**: a saved ``draftfinder measure`` of this target × draft × task on this machine,
   for a PyTorch cell: its per-K prediction (teacher-forced α, exact greedy replay, c and v(K) timed on our
   engine here; ``verify_cost_source`` says whether v(K) at this K was timed or modelled); provenance
   ``measured`` (the inputs; the speedup itself is predicted, ``method`` says how).
2. **same engine, calibrated** (``hardware: local`` with a ``draftfinder calibrate`` profile of this machine
   that timed the cell's target on the cell's engine): :func:`predict.calibration.calibrated_speedup` — the
   measured T(K+1)/T(1) and draft step of that engine, α from a saved measurement when there is one, else from
   this cell's own counters (accepted ÷ drafted at K → α, i.i.d.; ``alpha_source`` says so: then the prediction
   checks the cost model, given the acceptance observed). Model drafts need the draft calibrated too; n-gram
   drafts cost nothing beyond the measured steps. Provenance ``estimated``.
3. **same engine, estimated** (model drafts): :meth:`estimator.SpeedupEstimator.evaluate` with the latency model
   of the sweep's ``hardware`` profile, when that profile was calibrated on the cell's engine (``cpu``: PyTorch;
   the GPU profiles: gpt-fast/PyTorch and llama-bench/llama.cpp decode speeds), and α from a saved
   measurement when there is one (α is the pair's, not the engine's), else the prior; provenance ``estimated``.
4. **other engine**: the same two computations from inputs of another engine (e.g. a PyTorch measurement for a
   llama.cpp cell: llama.cpp's draft and verify costs differ) — given for orientation, provenance
   ``estimated``, ``same_engine`` false and ``reason`` saying which engine the inputs come from.
5. otherwise no prediction (``speedup`` None, ``reason`` says how to get one).

``hardware`` is validated when the config loads (:func:`config.sweep_config_from_dict`): a name that is no
latency profile is a config error, except ``local`` (this machine: its calibration profile when one is saved).
A prediction never fails a sweep: any error becomes ``{"speedup": None, "reason": …}``.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

from draftfinder.constants import ESTIMATED, MEASURED
from draftfinder.sweep.config import LOCAL_HARDWARE, Entry, SweepConfig

_CACHE: Dict[Any, Any] = {}

PYTORCH = "pytorch"
LLAMACPP = "llama.cpp"
# the engine each backend runs; openai: the user's server, unknown
CELL_ENGINE = {"engine": PYTORCH, "hf": PYTORCH, "llamacpp": LLAMACPP}
# the engines each latency profile's constants were calibrated on (predict/latency.py: CPU_MEASUREMENTS were
# timed with PyTorch eager; the GPU fit uses gpt-fast (PyTorch) on A100 and llama-bench (llama.cpp) on RTX 4090)
PROFILE_ENGINES = {"cpu": (PYTORCH,), "rtx4090": (PYTORCH, LLAMACPP), "a100-80gb": (PYTORCH, LLAMACPP),
                   "h100": (PYTORCH, LLAMACPP), "m4-max": (PYTORCH, LLAMACPP)}


def _profile_name(cfg: SweepConfig) -> Optional[str]:
    """The latency profile ``hardware`` names, or None for ``local``. The config loader rejected any other name."""
    if cfg.hardware == LOCAL_HARDWARE:
        return None
    from draftfinder.predict.latency import get_profile

    return get_profile(cfg.hardware).name


def _record(path: str) -> Any:
    if path not in _CACHE:
        from draftfinder.models.resolver import Resolver

        _CACHE[path] = Resolver(offline=True).resolve(path)
    return _CACHE[path]


def _draft_id(draft: Entry) -> str:
    if draft.type in ("ngram", "layerskip"):
        return draft.spec
    return _record(str(draft.path)).model_id


def predict_cell(cfg: SweepConfig, target: Entry, draft: Entry, k: Optional[int],
                 measured: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """The prediction beside one cell (module doc); ``measured``: the cell's record (its runs' draft counters)."""
    if cfg.backend == "openai" or not target.path:
        return {"speedup": None, "reason": "the server decides K and the draft; no local model to predict from"}
    if cfg.backend not in CELL_ENGINE:                  # vllm, sglang, lmstudio: no latency model of theirs here
        return {"speedup": None, "reason": f"no latency model of {cfg.backend} to predict from (measured only)"}
    k = int(k or 4)
    cell_engine = CELL_ENGINE[cfg.backend]
    try:
        m = _measurement(cfg, target, draft)
        profile = _profile_name(cfg)
        same_profile = profile is not None and cell_engine in PROFILE_ENGINES.get(profile, ())
        out = None
        if m is not None and cell_engine == PYTORCH:
            out = _from_measurement(m, k, cell_engine)
        if out is None and cfg.hardware == LOCAL_HARDWARE:
            out = _from_calibration(cfg, target, draft, k, m, cell_engine, measured)
        if out is None and draft.type == "model" and same_profile:
            out = _from_estimator(cfg, target, draft, k, profile, m, cell_engine)
        if out is None and m is not None:
            out = _from_measurement(m, k, cell_engine)
        if out is None and draft.type == "model" and profile is not None:
            out = _from_estimator(cfg, target, draft, k, profile, m, cell_engine)
        if out is None:
            out = _none(cfg, target, draft, k, profile, cell_engine)
        if draft.adaptive and out.get("speedup") is not None:
            out["method"] += "; for a fixed K (this cell starts at K and adapts it)"
        return out
    except Exception as exc:  # a prediction is an extra: never fatal
        return {"speedup": None, "reason": f"no prediction: {str(exc).splitlines()[0][:160]}"}


def _engines(inputs: str, cell: str) -> Dict[str, Any]:
    return {"inputs_engine": inputs, "cell_engine": cell, "same_engine": inputs == cell}


def _other_engine_reason(inputs: str, cell: str, what: str) -> str:
    return (f"inputs from another engine: {what} timed with {inputs}, this cell runs {cell} (its draft and verify "
            f"costs differ): for orientation only, not a prediction of this engine")


def _measurement(cfg: SweepConfig, target: Entry, draft: Entry) -> Any:
    from draftfinder.engine.base import SamplingConfig
    from draftfinder.measure.store import load_measurement

    sampling = None if cfg.settings.temperature == 0 else SamplingConfig(processor="multinomial",
                                                                         temperature=cfg.settings.temperature)
    return load_measurement(_record(str(target.path)).model_id, _draft_id(draft), cfg.settings.task, sampling=sampling)


def _from_measurement(m: Any, k: int, cell_engine: str) -> Optional[Dict[str, Any]]:
    if k not in m.by_k:
        return None
    kr = m.by_k[k]
    speedup = kr.speedup_simulated if kr.speedup_simulated is not None else kr.speedup_iid
    partial = "; partial measurement (interrupted run)" if m.partial else ""
    v_source = kr.verify_cost_source or (m.target_cost.verify_cost_source(k) if m.target_cost else None)
    out = {"speedup": speedup, "alpha": m.acceptance.alpha, "k": k,
           "c": m.cost_ratio if m.draft_cost is not None else None, "verify_cost": kr.verify_cost,
           "verify_cost_source": v_source, "source": m.path, **_engines(PYTORCH, cell_engine)}
    if out["same_engine"]:
        out.update(provenance=MEASURED,
                   method=("predicted from draftfinder measure (measured α, exact greedy replay, measured c and "
                           f"v(K) of our engine on this machine; v({k}) {v_source}){partial}"))
    else:
        out.update(provenance=ESTIMATED,
                   method=(f"draftfinder measure's prediction for our PyTorch engine (measured α, c, v(K); v({k}) "
                           f"{v_source}){partial}"),
                   reason=_other_engine_reason(PYTORCH, cell_engine, "α, c and v(K) of the saved measurement"))
    return out


CALIBRATED_ENGINE = {"llamacpp": "llama.cpp", "engine": "draftfinder"}   # backend -> calibration engine


def _from_calibration(cfg: SweepConfig, target: Entry, draft: Entry, k: int, m: Any, cell_engine: str,
                      measured: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """Step 2 of the module doc; None when no local profile timed this target (and draft) on the cell's engine."""
    from draftfinder.errors import CalibrationNotFoundError
    from draftfinder.predict.calibration import DEFAULT_NAME, alpha_from_rate, calibrated_speedup, load_profile

    engine = CALIBRATED_ENGINE.get(cfg.backend)
    if engine is None or draft.type == "layerskip":
        return None
    try:
        profile = load_profile(DEFAULT_NAME)      # a corrupt / foreign profile raises: predict_cell says why
    except CalibrationNotFoundError:
        return None
    tcal = profile.calibration(engine, str(target.path))
    dcal = profile.calibration(engine, str(draft.path)) if draft.type == "model" else None
    if tcal is None or (draft.type == "model" and dcal is None):
        return None
    if m is not None and m.acceptance.alpha is not None:
        alpha, alpha_source = float(m.acceptance.alpha), f"measured: draftfinder measure ({m.path})"
    else:
        counts = _cell_counts(measured or {})
        if counts is None:
            return None
        rate, drafted, accepted = counts
        alpha = alpha_from_rate(rate, k)
        alpha_source = (f"measured in this cell: accepted ÷ drafted {accepted}/{drafted} = {rate:.3f} at K={k} → "
                        f"α {alpha:.3f} (i.i.d., Leviathan Eq. 1): the prediction checks the calibrated costs given "
                        f"the acceptance observed")
    out = calibrated_speedup(tcal, k, alpha, draft_kind=draft.type, draft=dcal)
    if out.get("speedup") is None:
        return None
    partial = "; partial calibration (interrupted run)" if profile.partial else ""
    out.update(provenance=ESTIMATED, alpha_source=alpha_source, verify_cost_source=MEASURED,
               source=profile.path, method=out["method"] + f"; calibration {profile.describe()}{partial}",
               **_engines(cell_engine, cell_engine))
    return out


def _cell_counts(record: Dict[str, Any]):
    """(accepted ÷ drafted, drafted, accepted) summed over the cell's runs, or None without draft counters."""
    runs = [r for r in record.get("runs") or [] if r.get("drafted")]
    drafted = sum(int(r["drafted"]) for r in runs)
    accepted = sum(int(r.get("accepted") or 0) for r in runs)
    return (accepted / drafted, drafted, accepted) if drafted else None


def _from_estimator(cfg: SweepConfig, target: Entry, draft: Entry, k: int, profile: str, m: Any,
                    cell_engine: str) -> Dict[str, Any]:
    from draftfinder.measure.store import apply_measurement
    from draftfinder.models.analysis import ModelAnalyzer
    from draftfinder.predict.estimator import SpeedupEstimator

    t_info = ModelAnalyzer.analyze_record(_record(str(target.path)))
    d_info = ModelAnalyzer.analyze_record(_record(str(draft.path)))
    same = bool(t_info.model_family and t_info.model_family == d_info.model_family)
    acc = SpeedupEstimator.estimate_acceptance(t_info, d_info, same, True, 1.0)
    if m is not None:                      # α is the pair's (teacher-forced, any engine); costs from the profile
        acc, _, _ = apply_measurement(acc, t_info.model_id, d_info.model_id, cfg.settings.task, measurement=m)
    engines = PROFILE_ENGINES.get(profile, ())
    inputs = cell_engine if cell_engine in engines else "/".join(engines) or "unknown"
    # the latency model's constants of the engine the inputs are labelled with (draftfinder = our PyTorch engine)
    model_engine = {PYTORCH: "draftfinder", LLAMACPP: "llama.cpp"}.get(inputs)
    est = SpeedupEstimator.evaluate(t_info, d_info, acc, hardware=profile, max_k=max(16, k), engine=model_engine)
    out = {"speedup": est.speedup_by_k.get(k), "alpha": est.acceptance_rate, "alpha_source": acc.source, "k": k,
           "c": est.cost_ratio, "verify_cost": est.verify_cost_by_k.get(k), "verify_cost_source": ESTIMATED,
           "provenance": ESTIMATED,
           "method": (f"{'measured α' if acc.source == MEASURED else 'acceptance prior'} + latency model ({profile}, "
                      f"calibrated on {' and '.join(engines) or 'no engine'}); Leviathan 2023 Thm 3.8 with verify cost"),
           **_engines(inputs, cell_engine)}
    if m is not None:
        out["source"] = m.path
    if not out["same_engine"]:
        out["reason"] = _other_engine_reason(inputs, cell_engine, f"the latency profile '{profile}' was")
    return out


def _none(cfg: SweepConfig, target: Entry, draft: Entry, k: int, profile: Optional[str],
          cell_engine: str) -> Dict[str, Any]:
    if draft.type != "model":
        how = (f"run draftfinder measure {target.path} --draft {draft.spec} --task {cfg.settings.task}"
               if cell_engine == PYTORCH else
               f"no {cell_engine} measurement exists; draftfinder measure {target.path} --draft {draft.spec} "
               f"--task {cfg.settings.task} gives a PyTorch-engine figure for orientation")
        if cfg.hardware == LOCAL_HARDWARE and cfg.backend in CALIBRATED_ENGINE:
            how += f", or draftfinder calibrate --models {target.path} times this machine's {cell_engine} steps"
        return {"speedup": None, "k": k, "cell_engine": cell_engine,
                "reason": (f"no prediction for {draft.type} drafts without a measurement (their acceptance depends on "
                           f"the text, not on model metadata): {how}")}
    return {"speedup": None, "k": k, "cell_engine": cell_engine,
            "reason": (f"no prediction: hardware '{cfg.hardware}' names no latency profile and no saved measurement "
                       f"exists; set \"hardware\" to one of {_profiles()} in the config, or run draftfinder measure "
                       f"{target.path} --draft {draft.path} --task {cfg.settings.task}")}


def _profiles() -> str:
    from draftfinder.predict.latency import PROFILES

    return ", ".join(PROFILES)
