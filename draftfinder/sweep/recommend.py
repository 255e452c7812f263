"""The "target speed → draft" table of draftbench's README, computed from the user's own sweep results.

draftbench's README (section "Choosing a Draft Model", ``../shared/seeds/002``) publishes one table measured on
an RTX 4090 with Qwen2.5 targets::

    | Target Speed | Recommended Draft | Expected Gain    |
    | < 8 tok/s    | 3B Q4_K_M         | +60-80%          |
    | 8-15 tok/s   | 1.5B-3B Q4_K_M    | +10-30%          |
    | > 15 tok/s   | 0.5B-1.5B Q4_K_M  | +5-15%           |
    | > 30 tok/s   | Not recommended   | Overhead > gains |

Here the same table is rebuilt from a results file (:mod:`.results`): per target the draft (and K) with the
highest measured throughput, and per speed band the draft that did best over the band's targets.

Rules:

- Only cells with ``status == "ok"`` count (failed and flagged cells are counted as skipped).
- A draft's best K is its cell with the highest ``mean_tps``; the target's best draft is the best of those.
- Speedup = draft ``mean_tps`` ÷ the same target's baseline ``mean_tps`` (draftbench's definition), computed
  from the baseline cell so that the row is self-consistent; a cell's stored ``speedup`` is used only when the
  baseline is missing. draftbench files have no ``speedup``/``status``/``k`` fields; they work the same.
- A draft is recommended only when its speedup exceeds :data:`MIN_SPEEDUP` (1.02): a gain of 2% or less is
  within the run-to-run spread of tok/s on one machine, and a draft costs memory, so "no gain" wins ties.
  (The margin is our choice, not a published figure.)

Every number here is *measured* (by the sweep, on the user's machine); the band advice quoted from draftbench
is *published*.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from draftfinder.errors import UsageError

MIN_SPEEDUP = 1.02
"""A draft must beat the baseline by more than this factor to be recommended (2%: run-to-run noise)."""

# (label, low tok/s inclusive, high tok/s exclusive, draftbench's published advice for that speed)
BANDS: Tuple[Tuple[str, float, float, str], ...] = (
    ("< 8 tok/s", 0.0, 8.0, "3B Q4_K_M, +60-80%"),
    ("8-15 tok/s", 8.0, 15.0, "1.5B-3B Q4_K_M, +10-30%"),
    ("15-30 tok/s", 15.0, 30.0, "0.5B-1.5B Q4_K_M, +5-15%"),
    ("> 30 tok/s", 30.0, math.inf, "not recommended (overhead > gains)"),
)
BANDS_SOURCE = "draftbench README, 'Choosing a Draft Model' (RTX 4090, Qwen2.5, llama.cpp)"


# ---------------------------------------------------------------------------------------------------
# reading a results file (SweepResults or its dict) the same way for both file formats
# ---------------------------------------------------------------------------------------------------

def normalize(results: Any) -> Tuple[Dict[str, Any], List[Dict[str, Any]]]:
    """``(meta, cells)`` from a :class:`~.results.SweepResults` or a results dict (draftfinder or draftbench).

    Cells are shallow copies with draftbench's missing fields filled as :meth:`SweepResults.load` fills them
    (``status="ok"``, ``k=None``) and labels made strings; the input is not modified.
    """
    if hasattr(results, "cells") and hasattr(results, "meta"):
        meta, raw = dict(results.meta), results.cells
    elif isinstance(results, dict):
        raw = results.get("results")
        if not isinstance(raw, list):
            raise UsageError("sweep results have no 'results' list",
                             hint="pass a results file written by draftfinder sweep or draftbench")
        meta = {k: v for k, v in results.items() if k != "results"}
    else:
        raise UsageError(f"expected sweep results (SweepResults or dict), got {type(results).__name__}")
    cells = []
    for c in raw:
        if not isinstance(c, dict) or "target" not in c:
            continue
        c = dict(c, target=str(c["target"]))
        if c.get("draft") not in (None, ""):
            c["draft"] = str(c["draft"])
        c.setdefault("status", "ok")
        c.setdefault("k", None)
        cells.append(c)
    return meta, cells


def number(x: Any) -> Optional[float]:
    """A finite float, or None (null, NaN, inf, strings and bools are not figures)."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    return float(x) if math.isfinite(x) else None


def is_ok(cell: Dict[str, Any]) -> bool:
    return cell.get("status", "ok") == "ok" and number(cell.get("mean_tps")) is not None


def baselines(cells: Sequence[Dict[str, Any]]) -> Dict[str, Dict[str, Any]]:
    """target label → its ok baseline cell (draft null); the one with ``k`` null first, as SweepResults."""
    out: Dict[str, Dict[str, Any]] = {}
    for c in cells:
        if not c.get("draft") and is_ok(c):
            if c["target"] not in out or (c.get("k") is None and out[c["target"]].get("k") is not None):
                out[c["target"]] = c
    return out


def cell_speedup(cell: Dict[str, Any], baseline: Optional[Dict[str, Any]]) -> Optional[float]:
    """Measured speedup of a draft cell: ``mean_tps / baseline mean_tps``; the stored ``speedup`` without one."""
    tps = number(cell.get("mean_tps"))
    base = number(baseline.get("mean_tps")) if baseline else None
    if tps is not None and base:
        return tps / base
    return number(cell.get("speedup"))


# ---------------------------------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------------------------------

@dataclass
class DraftBest:
    """One draft on one target, at its best K (the K with the highest measured tok/s)."""

    draft: str
    draft_type: Optional[str]
    k: Optional[int]                       # None: the backend chose K (draftbench / llama-server default)
    tokens_per_s: float                    # measured mean over requests
    speedup: Optional[float]               # measured, vs the target's baseline
    acceptance_rate: Optional[float]       # measured (accepted / drafted); None when the backend does not say
    ks_tried: int                          # ok cells of this draft on this target
    prediction: Optional[Dict[str, Any]] = None   # the best-K cell's prediction (its own provenance)


@dataclass
class Recommendation:
    """The verdict for one target: its best draft and K, or why none is recommended."""

    target: str
    baseline_tokens_per_s: Optional[float]
    best_draft: Optional[str]
    best_k: Optional[int]
    best_tokens_per_s: Optional[float]
    speedup: Optional[float]
    acceptance_rate: Optional[float]
    verdict: str
    cells_considered: int                  # ok draft cells of this target
    cells_skipped: int = 0                 # failed / flagged cells of this target (baseline included)
    drafts: List[DraftBest] = field(default_factory=list)   # every draft at its best K, best first

    @property
    def recommended(self) -> bool:
        return self.verdict.startswith("use ")

    @property
    def speedup_pct(self) -> Optional[float]:
        return None if self.speedup is None else (self.speedup - 1.0) * 100.0

    def to_dict(self) -> Dict[str, Any]:
        d = asdict(self)
        d.update(recommended=self.recommended, speedup_pct=self.speedup_pct, provenance="measured")
        return d


@dataclass
class SpeedBand:
    """Targets grouped by baseline speed (draftbench's bands) and the draft that did best over them."""

    label: str
    low_tokens_per_s: float
    high_tokens_per_s: float               # exclusive; inf for the last band
    targets: List[str]
    best_draft: Optional[str]
    mean_speedup: Optional[float]          # of best_draft (best K per target) over the targets it ran on
    targets_with_draft: int                # how many of the band's targets best_draft was measured on
    verdict: str
    published: str                         # draftbench's advice for this band (published, other hardware)

    def to_dict(self) -> Dict[str, Any]:
        d = asdict(self)
        if math.isinf(self.high_tokens_per_s):
            d["high_tokens_per_s"] = None
        d["published_source"] = BANDS_SOURCE
        return d


# ---------------------------------------------------------------------------------------------------
# computing
# ---------------------------------------------------------------------------------------------------

def best_per_draft(cells: Sequence[Dict[str, Any]], target: str,
                   baseline: Optional[Dict[str, Any]]) -> List[DraftBest]:
    """Each draft of ``target`` at its best K (highest ``mean_tps``; the first seen wins ties), best first."""
    best: Dict[str, Dict[str, Any]] = {}
    tried: Dict[str, int] = {}
    for c in cells:
        if c["target"] != target or not c.get("draft") or not is_ok(c):
            continue
        label = str(c["draft"])
        tried[label] = tried.get(label, 0) + 1
        if label not in best or number(c["mean_tps"]) > number(best[label]["mean_tps"]):
            best[label] = c
    out = [
        DraftBest(draft=label, draft_type=c.get("draft_type"), k=c.get("k"),
                  tokens_per_s=number(c["mean_tps"]), speedup=cell_speedup(c, baseline),
                  acceptance_rate=number(c.get("acceptance_rate")), ks_tried=tried[label],
                  prediction=c.get("prediction") if isinstance(c.get("prediction"), dict) else None)
        for label, c in best.items()
    ]
    out.sort(key=lambda d: -d.tokens_per_s)          # stable: first seen wins ties
    return out


def _verdict(best: Optional[DraftBest]) -> str:
    if best is None:
        return "no verdict: no draft cell succeeded"
    if best.speedup is None:
        return "no verdict: no baseline to compare with"
    if best.speedup <= MIN_SPEEDUP:
        return "not recommended: no draft beat the baseline"
    return f"use {best.draft}" + ("" if best.k is None else f" K={best.k}")


def recommend(results: Any) -> List[Recommendation]:
    """One :class:`Recommendation` per target, in the order targets first appear in the results."""
    _, cells = normalize(results)
    bases = baselines(cells)
    targets: List[str] = []
    for c in cells:
        if c["target"] not in targets:
            targets.append(c["target"])
    recs = []
    for target in targets:
        base = bases.get(target)
        drafts = best_per_draft(cells, target, base)
        top = drafts[0] if drafts else None
        mine = [c for c in cells if c["target"] == target]
        recs.append(Recommendation(
            target=str(target),
            baseline_tokens_per_s=number(base["mean_tps"]) if base else None,
            best_draft=top.draft if top else None,
            best_k=top.k if top else None,
            best_tokens_per_s=top.tokens_per_s if top else None,
            speedup=top.speedup if top else None,
            acceptance_rate=top.acceptance_rate if top else None,
            verdict=_verdict(top),
            cells_considered=sum(d.ks_tried for d in drafts),
            cells_skipped=sum(1 for c in mine if c.get("status") in ("failed", "flagged")),
            drafts=drafts,
        ))
    return recs


def band_of(tokens_per_s: float) -> str:
    """draftbench's speed band label for a baseline speed (low bound inclusive)."""
    for label, low, high, _ in BANDS:
        if low <= tokens_per_s < high:
            return label
    return BANDS[0][0]                       # negative speeds: not real, keep them visible in the slowest band


def speed_bands(recs: Sequence[Recommendation]) -> List[SpeedBand]:
    """All four bands; targets without a baseline are left out (their speed is unknown).

    A band's best draft has the highest mean speedup (each target at that draft's best K) over the band's
    targets; ties go to the draft measured on more targets.
    """
    out = []
    for label, low, high, published in BANDS:
        members = [r for r in recs if r.baseline_tokens_per_s is not None and band_of(r.baseline_tokens_per_s) == label]
        per_draft: Dict[str, List[float]] = {}
        for r in members:
            for d in r.drafts:
                if d.speedup is not None:
                    per_draft.setdefault(d.draft, []).append(d.speedup)
        best, mean = None, None
        for draft, xs in per_draft.items():
            m = sum(xs) / len(xs)
            if mean is None or (m, len(xs)) > (mean, len(per_draft[best])):
                best, mean = draft, m
        if not members:
            verdict = "no target in this band"
        elif best is None:
            verdict = "no verdict: no draft measured"
        elif mean <= MIN_SPEEDUP:
            verdict = "not recommended: no draft beat the baseline"
        else:
            verdict = f"use {best}"
        out.append(SpeedBand(label=label, low_tokens_per_s=low, high_tokens_per_s=high,
                             targets=[r.target for r in members], best_draft=best, mean_speedup=mean,
                             targets_with_draft=len(per_draft[best]) if best else 0,
                             verdict=verdict, published=published))
    return out


# ---------------------------------------------------------------------------------------------------
# terminal rendering
# ---------------------------------------------------------------------------------------------------

def clean(text: Any) -> str:
    """A label safe to print: control characters (terminal escapes, newlines) become ``?``."""
    return "".join("?" if unicodedata.category(ch)[0] == "C" else ch for ch in str(text))


def fmt_tps(x: Optional[float]) -> str:
    return "-" if x is None else f"{x:.2f}"


def fmt_speedup(x: Optional[float]) -> str:
    return "-" if x is None else f"{x:.2f}x ({(x - 1) * 100:+.1f}%)"


def fmt_pct(x: Optional[float]) -> str:
    return "-" if x is None else f"{x * 100:.0f}%"


def fmt_k(k: Any) -> str:
    return "-" if k is None else str(k)


def _grid(header: List[str], rows: List[List[str]], right: Sequence[int]) -> List[str]:
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]

    def line(cells: List[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return [line(header), line(["-" * w for w in widths])] + [line(r) for r in rows]


RECOMMEND_HEADER = ["target", "baseline tok/s", "best draft", "K", "draft tok/s", "speedup", "acceptance",
                    "cells", "verdict"]


def rec_row(r: Recommendation) -> List[str]:
    """One row of the recommendation table (also used by the HTML page)."""
    return [clean(r.target), fmt_tps(r.baseline_tokens_per_s), clean(r.best_draft or "-"), fmt_k(r.best_k),
            fmt_tps(r.best_tokens_per_s), fmt_speedup(r.speedup), fmt_pct(r.acceptance_rate),
            f"{r.cells_considered}" + (f" (+{r.cells_skipped} skipped)" if r.cells_skipped else ""),
            clean(r.verdict)]


BAND_HEADER = ["baseline speed", "targets", "best draft", "mean speedup", "verdict", "draftbench (published)"]


def band_row(b: SpeedBand) -> List[str]:
    return [b.label, clean(", ".join(b.targets) or "-"), clean(b.best_draft or "-"),
            fmt_speedup(b.mean_speedup) + (f" over {b.targets_with_draft}" if b.best_draft else ""),
            clean(b.verdict), b.published]


def format_table(recs: Sequence[Recommendation], *, bands: bool = True) -> str:
    """Plain aligned text: one row per target, then (``bands``) draftbench's speed bands."""
    lines = [
        "Recommended draft per target (all figures measured by this sweep: tok/s = mean over requests,",
        "speedup = draft tok/s / baseline tok/s, acceptance = accepted / drafted; best K = highest tok/s;",
        f"recommended only above {(MIN_SPEEDUP - 1) * 100:+.0f}%, i.e. {MIN_SPEEDUP:.2f}x)",
        "",
    ]
    lines += _grid(RECOMMEND_HEADER, [rec_row(r) for r in recs], right={1, 3, 4, 5, 6, 7})
    if bands:
        lines += ["", f"By target speed (measured here; last column published: {BANDS_SOURCE})", ""]
        lines += _grid(BAND_HEADER, [band_row(b) for b in speed_bands(recs)], right={3})
    return "\n".join(lines) + "\n"
