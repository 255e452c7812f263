"""Saved measurements: one JSON file per target × draft × task (× processor) under
``constants.data_home()/measurements/<machine>/``, written atomically; and the hook find uses.

A partial (interrupted) measurement never replaces a complete one: it is saved beside it as
``<name>.partial.json`` (a complete run writes ``<name>.json`` and leaves any partial file alone). Readers
(:func:`load_measurement`, hence ``find`` and ``sweep``) take the complete file when there is one, else the
partial one, which stays marked ``partial`` and is labelled so wherever it is used."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional, Tuple

from draftfinder import constants
from draftfinder.engine.base import SamplingConfig
from draftfinder.errors import OutputError
from draftfinder.measure.results import Measurement, _slug, machine_id
from draftfinder.writer import write_json


# ---------------------------------------------------------------------------------------------------
# storage
# ---------------------------------------------------------------------------------------------------

def sampling_key(sampling: Optional[SamplingConfig]) -> str:
    """"" for greedy; else the processor and its parameters (part of the file name: α depends on them)."""
    if sampling is None or sampling.greedy:
        return ""
    key = f"{sampling.processor}-t{sampling.temperature:g}"
    if sampling.processor in ("topk", "topknucleus"):
        key += f"-k{sampling.top_k}"
    if sampling.processor in ("nucleus", "topknucleus"):
        key += f"-p{sampling.top_p:g}"
    return key


def _this_machine() -> str:
    return machine_id()


def measurements_dir(machine_id: Optional[str] = None) -> Path:
    """``constants.data_home()/measurements/<machine_id>/``."""
    return constants.data_home() / "measurements" / (machine_id or _this_machine())


PARTIAL_SUFFIX = ".partial.json"


def measurement_path(target_id: str, draft_id: str, task: str, *, sampling: Optional[SamplingConfig] = None,
                     machine_id: Optional[str] = None, partial: bool = False) -> Path:
    """Where the measurement of target × draft × task (× processor when not greedy) on a machine is kept;
    ``partial=True``: where an interrupted one is kept (beside it, ``….partial.json``)."""
    parts = [_slug(target_id), _slug(draft_id), _slug(task)]
    skey = sampling_key(sampling)
    if skey:
        parts.append(_slug(skey))
    return measurements_dir(machine_id) / ("__".join(parts) + (PARTIAL_SUFFIX if partial else ".json"))


def complete_sibling(partial_path: Any) -> Path:
    """The complete measurement's file beside a ``….partial.json`` file."""
    p = Path(partial_path)
    return p.with_name(p.name[: -len(PARTIAL_SUFFIX)] + ".json") if p.name.endswith(PARTIAL_SUFFIX) else p


def save_measurement(m: Measurement, path: Optional[Path] = None) -> Path:
    """Write ``m`` as JSON atomically (temporary file in the same folder + rename); sets ``m.path``.

    Without ``path``: a complete measurement goes to :func:`measurement_path`, a partial one to its
    ``….partial.json`` sibling, so an interrupted run never overwrites a complete measurement."""
    target = path or measurement_path(m.target_id, m.draft_id, m.task, sampling=SamplingConfig(**m.sampling),
                                      machine_id=m.machine.machine_id, partial=m.partial)
    m.path = str(target)
    try:
        write_json(target, m.to_dict(), create_parents=True)     # our own data home: its folders are ours to make
    except OutputError as exc:
        raise OutputError(target, exc.message.split(": ", 1)[-1], hint="set DRAFTFINDER_HOME to a writable folder") from exc
    return target


def _read(p: Path) -> Optional[Measurement]:
    if not p.is_file():
        return None
    try:
        m = Measurement.from_dict(json.loads(p.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None
    m.path = str(p)
    return m


def load_measurement(target_id: str, draft_id: str, task: str, *, sampling: Optional[SamplingConfig] = None,
                     machine_id: Optional[str] = None, path: Optional[Path] = None) -> Optional[Measurement]:
    """The saved measurement of target × draft × task on this machine (or ``machine_id``): the complete one
    when there is one, else the partial one (``m.partial``; the newer of the two files when an older version
    saved a partial run under the complete name). None when there is none or it cannot be read (a stale or
    corrupt file is ignored, never fatal). ``path``: read exactly that file."""
    if path is not None:
        return _read(Path(path))
    found = [m for m in (_read(measurement_path(target_id, draft_id, task, sampling=sampling, machine_id=machine_id,
                                                partial=partial)) for partial in (False, True)) if m is not None]
    complete = [m for m in found if not m.partial]
    if complete:
        return complete[0]
    return max(found, key=lambda m: m.created_at) if found else None


def apply_measurement(acceptance: Any, target_id: str, draft_id: str, task: str, *, hardware: Optional[str] = None,
                      sampling: Optional[SamplingConfig] = None,
                      measurement: Optional[Measurement] = None) -> Tuple[Any, Optional[float], Optional[Measurement]]:
    """Replace the acceptance prior (and, on this machine's hardware profile, the cost ratio) by a measurement.

    ``acceptance``: the :class:`acceptance.AcceptanceEstimate` the caller would use. Returns
    ``(acceptance, cost_ratio, measurement)``: when a saved measurement of target × draft × task exists on
    this machine, ``acceptance`` becomes ``AcceptanceEstimate.measured(α, low, high, method, detail=file)``
    (labelled measured, band = its 95 % CI) and ``cost_ratio`` is the measured c — but only when ``hardware``
    is ``"cpu"``, the profile of this kind of machine: a c timed on this CPU says nothing about an A100.
    Otherwise ``(acceptance, None, None)`` unchanged. α does not depend on the hardware (same processor).
    """
    from draftfinder.predict.acceptance import AcceptanceEstimate

    m = measurement or load_measurement(target_id, draft_id, task, sampling=sampling)
    if m is None or m.acceptance.alpha is None:
        return acceptance, None, None
    a = m.acceptance
    low = a.alpha_low if a.alpha_low is not None else a.alpha
    high = a.alpha_high if a.alpha_high is not None else a.alpha
    method = (f"teacher-forced acceptance on {a.prompts} {m.task} prompts, {a.proposed_positions} positions "
              f"({m.sampling.get('processor', 'greedy')}; 95% CI bootstrap over prompts)")
    detail = f"draftfinder measure, {m.created_at}, machine {m.machine.machine_id}: {m.path}"
    if m.partial:
        detail += " (partial: interrupted)"
    measured = AcceptanceEstimate.measured(min(1.0, max(0.0, a.alpha)), low=low, high=high, method=method,
                                           detail=detail)
    cost = m.cost_ratio if (hardware == "cpu" and m.draft_cost is not None) else None
    return measured, cost, m


def measured_verify_costs(m: Optional[Measurement], *, hardware: Optional[str] = None
                          ) -> Tuple[Optional[dict], Optional[dict], Optional[str]]:
    """The verify costs v(K) of a saved measurement, for the estimator: ``(costs, sources, method)``.

    Like the cost ratio in :func:`apply_measurement`, only on the ``cpu`` hardware profile (they were timed on
    this machine); else ``(None, None, None)``. ``sources`` labels each K measured / interpolated /
    extrapolated (:meth:`TargetCost.verify_cost_source`), so a measured v(K) replaces the latency model's
    wherever one exists and a modelled one says so.
    """
    if m is None or m.target_cost is None or hardware != "cpu" or not m.target_cost.verify_cost_by_k:
        return None, None, None
    tc = m.target_cost
    costs = {int(k): float(v) for k, v in tc.verify_cost_by_k.items()}
    sources = {k: tc.verify_cost_source(k) for k in costs}
    method = (f"draftfinder measure: median of paired T(K+1 tokens)/T(1 token) target passes after "
              f"{tc.context_tokens} tokens of KV cache, {m.created_at}, machine {m.machine.machine_id}: {m.path}")
    if tc.extrapolation_method and any(v == "extrapolated" for v in sources.values()):
        method += f"; past the timed Ks: {tc.extrapolation_method}"
    return costs, sources, method
