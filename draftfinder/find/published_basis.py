"""Published measurements of a find candidate: the rows shown beside it, and when one stands in for the estimate.

Rule (documented in find/ranking.py and the README): a candidate's speedup becomes the published one — basis
``published`` — only when

- the speedup computed from its inputs is ``estimated`` (a measured one, from a saved ``draftfinder measure``
  on this machine, is better founded and stays), and
- at least one published row is about the *same pair in the same setup*: same target and draft models, same
  weight formats, on the chosen ``--hardware`` preset (one device), with the chosen engine, for the chosen task
  (:func:`draftfinder.predict.published_match.match_pair`, ``same_setup``).

The speedup is then the median of those rows' speedups, labelled ``published`` with their citations; the
latency model's estimate is kept beside it (``model_speedup``) and K stays the model's recommendation (the
published figure was taken at the source's own draft settings, which the provenance names). Everything else
about the pair that was published (other hardware, engines, formats, tasks) is listed, never used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

from draftfinder.constants import ESTIMATED, PUBLISHED

SHORT_LINES = 3          # published lines per candidate in the table report (the JSON has every row)


@dataclass
class PublishedEvidence:
    """What the dataset says about one candidate pair."""

    matches: List[Any] = field(default_factory=list)       # PairMatch, closest setup first
    speedup: Optional[float] = None                        # the published speedup standing in, or None
    rows: List[Any] = field(default_factory=list)          # the same-setup rows behind ``speedup``
    engine: Optional[str] = None
    hardware: Optional[str] = None

    @property
    def promoted(self) -> bool:
        return self.speedup is not None

    def to_list(self) -> List[Dict[str, Any]]:
        return [m.to_dict() for m in self.matches]

    def provenance_method(self) -> str:
        from draftfinder.predict.published_match import setup_text

        head = f"{setup_text(self.rows[0])} — {self.rows[0].source_id}"
        if len(self.rows) > 1:
            head += f" (median of {len(self.rows)} rows)"
        return head

    def provenance_detail(self, model_speedup: float, k: int) -> str:
        settings = []
        for r in self.rows:
            raw = r.raw
            parts = [f"{n}={raw[n]}" for n in ("k", "draft_max", "draft_min", "draft_p_min") if raw.get(n) is not None]
            settings.append(f"{r.cite()}: {r.speedup:.4g}x, draft settings "
                            + (", ".join(parts) if parts else "not stated (the engine's defaults)"))
        return ("same pair, formats, hardware and engine; " + "; ".join(settings)
                + f". The latency model's estimate was {model_speedup:.2f}x at K={k} (estimated).")


def chosen_engine(cfg: Any, engine: Optional[str] = None) -> Optional[str]:
    """The engine the run is for: ``engine`` (the one find resolved: ``--engine`` or the device's default), else
    the config's ``engine``, else None (then no published speedup stands in: the engine a published figure was
    taken with matters as much as the pair)."""
    engine = engine or getattr(cfg, "engine", None)
    return str(engine).strip().lower() if engine else None


def evidence_for(target: Any, draft: Any, cfg: Any, *, basis: str, engine: Optional[str] = None) -> PublishedEvidence:
    """The published rows about ``target`` × ``draft`` (ModelInfo), and the standing-in speedup if the rule of
    the module docstring allows one."""
    from draftfinder.predict.published_match import exact_rows, match_pair, published_speedup

    engine = chosen_engine(cfg, engine)
    hardware = getattr(cfg, "hardware", None)
    matches = match_pair(target, draft, hardware=hardware, engine=engine, task=getattr(cfg, "task", None))
    ev = PublishedEvidence(matches=matches, engine=engine, hardware=hardware)
    if basis == ESTIMATED:
        rows = exact_rows(matches)
        if rows:
            ev.rows = rows
            ev.speedup = published_speedup(rows)
    return ev


def short_lines(published: Sequence[Dict[str, Any]], limit: int = SHORT_LINES) -> List[str]:
    """The table's lines for a candidate's ``published`` list (closest setup first), at most ``limit`` plus a
    count of the rest."""
    lines = []
    for d in published[:limit]:
        m = d.get("match") or {}
        tag = " [same setup]" if m.get("same_setup") else ""
        lines.append(d["short"] + tag)
    if len(published) > limit:
        rest = [d["speedup"] for d in published[limit:] if d.get("speedup") is not None]
        spread = f", {min(rest):.2f}x–{max(rest):.2f}x" if rest else ""
        lines.append(f"… and {len(published) - limit} more published rows for this pair{spread} "
                     f"(JSON: draft_models[].published)")
    return lines


def acceptance_views(alpha: float, k: int, source: str, method: str) -> Dict[str, Any]:
    """α, accepted ÷ drafted and acceptance length at the candidate's K, each labelled (acceptance_kinds)."""
    from draftfinder.predict.acceptance_kinds import views_at_k

    return views_at_k(min(max(alpha, 0.0), 1.0), k, source=source, method=method).to_dict()


__all__ = ["PublishedEvidence", "SHORT_LINES", "chosen_engine", "evidence_for", "short_lines", "acceptance_views",
           "PUBLISHED"]
