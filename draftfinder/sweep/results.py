"""The sweep results file: draftbench's JSON (top-level metadata + ``results`` list) with more per cell.

Written atomically (temp file + rename) after every cell, so a killed sweep leaves the last complete state;
read back to resume (cells already done are skipped) and to rebuild charts (``--chart-only``).

A cell (one dict of ``results``; draftbench's fields first)::

    target, draft (label or null for the baseline), mean_tps, median_tps, mean_ttft, mean_total_time,
    acceptance_rate                      # draftbench's fields, same meaning (acceptance = accepted / drafted)
    k, draft_type, draft_spec            # K of this cell (null: baseline / server-decided), model|ngram|layerskip
    status                               # ok | failed | flagged (ran, but the backend did not really draft)
    error, flag                          # why failed / flagged (one line)
    speedup                              # mean_tps ÷ the same target's baseline mean_tps (measured)
    tokens_per_step                      # (accepted + steps) / steps where known
    acceptance_definition                # what acceptance_rate is for this backend
    prediction                           # {speedup, alpha, k, c, provenance, method} from the estimator / a saved measure
    runs                                 # one dict per request: run, prompt_id, tokens, tps, ttft_s, total_s, drafted, accepted,
                                         # token_ids (greedy outputs are compared id by id), …
    outputs_match_baseline               # share of runs whose greedy output equals the baseline's
    divergence                           # where it first differs and why (sweep/divergence.py)
    concurrency                          # only when settings.concurrency has levels > 1: one dict per level N (n,
                                         # aggregate_tokens_per_s, median_tpot_ms, mean_ttft_s, speedup at the same N,
                                         # outputs_match_baseline / _single_stream, requests_detail, …): sweep/concurrency.py
    command, started, finished, duration_s

Provenance: every cell figure is *measured* (on this machine, by this backend); ``prediction`` says its own.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from draftfinder.errors import UsageError
from draftfinder.writer import write_json

FORMAT = "draftfinder-sweep/1"
DONE = ("ok", "failed", "flagged")


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat()


def cell_key(target: str, draft: Optional[str], k: Optional[int]) -> Tuple[str, str, str]:
    return (target, draft or "", "" if k is None else str(k))



def output_digest(ids: Optional[List[int]]) -> Optional[str]:
    """The ``output_sha1`` of a request: sha1 of its generated token ids joined by commas, 16 hex digits; None
    when the backend returned no ids. One definition for cells and concurrency levels, which compare them."""
    if ids is None:
        return None
    return hashlib.sha1(",".join(map(str, ids)).encode()).hexdigest()[:16]

@dataclass
class SweepResults:
    """The whole results file in memory; :meth:`save` writes it atomically."""

    path: Path
    meta: Dict[str, Any] = field(default_factory=dict)
    cells: List[Dict[str, Any]] = field(default_factory=list)

    # --- reading ---------------------------------------------------------------------------------------
    @classmethod
    def load(cls, path: Any) -> "SweepResults":
        p = Path(path).expanduser()
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UsageError(f"results file {p} does not exist",
                             hint="run the sweep first, or pass the --results path it wrote") from None
        except (OSError, ValueError) as exc:
            raise UsageError(f"results file {p} is not valid JSON ({str(exc).splitlines()[0][:100]})",
                             hint="pass a results file written by draftfinder sweep or draftbench") from None
        if not isinstance(data, dict) or not isinstance(data.get("results"), list):
            raise UsageError(f"results file {p} has no 'results' list",
                             hint="pass a results file written by draftfinder sweep or draftbench")
        cells = [c for c in data.pop("results") if isinstance(c, dict) and "target" in c]
        for c in cells:                     # draftbench files: every listed cell ran
            c.setdefault("status", "ok")
            c.setdefault("k", None)
        return cls(path=p, meta=data, cells=cells)

    def find(self, target: str, draft: Optional[str], k: Optional[int]) -> Optional[Dict[str, Any]]:
        key = cell_key(target, draft, k)
        for c in self.cells:
            if cell_key(c["target"], c.get("draft"), c.get("k")) == key:
                return c
        return None

    def baseline(self, target: str) -> Optional[Dict[str, Any]]:
        c = self.find(target, None, None)
        return c if c and c.get("status") == "ok" else None

    # --- writing ---------------------------------------------------------------------------------------
    def put(self, cell: Dict[str, Any]) -> None:
        """Add or replace the cell with the same (target, draft, k)."""
        key = cell_key(cell["target"], cell.get("draft"), cell.get("k"))
        for i, c in enumerate(self.cells):
            if cell_key(c["target"], c.get("draft"), c.get("k")) == key:
                self.cells[i] = cell
                return
        self.cells.append(cell)

    def to_dict(self) -> Dict[str, Any]:
        return {**self.meta, "format": FORMAT, "updated": now(), "results": self.cells}

    def save(self) -> Path:
        return write_json(self.path, self.to_dict(), flag="--results", create_parents=True)


# ---------------------------------------------------------------------------------------------------
# aggregation of one cell's requests
# ---------------------------------------------------------------------------------------------------

def _mean(xs: List[float]) -> Optional[float]:
    xs = [x for x in xs if x is not None]
    return statistics.fmean(xs) if xs else None


def _median(xs: List[float]) -> Optional[float]:
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def summarize_runs(runs: List[Dict[str, Any]]) -> Dict[str, Any]:
    """draftbench's per-cell figures from the requests of a cell (means over requests, as draftbench)."""
    drafted = [r.get("drafted") for r in runs]
    accepted = [r.get("accepted") for r in runs]
    have_counts = runs and all(d is not None and a is not None for d, a in zip(drafted, accepted))
    total_drafted = sum(drafted) if have_counts else None
    total_accepted = sum(accepted) if have_counts else None
    steps = [r.get("steps") for r in runs]
    tokens_per_step = None
    if runs and all(s for s in steps):
        tokens_per_step = sum(r["tokens"] for r in runs) / sum(steps)
    return {
        "mean_tps": _mean([r.get("tps") for r in runs]),
        "median_tps": _median([r.get("tps") for r in runs]),
        "mean_ttft": _mean([r.get("ttft_s") for r in runs]),
        "mean_total_time": _mean([r.get("total_s") for r in runs]),
        "acceptance_rate": (total_accepted / total_drafted) if total_drafted else None,
        "drafted": total_drafted,
        "accepted": total_accepted,
        "tokens": sum(r.get("tokens") or 0 for r in runs),
        "tokens_per_step": tokens_per_step,
        "requests": len(runs),
    }
