"""The prompts a draft is trained on, split into disjoint train and held-out sets (seeded).

The held-out prompts are never trained on: their greedy continuations by the target are the only data the
held-out acceptance is measured on (validation out of sample). The split is a seeded shuffle of the task's
prompts (``random.Random(seed).shuffle`` of their stored order), so the same ``--seed`` gives the same split
on every machine and every rerun:

==============  ===========  ==========  ===================================================================
prompt set      prompts      held out    why
==============  ===========  ==========  ===================================================================
code            164          30          HumanEval (Chen et al. 2021): 134 train / 30 held out, issue 12
other sets      n ≥ 5        max(1, n//5) one in five held out (general: 24 → 20 / 4)
==============  ===========  ==========  ===================================================================

``--held-out N`` overrides the count. Fewer than :data:`MIN_PROMPTS` prompts is refused (``PromptSetError``):
one held-out prompt is too few to tell a good draft from a bad one, and training needs prompts of its own.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

from draftfinder.errors import PromptSetError

MIN_PROMPTS = 5                  # at least 1 held out + 4 to train on
HUMAN_EVAL_HELD_OUT = 30         # 164 HumanEval problems → 134 train / 30 held out (issue 12)


@dataclass
class PromptSplit:
    """A seeded, disjoint split of one prompt set."""

    task: str                                  # code | chat | summarization | general | custom
    source: str                                # "task code" or the --prompts file
    seed: int
    train: List[Any] = field(default_factory=list)       # measure.prompts.Prompt
    held_out: List[Any] = field(default_factory=list)

    @property
    def train_ids(self) -> List[str]:
        return [p.id for p in self.train]

    @property
    def held_out_ids(self) -> List[str]:
        return [p.id for p in self.held_out]

    def to_dict(self) -> Dict[str, Any]:
        return {"task": self.task, "source": self.source, "seed": self.seed,
                "train_prompts": len(self.train), "held_out_prompts": len(self.held_out),
                "train_ids": self.train_ids, "held_out_ids": self.held_out_ids}


def default_held_out(n: int) -> int:
    """How many of ``n`` prompts are held out by default (table in the module docstring)."""
    return HUMAN_EVAL_HELD_OUT if n == 164 else max(1, n // 5)


def split_prompts(prompts: Sequence[Any], *, seed: int = 0, held_out: Optional[int] = None, task: str = "custom",
                  source: str = "") -> PromptSplit:
    """Shuffle ``prompts`` with ``random.Random(seed)`` and hold out the first ``held_out`` of the shuffled order
    (default :func:`default_held_out`); the rest, in the shuffled order, are the train prompts. Prompt ids must
    be unique (a duplicate would sit on both sides). Raises :class:`PromptSetError` for too few prompts."""
    items = list(prompts)
    where = source or f"task {task}"
    if len(items) < MIN_PROMPTS:
        raise PromptSetError(where, len(items), MIN_PROMPTS)
    ids = [p.id for p in items]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})[0]
        raise PromptSetError(where, len(items), MIN_PROMPTS, problem=f"prompt id '{dup}' appears more than once")
    n_out = default_held_out(len(items)) if held_out is None else int(held_out)
    if not 1 <= n_out <= len(items) - (MIN_PROMPTS - 1):
        raise PromptSetError(where, len(items), MIN_PROMPTS,
                             problem=f"--held-out {n_out} leaves too few prompts on one side "
                                     f"(1 to {len(items) - MIN_PROMPTS + 1} of {len(items)} can be held out)")
    order = list(range(len(items)))
    random.Random(seed).shuffle(order)
    held = sorted(order[:n_out])                       # stored order within each side: stable reports
    train = sorted(order[n_out:])
    return PromptSplit(task=task, source=where, seed=seed, train=[items[i] for i in train],
                       held_out=[items[i] for i in held])


def load_split(task: str = "code", *, prompts_path: Union[str, Path, None] = None, seed: int = 0,
               held_out: Optional[int] = None) -> PromptSplit:
    """The prompts of ``task`` (or of the ``--prompts`` file) split by :func:`split_prompts`."""
    from draftfinder.errors import UsageError
    from draftfinder.measure.prompts import load_prompts

    try:
        prompts = load_prompts(task, path=prompts_path)
    except UsageError as err:
        if prompts_path is not None and "holds no prompts" in err.message:
            raise PromptSetError(str(prompts_path), 0, MIN_PROMPTS) from err
        raise
    label = "custom" if prompts_path is not None else task
    return split_prompts(prompts, seed=seed, held_out=held_out, task=label,
                         source=str(prompts_path) if prompts_path is not None else f"task {task}")
