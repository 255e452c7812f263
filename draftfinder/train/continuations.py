"""Continuations already generated for the teacher data, kept while generating so that nothing is lost.

Generating the target's continuations is the slowest part of building the data (≈ 11 minutes for 164 HumanEval
prompts × 160 tokens with llama-server on this CPU, far more under load). A run stopped while generating — Ctrl-C,
a timed-out request, a killed process — keeps what it had: each continuation is recorded in
``DIR.work/continuations.json`` as soon as it is generated (rewritten atomically through ``writer.write_json``), and
the rerun (same settings: ``train/output.check_resume`` refuses others) generates only the rest.

Entries are keyed by the generation phase (``generate``, ``sample 1`` …, which fixes temperature and seed) and a
hash of the prompt's token ids, so a continuation is only ever reused for the very prompt it continues.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Dict, List, Optional, Sequence

FORMAT_VERSION = 1


def key(phase: str, prompt_ids: Sequence[int]) -> str:
    """``phase|sha256(ids)[:16]``: the cache key of one prompt's continuation in one phase."""
    digest = hashlib.sha256(",".join(str(int(t)) for t in prompt_ids).encode()).hexdigest()[:16]
    return f"{phase}|{digest}"


class ContinuationCache:
    """The continuations of :mod:`this module <draftfinder.train.continuations>`; ``path`` None keeps them in memory
    only (library calls without a work folder)."""

    def __init__(self, path: Optional[Path] = None):
        self.path = path
        self.entries: Dict[str, List[int]] = {}
        if path is not None and path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                data = {}                  # unreadable: generated again (the file is rewritten whole)
            if isinstance(data, dict) and data.get("format") == FORMAT_VERSION:
                self.entries = {str(k): [int(t) for t in v] for k, v in (data.get("entries") or {}).items()
                                if isinstance(v, list)}

    def get(self, phase: str, prompt_ids: Sequence[int]) -> Optional[List[int]]:
        return self.entries.get(key(phase, prompt_ids))

    def put(self, phase: str, prompt_ids: Sequence[int], tokens: Sequence[int]) -> None:
        """Record one continuation and, with a ``path``, rewrite the file (atomic: a crash keeps the last one)."""
        self.entries[key(phase, prompt_ids)] = [int(t) for t in tokens]
        if self.path is not None:
            from draftfinder.writer import write_json

            write_json(self.path, {"format": FORMAT_VERSION, "entries": self.entries})

    def missing(self, phase: str, prompts: Sequence[Sequence[int]]) -> List[int]:
        """Indexes of ``prompts`` without a continuation in ``phase``."""
        return [i for i, ids in enumerate(prompts) if key(phase, ids) not in self.entries]
