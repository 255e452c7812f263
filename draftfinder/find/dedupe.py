"""One row per model: where each find candidate was found, and the names that are one model (dedupe).

A model can be proposed under several names — its folder under ``--models-dir``, its Hub id from the catalog,
the known-good list, a Hub search. The finder evaluates each set of files once (:class:`SameFiles` marks a
name that resolved to files already evaluated) and lists every place it was found in the row's ``sources``
(``{"source", "name", "found_by", "used"}``, ``used`` = these files were evaluated). :func:`merge_same_models`
also joins a name-only candidate (catalog, Hub, HF cache) to a local one whose folder or file carries that
name and whose sizes are the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, Dict, List, Optional

from draftfinder.find.results import DraftModelCandidate
from draftfinder.models.sources.base import CandidateRef, ModelRecord


@dataclass
class SameFiles:
    """A candidate name that resolved to files already evaluated under another name."""

    identity: str


def add_sources(sources: List[Dict[str, Any]], ref: CandidateRef, record: Optional[ModelRecord],
                 resolver: Any) -> None:
    """Add where ``ref`` was found to ``sources`` (once per source and name). ``record``: the files that were
    evaluated (``"used": true``); the other entries say where else the same model is known."""
    def place(proposed_by: str) -> str:
        """The source that holds the model under ``ref.model_id`` (a "known-good" name is only a name)."""
        if proposed_by not in ("known",):
            return proposed_by
        for name, src in (("catalog", resolver.catalog), ("hf-cache", resolver.hf_cache)):
            try:
                if src.has(ref.model_id):
                    return name
            except Exception:                      # an unreadable cache or catalog: say nothing about it
                continue
        return "hub"

    entries = [{"source": record.source if record is not None else place(ref.source), "name": ref.model_id,
                "found_by": ref.reason, "used": record is not None}]
    entries += [{"source": place(alt["source"]), "name": ref.model_id, "found_by": alt["reason"], "used": False}
                for alt in ref.also_found]
    for entry in entries:
        if not any(e["source"] == entry["source"] and e["name"] == entry["name"] for e in sources):
            sources.append(entry)


def merge_same_models(candidates: List[DraftModelCandidate]) -> None:
    """One row per model: a candidate known by name (catalog, Hub, HF cache) whose name matches a local folder or
    .gguf file under --models-dir and whose sizes are the same (parameters, layers, hidden size, vocabulary) is
    that local model; its sources join the local row (whose files were evaluated) and its own row goes."""
    local = [c for c in candidates if c.model_info.source in ("local", "gguf")]

    def local_names(c: DraftModelCandidate) -> set:
        path = PurePath(c.model_info.path or c.model_id)
        return {path.name.lower(), path.stem.lower(), path.name.replace("__", "/").lower()}

    def sizes(c: DraftModelCandidate) -> tuple:
        i = c.model_info
        return (i.num_parameters, i.num_layers, i.hidden_size, i.vocab_size)

    for cand in [c for c in candidates if c not in local]:
        name = cand.model_id.lower()
        for own in local:
            if (name in local_names(own) or name.split("/")[-1] in local_names(own)) and sizes(own) == sizes(cand):
                for src in cand.sources:
                    entry = dict(src, used=False)
                    if not any(e["source"] == entry["source"] and e["name"] == entry["name"] for e in own.sources):
                        own.sources.append(entry)
                candidates.remove(cand)
                break
