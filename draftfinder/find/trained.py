"""Drafts trained here (``draftfinder train``) as ``find`` candidates: the registry ``<data home>/trained.json``
and any ``--models-dir`` folder that holds a ``train_report.json``.

The registry is a JSON list of ``{"target", "method", "path", "created"}`` entries; ``train`` adds one after a
successful run through :func:`register_trained` (atomic, through :mod:`draftfinder.writer`; a rerun into the
same folder replaces its entry). A draft is offered only for its own target: the report's ``target`` names the
find target (same name, any case) or resolves to the same files (``zoo:NAME`` and the path of its GGUF are one
target). A registry entry whose folder or report is gone is skipped with one note, never an error.

Two kinds (the report's ``method``; an eagle3 folder also says so in its config, ``speculators_model_type``):

- ``independent``: a standard Hugging Face folder of the target's architecture, shrunk. It is a candidate like
  any local folder — the normal tokenizer and engine checks run — labelled "trained here" (source
  ``trained``), and its report's measured figures replace the prior the way a saved ``draftfinder measure``
  does (:meth:`TrainedDraft.estimator_inputs`): the held-out α (teacher-forced), and on this machine's CPU
  the measured c, v(K) and the speedup our engine measured at the report's K.
- ``eagle3``: a head fed by the target's hidden states, not a model of its own: listed with the drafting
  methods (:func:`head_offer`), for vLLM (``"method": "eagle3"`` with the folder) and our engine
  (``--draft DIR``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from draftfinder import constants

REGISTRY_FILE = "trained.json"
REPORT_FILE = "train_report.json"
HEAD_METHODS = ("eagle3",)
TRAINED_SOURCE = "trained"
TRAINED_LABEL = "trained here"


def registry_path() -> Path:
    """``<data home>/trained.json`` (the data home of the measurement store, :func:`constants.data_home`)."""
    return constants.data_home() / REGISTRY_FILE


def register_trained(target: str, method: str, path: Path, created: str) -> None:
    """Add a trained draft to the registry (replacing an entry for the same folder), atomically.

    Raises :class:`~draftfinder.errors.OutputError` when the registry cannot be read as a list (it is left as it
    is: nothing the user has is overwritten) or cannot be written."""
    from draftfinder.errors import OutputError
    from draftfinder.writer import write_json

    where = registry_path()
    entries, problem = _read_registry(where)
    if problem is not None:
        raise OutputError(where, problem, hint=f"fix or delete {where}; meanwhile `draftfinder find TARGET "
                                                "--models-dir DIR` finds the trained folder")
    folder = str(Path(path).expanduser().resolve())
    entries = [e for e in entries if str(e.get("path")) != folder]
    entries.append({"target": target, "method": method, "path": folder, "created": created})
    write_json(where, entries, create_parents=True)       # our own data home: its folders are ours to make


def _read_registry(where: Path) -> Tuple[List[Dict[str, Any]], Optional[str]]:
    """``(entries, problem)``: the registry's entries (``[]`` when there is no file), or the reason it is unusable."""
    if not where.is_file():
        return [], None
    try:
        data = json.loads(where.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return [], f"unreadable trained-draft registry ({exc})"
    if not isinstance(data, list) or not all(isinstance(e, dict) for e in data):
        return [], "the trained-draft registry is not a JSON list of {target, method, path, created} entries"
    return data, None


def _figure(value: Any) -> Optional[float]:
    """A number, or the ``value`` of a ``{value, source}`` dict; None otherwise."""
    if isinstance(value, dict):
        value = value.get("value")
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


@dataclass
class TrainedDraft:
    """One draft trained here, with its ``train_report.json``."""

    path: Path                       # the output folder
    method: str                      # independent | eagle3
    target: str                      # the target's name as ``train`` was given it
    created: str
    report: Dict[str, Any]
    found_by: str                    # "registry" | "--models-dir"
    machine_id: Optional[str] = None                   # where the report's timings were taken
    notes: List[str] = field(default_factory=list)

    @property
    def report_path(self) -> Path:
        return self.path / REPORT_FILE

    @property
    def is_head(self) -> bool:
        return self.method in HEAD_METHODS

    @property
    def label(self) -> str:
        """``trained: <folder name>`` — how charts and tables name it instead of a long path."""
        return f"trained: {self.path.name}"

    @property
    def held_out_acceptance(self) -> Optional[float]:
        return _figure((self.report.get("held_out") or {}).get("acceptance"))

    @property
    def cost_ratio(self) -> Optional[float]:
        return _figure(self.report.get("cost_ratio_c"))

    @property
    def verify_costs(self) -> Dict[int, float]:
        out = {}
        for k, v in (self.report.get("verify_costs") or {}).items():
            value = _figure(v)
            if str(k).isdigit() and value is not None:
                out[int(k)] = value
        return out

    @property
    def measured(self) -> Dict[str, Any]:
        return self.report.get("measured") or {}

    @property
    def measured_speedup(self) -> Optional[float]:
        return _figure(self.measured.get("speedup"))

    @property
    def measured_k(self) -> Optional[int]:
        k = self.measured.get("K", self.measured.get("k"))
        return int(k) if isinstance(k, int) and not isinstance(k, bool) and k >= 1 else None

    def timed_here(self) -> bool:
        """The report's timings (c, v(K), the measured speedup) were taken on this machine."""
        from draftfinder.measure.results import machine_id

        return self.machine_id is not None and self.machine_id == machine_id()

    def source_text(self) -> str:
        """``measured by draftfinder train on held-out prompts …`` — the provenance of every figure it gives."""
        data = self.report.get("data") or {}
        prompts = data.get("held_out_prompts")
        count = len(prompts) if isinstance(prompts, list) else prompts
        task = self.report.get("task") or "?"
        what = f"{count} held-out {task} prompts" if count else f"held-out {task} prompts"
        return f"measured by draftfinder train on {what} ({self.report.get('created') or self.created})"

    def estimator_inputs(self, prior: Any, *, hardware: Optional[str]) -> Tuple[Any, Optional[float], Optional[dict],
                                                                                   Optional[dict], Optional[str]]:
        """``(acceptance, c, v_costs, v_sources, v_method)`` for the estimator, as a saved measurement gives them
        (:func:`draftfinder.measure.apply_measurement`): the held-out α (measured, teacher-forced) replaces the
        prior ``prior``; c and v(K) only when ``hardware`` is ``"cpu"`` (predictions for this machine's CPU and
        the PyTorch engine) and the report was timed on this machine."""
        from draftfinder.predict.acceptance import AcceptanceEstimate

        alpha = self.held_out_acceptance
        acceptance = prior
        if alpha is not None:
            tokens = (self.report.get("data") or {}).get("held_out_tokens")
            method = ("held-out greedy acceptance, teacher-forced on the target's own continuations"
                      + (f" ({tokens} tokens)" if tokens else ""))
            acceptance = AcceptanceEstimate.measured(min(1.0, max(0.0, alpha)), method=method,
                                                     detail=f"{self.source_text()}: {self.report_path}")
        if hardware != "cpu" or not self.timed_here():
            return acceptance, None, None, None, None
        costs = self.verify_costs or None
        sources = {k: "measured" for k in costs} if costs else None
        method = f"{self.source_text()}: target passes T(K+1)/T(1): {self.report_path}" if costs else None
        return acceptance, self.cost_ratio, costs, sources, method

    def to_dict(self) -> Dict[str, Any]:
        """The candidate's ``trained`` entry in find's JSON."""
        measured = self.measured
        return {"method": self.method, "path": str(self.path), "report_path": str(self.report_path),
                "target": self.target, "created": self.created, "found_by": self.found_by,
                "task": self.report.get("task"), "label": self.label,
                "held_out_acceptance": self.held_out_acceptance, "cost_ratio_c": self.cost_ratio,
                "measured": {"K": self.measured_k, "speedup": self.measured_speedup,
                             "outputs_identical": measured.get("outputs_identical"),
                             "timed_on_this_machine": self.timed_here()},
                "source": self.source_text()}


def is_head_folder(folder: Path) -> bool:
    """An EAGLE-3 head in the speculators format: ``config.json`` says ``speculators_model_type: eagle3``."""
    try:
        config = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(config, dict) and config.get("speculators_model_type") in HEAD_METHODS


def read_trained(folder: Path, *, found_by: str, created: str = "") -> Optional[TrainedDraft]:
    """The trained draft in ``folder`` (None when it has no readable ``train_report.json`` naming a target)."""
    folder = Path(folder).expanduser().resolve()
    try:
        report = json.loads((folder / REPORT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(report, dict) or not isinstance(report.get("target"), str):
        return None
    method = str(report.get("method") or ("eagle3" if is_head_folder(folder) else "independent"))
    if is_head_folder(folder):
        method = "eagle3"
    machine = report.get("machine")
    machine_id = machine.get("machine_id") if isinstance(machine, dict) else (machine if isinstance(machine, str)
                                                                              else None)
    return TrainedDraft(path=folder, method=method, target=report["target"],
                        created=str(report.get("created") or created), report=report, found_by=found_by,
                        machine_id=machine_id)


def trained_drafts(local_folders: List[Path], *, matches: Callable[[str], bool],
                   notes: Optional[List[str]] = None) -> List[TrainedDraft]:
    """The drafts trained for the find target: registry entries first, then ``local_folders`` (the model
    folders found under ``--models-dir``) holding a report; ``matches(name)`` says whether a report's target is
    the find target. Stale registry entries (folder or report gone) add one line to ``notes`` each."""
    notes = notes if notes is not None else []
    where = registry_path()
    entries, problem = _read_registry(where)
    if problem is not None:
        notes.append(f"warning: {problem} ({where}); drafts trained here are not listed from it")
    found: Dict[str, TrainedDraft] = {}
    for entry in entries:
        path = Path(str(entry.get("path") or "")).expanduser()
        draft = read_trained(path, found_by="registry", created=str(entry.get("created") or "")) \
            if str(entry.get("path") or "") and path.is_dir() else None
        if draft is None:
            why = "no longer exists" if not path.is_dir() else f"has no readable {REPORT_FILE}"
            notes.append(f"warning: trained draft {path} (target {entry.get('target')}) {why}: skipped "
                         f"(remove its entry from {where})")
            continue
        found.setdefault(str(draft.path), draft)
    for folder in local_folders:
        if (Path(folder) / REPORT_FILE).is_file():
            draft = read_trained(Path(folder), found_by="--models-dir")
            if draft is not None:
                found.setdefault(str(draft.path), draft)
    return [d for d in found.values() if matches(d.target)]


# ---------------------------------------------------------------------------------------------------
# an EAGLE-3 head trained here, with the drafting methods
# ---------------------------------------------------------------------------------------------------

def head_offer(target: Any, draft: TrainedDraft, task: str, *, this_machine: bool) -> Dict[str, Any]:
    """The ``draft_methods`` row of a head trained here (``methods/offers.py`` :class:`MethodOffer`): vLLM
    ``"method": "eagle3"`` with the folder, our engine with ``--draft DIR``; the measured speedup when it was
    timed on this machine and the predictions are for it (``this_machine``)."""
    from draftfinder.methods.offers import DEFAULT_HEAD_K, MethodOffer, _rules, _vllm

    k = draft.measured_k or DEFAULT_HEAD_K
    usage = {"vllm": _vllm(target, {"method": "eagle3", "model": str(draft.path), "num_speculative_tokens": k}),
             "draftfinder": f"draftfinder measure {target.model_id} --draft {draft.path} --task {task}"}
    offer = MethodOffer(method="eagle3", label=f"EAGLE-3 head ({TRAINED_LABEL})", draft=str(draft.path),
                        engines=["vllm", "draftfinder"], usage=usage,
                        provenance=f"{TRAINED_LABEL}: {draft.report_path} ({draft.found_by})", rules=_rules("eagle3"))
    alpha = draft.held_out_acceptance
    if alpha is not None:
        offer.notes.append(f"held-out acceptance α {alpha:.3f} ({draft.source_text()}; teacher-forced)")
    if this_machine and draft.timed_here() and draft.measured_speedup is not None:
        offer.expected_speedup, offer.speedup_basis = draft.measured_speedup, constants.MEASURED
        offer.basis_detail = f"{draft.source_text()}: our engine at K={draft.measured_k}, this machine"
    else:
        why = ("its report has no measured speedup" if draft.measured_speedup is None else
               f"its measured {draft.measured_speedup:.2f}x was timed on {draft.machine_id or 'another machine'}, "
               "not for the device and engine of these predictions")
        offer.basis_detail = f"{why}; measure it: draftfinder measure {target.model_id} --draft {draft.path}"
    row = offer.to_dict()
    row.update({"source": TRAINED_SOURCE, "trained": draft.to_dict()})
    return row
