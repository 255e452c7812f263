"""Model-free drafting (n-gram / prompt lookup, suffix decoding, layer-skip): the speedup to expect, by task,
and where each figure comes from.

Figures, best first for a given target and task:

1. ``measured`` — a saved ``draftfinder measure TARGET --draft ngram`` (or ``layerskip:N``) of this target on
   this machine (``measure/store.py``): the side-by-side speedup when the run verified it, else the speedup
   predicted from the measured acceptance and costs (labelled so).
2. ``published`` — rows of ``data/published.json`` for the method: Spec-Bench's prompt lookup decoding (PLD) rows
   by task (median over the GPUs and Vicuna sizes it reports, with the range and the row count), and vLLM's
   2024-10 blog n-gram rows (Llama-3-70B, 4×H100, by dataset and load).
3. ``measured`` by this project's bench (``bench/results/ngram_speedup.json``, when the source tree is present):
   a 135M target on a 2-core CPU — a different regime, shown for its task contrast, not as a forecast.

Task names map to the sources' own: ``general`` → Spec-Bench "mixed", ``chat`` → "chat" (multi-turn),
``summarization`` → "summarization", ``code`` → our bench's "code-editing" (Spec-Bench has no code task).
Suffix decoding and layer-skip have no published row here: their expected speedup is ``None`` with the reason
and the command that measures it — never a number we made up.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

from draftfinder import constants

# Our task -> the task names the sources use (first match wins).
TASK_ALIASES = {"general": ("mixed",), "chat": ("chat",), "summarization": ("summarization",),
                "code": ("code-editing", "code")}
# data/published.json method names -> registry ids; None: a method no engine here runs (listed, never offered).
PUBLISHED_METHOD_MAP = {"draft-model": "independent", "eagle": "eagle", "eagle2": "eagle", "eagle3": "eagle3",
                        "medusa": "medusa", "ngram": "ngram", "hydra": None, "lookahead": None, "rest": None,
                        "token-recycling": None, "sam-decoding+eagle2": None}
BENCH_FILE = Path(__file__).resolve().parents[2] / "bench" / "results" / "ngram_speedup.json"


@dataclass
class TaskFigure:
    """The speedup one source gives for one task."""

    task: str                       # the source's task name
    speedup: float                  # median when several rows
    basis: str                      # measured | published | estimated
    source: str                     # who measured it, where, on what
    low: Optional[float] = None     # range over the rows
    high: Optional[float] = None
    rows: int = 1

    def to_dict(self) -> Dict[str, Any]:
        return {"task": self.task, "speedup": round(self.speedup, 3), "basis": self.basis, "source": self.source,
                "low": None if self.low is None else round(self.low, 3),
                "high": None if self.high is None else round(self.high, 3), "rows": self.rows}


@dataclass
class ModelFreeEstimate:
    """What to expect from one model-free method for one target and task."""

    method: str
    task: str
    expected_speedup: Optional[float]
    basis: str                                  # measured | published | none
    basis_detail: str                           # the figure's source, or why there is none
    by_task: List[TaskFigure] = field(default_factory=list)

    def to_dict(self) -> Dict[str, Any]:
        return {"method": self.method, "task": self.task,
                "expected_speedup": None if self.expected_speedup is None else round(self.expected_speedup, 3),
                "basis": self.basis, "basis_detail": self.basis_detail,
                "by_task": [f.to_dict() for f in self.by_task]}


def _published_figures(method: str) -> List[TaskFigure]:
    """Published rows of ``method`` grouped by (source, task): median speedup, range, count."""
    from draftfinder.predict.published import load_published

    names = [k for k, v in PUBLISHED_METHOD_MAP.items() if v == method]
    groups: Dict[tuple, List[Any]] = {}
    for row in load_published().rows:
        if row.method in names and row.speedup is not None:
            task = str(row.raw.get("task") or "?")
            # Spec-Bench rows of a task differ only in GPU and model size: one figure; other sources' rows differ
            # in load or dataset (vLLM's blog: QPS 1 vs high QPS), so each stays its own figure
            key = (row.source_id, task, "" if row.source_id == "spec-bench" else row.row_id)
            groups.setdefault(key, []).append(row)
    out = []
    for (source_id, task, _), rows in sorted(groups.items()):
        values = [r.speedup for r in rows]
        if source_id == "spec-bench":
            where = (f"Spec-Bench prompt lookup decoding, {len(rows)} rows (Vicuna 7B/13B/33B, RTX 3090 / A100, "
                     f"batch 1, greedy): {', '.join(r.row_id for r in rows[:2])}{' …' if len(rows) > 2 else ''}")
        else:
            where = "; ".join(f"{r.row_id} ({r.engine}, {r.hardware_name}; {r.cite()})" for r in rows)
        out.append(TaskFigure(task, statistics.median(values), constants.PUBLISHED, where,
                              min(values), max(values), len(rows)))
    return out


def _bench_figures(method: str) -> List[TaskFigure]:
    """This project's committed n-gram bench (only in a source checkout)."""
    if method != "ngram" or not BENCH_FILE.is_file():
        return []
    try:
        data = json.loads(BENCH_FILE.read_text(encoding="utf-8"))
        run = data["run"]
        return [TaskFigure(task, float(v["decode_speedup"]), constants.MEASURED,
                           f"draftfinder bench {run['bench']} ({data['target']}, {data['drafter']}, K={data['k']}, "
                           f"{run['machine']['cpu']} {run['machine']['cores']} cores, {run['date'][:10]}; "
                           f"decode time, median of {data['repeats']} rounds)",
                           min(v["decode_speedups"]), max(v["decode_speedups"]), int(v["prompts"]))
                for task, v in data["tasks"].items()]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def saved_measurements(target_id: str, kinds=("ngram", "layerskip")) -> List[Any]:
    """Saved ``draftfinder measure`` results of ``target_id`` whose draft is model-free (this machine)."""
    from draftfinder.measure.store import PARTIAL_SUFFIX, load_measurement, measurements_dir

    folder = measurements_dir()
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.glob("*.json")):
        if path.name.endswith(PARTIAL_SUFFIX) and path.with_name(path.name[: -len(PARTIAL_SUFFIX)] + ".json").exists():
            continue
        m = load_measurement("", "", "", path=path)
        if m is not None and m.draft_kind in kinds and m.target_id.lower() == target_id.lower():
            found.append(m)
    return found


def measured_figure(m: Any) -> Optional[TaskFigure]:
    """A saved measurement as a figure: its verified side-by-side speedup, else its prediction from measured α."""
    where = f"draftfinder measure {m.draft_id} on {m.task}, {m.created_at[:19]}, machine {m.machine.machine_id}: {m.path}"
    if m.partial:
        where += " (partial: interrupted)"
    if m.verification is not None and m.verification.measured_speedup:
        return TaskFigure(m.task, float(m.verification.measured_speedup), constants.MEASURED,
                          f"{where}; side-by-side decode at K={m.verification.k}")
    if m.predicted_speedup:
        return TaskFigure(m.task, float(m.predicted_speedup), constants.ESTIMATED,
                          f"{where}; {m.prediction_method or 'predicted from the measured acceptance and costs'}")
    return None


def _pick(figures: List[TaskFigure], task: str) -> Optional[TaskFigure]:
    for name in TASK_ALIASES.get(task, (task,)):
        for f in figures:
            if f.task == name:
                return f
    return None


def estimate(method: str, task: str, target_id: Optional[str] = None) -> ModelFreeEstimate:
    """The expected speedup of model-free ``method`` (ngram | suffix | layer-skip) for ``task``, with every figure
    by task behind it. Saved measurements of ``target_id`` come first, then published rows, then our bench."""
    measured: List[TaskFigure] = []
    if target_id:
        kind = {"ngram": "ngram", "layer-skip": "layerskip"}.get(method)
        for m in saved_measurements(target_id, (kind,)) if kind else []:
            fig = measured_figure(m)
            if fig is not None:
                measured.append(fig)
    published = _published_figures(method)
    bench = _bench_figures(method)
    for figures in (measured, published, bench):
        best = _pick(figures, task)
        if best is not None:
            return ModelFreeEstimate(method, task, best.speedup, best.basis, best.source, measured + published + bench)
    if method == "ngram" and published:          # no row for this task: say so, show the mixed-task figure
        mixed = _pick(published, "general")
        if mixed is not None:
            return ModelFreeEstimate(method, task, mixed.speedup, mixed.basis,
                                     f"no {task} row; mixed-task figure: {mixed.source}", measured + published + bench)
    how = {"layer-skip": f"draftfinder measure {target_id or 'TARGET'} --draft layerskip:N --task {task}",
           "ngram": f"draftfinder measure {target_id or 'TARGET'} --draft ngram --task {task}"}.get(method)
    reason = ("no published figure recorded in data/published.json"
              + (f" and no saved measurement of this target; measure it: {how}" if how else
                 "; SuffixDecoding (Oliaro et al. 2024, arXiv:2411.04975) reports its gains on agentic workloads — "
                 "try it on your own traffic with vLLM's \"method\": \"suffix\""))
    return ModelFreeEstimate(method, task, None, "none", reason, measured + published + bench)
