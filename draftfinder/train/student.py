"""The Student protocol: what the training loop knows of a draft being trained, and the registry of methods.

The loop (``loop.py``) knows students only through :class:`Student` (STYLE habit 5: one protocol, a
registry; the built-in methods use the same hook as any later one)::

    make_student(method, target, layers=, draft_vocab=, seed=, data=)  → a Student
    student.loss(data, batch, loss_kind)       → scalar tensor (batch: sequence indices of ``data``)
    student.evaluate(data, indices, k_max)     → EvalResult (held-out greedy acceptance, per position)
    student.state_dict() / load_state_dict()   → checkpoints (trainable state only)
    student.save_pretrained(folder)            → the final artefact into an empty temporary folder
    student.cost_hint()                        → layers, hidden, head vocabulary: for the report

Methods register with :func:`register_student` from their own module; :func:`make_student` imports the
module of a known method on first use (``independent`` → ``train/independent.py``, ``eagle3`` →
``train/eagle3.py``), so registering is the module's own business.

Acceptance is measured teacher-forced on the held-out prompts' greedy continuations, under greedy decoding:
at position i, a_i = [draft argmax = target argmax] (the draft's acceptance probability at i under greedy
verification; Leviathan et al. 2023 Def. 3.1 with one-hot p and q). α = mean of a_i. Per draft position j of
a window (chain acceptance, "given all earlier drafts accepted", as ``engine.base.SpecStats.position_acceptance``
counts it)::

    per_position[j] = #{i : a_i = … = a_{i+j−1} = 1} / #{i : a_i = … = a_{i+j−2} = 1},   j = 1 … k_max

over every window start i whose position i+j−1 is evaluated (a window starts at every position, not only
where a real run would start one; under greedy decoding every context a run sees is a prefix of the greedy
continuation, so each term is what a run at that window would get — see ``measure/__init__.py`` point 3).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Protocol, Sequence

from draftfinder.errors import UsageError

METHOD_MODULES = {"independent": "draftfinder.train.independent", "eagle3": "draftfinder.train.eagle3"}


@dataclass
class EvalResult:
    acceptance: float              # held-out greedy acceptance α: mean over positions of P(draft argmax == target argmax)
    per_position: List[float]      # acceptance at draft position 1..k_max given all earlier drafts accepted (chain)
    tokens: int                    # positions evaluated

    def to_dict(self) -> Dict[str, Any]:
        return {"acceptance": self.acceptance, "per_position": list(self.per_position), "tokens": self.tokens}


class Student(Protocol):
    method: str                                   # "independent" | "eagle3"

    def parameters(self) -> Iterable[Any]: ...   # the trainable torch.nn.Parameter s

    def loss(self, data: Any, batch: List[int], loss_kind: str) -> Any: ...     # scalar; batch = sequence indices

    def evaluate(self, data: Any, indices: List[int], k_max: int) -> EvalResult: ...

    def state_dict(self) -> dict: ...

    def load_state_dict(self, sd: dict) -> None: ...

    def save_pretrained(self, folder: Path) -> None: ...     # the final artefact into an (empty, temporary) folder

    def cost_hint(self) -> Dict[str, Any]: ...               # layers, hidden, head vocab: for the report


Factory = Callable[..., Student]       # (target, *, layers, draft_vocab, seed, data) -> Student
_REGISTRY: Dict[str, Factory] = {}


def register_student(method: str, factory: Factory) -> None:
    """Make ``method`` available to :func:`make_student` (called by the method's module on import)."""
    _REGISTRY[method] = factory


def methods() -> List[str]:
    """Every method name ``--method`` accepts."""
    return sorted(set(METHOD_MODULES) | set(_REGISTRY))


def make_student(method: str, target: Any, *, layers: Optional[int], draft_vocab: Optional[int], seed: int,
                 data: Any) -> Student:
    """A new student of ``method`` for ``target`` (an ``engine.loading.LoadedModel``), initialised with ``seed``
    (``data``: the teacher data, e.g. for a reduced vocabulary's token frequencies). Raises ``UsageError`` for an
    unknown method, or a method whose module is missing from this version."""
    if method not in _REGISTRY and method in METHOD_MODULES:
        try:
            importlib.import_module(METHOD_MODULES[method])
        except ModuleNotFoundError as err:
            if err.name != METHOD_MODULES[method]:
                raise
    if method not in _REGISTRY:
        known = ", ".join(m for m in methods() if m in _REGISTRY or _module_exists(m))
        raise UsageError(f"training method '{method}' is not available in this version", hint=f"use one of: {known}")
    return _REGISTRY[method](target, layers=layers, draft_vocab=draft_vocab, seed=seed, data=data)


def _module_exists(method: str) -> bool:
    import importlib.util

    name = METHOD_MODULES.get(method)
    return name is not None and importlib.util.find_spec(name) is not None


# ---------------------------------------------------------------------------------------------------
# acceptance from match vectors (shared by every student's evaluate)
# ---------------------------------------------------------------------------------------------------

def leading_ones(matches: Sequence[bool], cap: int) -> List[int]:
    """For each i, the number of consecutive 1s starting at i (at most ``cap``)."""
    out = [0] * len(matches)
    run = 0
    for i in range(len(matches) - 1, -1, -1):
        run = run + 1 if matches[i] else 0
        out[i] = min(run, cap)
    return out


def chain_acceptance(match_vectors: Sequence[Sequence[bool]], k_max: int) -> List[float]:
    """per_position[j−1] for j = 1 … k_max (formula in the module docstring), pooled over sequences; a position
    no window reached is 0.0."""
    reached = [0] * k_max
    accepted = [0] * k_max
    for a in match_vectors:
        n = len(a)
        run = leading_ones(a, k_max)
        for i in range(n):
            for j in range(1, k_max + 1):
                if i + j - 1 >= n or run[i] < j - 1:
                    break
                reached[j - 1] += 1
                if run[i] >= j:
                    accepted[j - 1] += 1
    return [acc / r if r else 0.0 for acc, r in zip(accepted, reached)]


def eval_from_matches(match_vectors: Sequence[Sequence[bool]], k_max: int) -> EvalResult:
    """:class:`EvalResult` from per-sequence match vectors a (draft argmax == target argmax at each evaluated
    position, in order)."""
    tokens = sum(len(a) for a in match_vectors)
    hits = sum(int(bool(x)) for a in match_vectors for x in a)
    return EvalResult(acceptance=hits / tokens if tokens else 0.0,
                      per_position=chain_acceptance(match_vectors, k_max), tokens=tokens)


def target_argmax(data: Any, index: int) -> Any:
    """The target's argmax at every position of sequence ``index`` (its top-1 id), int64 [len]."""
    return data.topk_ids[index][:, 0].long()
