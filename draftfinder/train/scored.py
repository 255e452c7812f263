"""Batches of the teacher data already scored, kept while scoring so that a stopped run resumes there.

Teacher-forced scoring is the other slow part of building the data: zoo:gemma3-270m's 175k tokens take ≈ 17 minutes
on one quiet core of this CPU (its 262k-row head), over two hours under load, and a larger target on a GPU scores
millions of tokens. Each scoring batch's results — per sequence the top-k ids, their probabilities and the chosen
layers' outputs — are written to ``DIR.work/scored/<key>.pt`` as soon as the batch is done (atomic, through
``writer.write_torch``); a rerun after Ctrl-C, a crash or a kill loads those and scores only the rest. The folder
is removed once ``teacher.pt`` holds the whole data (``cli/train_cmd.py``).

A batch's key hashes its sequences' token ids together with ``k`` and the hidden layers, so a file is only ever
reused for the very sequences, top-k and layers it was computed for (``output.check_resume`` already refuses other
data settings; this makes a stale file harmless as well).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, List, Optional, Sequence, Tuple

FORMAT_VERSION = 1


def batch_key(sequences: Sequence[Sequence[int]], k: int, hidden_layers: Tuple[int, ...]) -> str:
    """sha256 over the batch's sequences (in order), ``k`` and the hidden layers; 24 hex digits."""
    h = hashlib.sha256(f"v{FORMAT_VERSION}|k={k}|layers={','.join(map(str, hidden_layers))}".encode())
    for seq in sequences:
        h.update(b"|" + ",".join(str(int(t)) for t in seq).encode())
    return h.hexdigest()[:24]


class ScoredBatches:
    """The scored batches of :mod:`this module <draftfinder.train.scored>`; ``folder`` None keeps nothing (library
    calls without a work folder). ``get``/``put`` take a batch's sequences and return/store, per sequence,
    ``(topk_ids, topk_probs, hidden or None)``."""

    def __init__(self, folder: Optional[Path], k: int, hidden_layers: Tuple[int, ...]):
        self.folder, self.k, self.hidden_layers = folder, k, tuple(hidden_layers)
        self.reused_tokens = 0                # positions loaded instead of scored (the report's scoring rate)

    def _path(self, sequences: Sequence[Sequence[int]]) -> Optional[Path]:
        if self.folder is None:
            return None
        return self.folder / f"{batch_key(sequences, self.k, self.hidden_layers)}.pt"

    def get(self, sequences: Sequence[Sequence[int]]) -> Optional[List[Tuple[Any, Any, Any]]]:
        """The batch's results, or None when it was not scored (or its file is unreadable: scored again)."""
        path = self._path(sequences)
        if path is None or not path.is_file():
            return None
        import torch

        try:
            rows = torch.load(path, map_location="cpu", weights_only=True)
        except Exception:                    # torch raises many types for a truncated or foreign file
            return None
        if not isinstance(rows, list) or len(rows) != len(sequences) or any(
                r[0].shape[0] != len(s) for r, s in zip(rows, sequences)):
            return None
        self.reused_tokens += sum(len(s) for s in sequences)
        return [(r[0], r[1], r[2] if self.hidden_layers else None) for r in rows]

    def put(self, sequences: Sequence[Sequence[int]], rows: List[Tuple[Any, Any, Any]]) -> None:
        path = self._path(sequences)
        if path is None:
            return
        from draftfinder.writer import write_torch

        path.parent.mkdir(parents=True, exist_ok=True)
        write_torch(path, [list(r) for r in rows])

