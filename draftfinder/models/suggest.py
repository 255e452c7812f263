""""Did you mean …?" for a model name that resolves to nothing (``Qwen/Qwen2.5-7B-Instrcut``).

The names offered are the ones this install can resolve without the Hub: the built-in catalog's ids and
aliases, the zoo (``zoo:NAME``), the models found under ``--models-dir``, and the family's known-good drafts
(``models/family.KNOWN_DRAFTS``). Only names that resolve right now are offered: the known-good drafts (Hub
ids) only while the Hub is usable.

A name is close when it is a *typo* of the query, not another model: compared case-insensitively, on the whole
id and on the part after the owner (so a missing or misspelled owner still finds ``Qwen/Qwen2.5-7B-Instruct``),

- the edit distance (optimal string alignment: insertions, deletions, substitutions and transpositions of
  adjacent characters each cost 1; ``Instrcut`` → ``Instruct`` is 1) is at most ``max(MIN_EDITS, len // 8)``
  of the query's name part — ``Qwen2.5-Coder-32B-Instruct`` is not a typo of ``Qwen2.5-3B-Instruct``;
- the numbers in the name are the same (sizes and versions are chosen, not mistyped: ``Llama-2-70b-chat-hf``
  is not offered ``Llama-2-7b-chat-hf``).

At most ``MAX_SUGGESTIONS`` are offered, closest first (ties: alphabetical), so the answer is deterministic.
"""

from __future__ import annotations

import re
from typing import Dict, Iterable, List, Mapping, Union

MIN_EDITS = 2
MAX_SUGGESTIONS = 3


def _short(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance of ``a`` and ``b``; any value above ``limit`` is returned as
    ``limit + 1`` (the rows are cut off early)."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: List[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return min(prev[-1], limit + 1)


def _numbers(name: str) -> List[str]:
    return re.findall(r"\d+", name)


def close_names(query: str, names: Union[Iterable[str], Mapping[str, str]], *,
                limit: int = MAX_SUGGESTIONS) -> List[str]:
    """The names that look like typos of ``query`` (see module docstring), closest first. ``names`` may map
    each name to the one to offer (an alias to its canonical id): each offered name appears once."""
    q = query.strip().lower()
    if not q:
        return []
    offer = names if isinstance(names, Mapping) else {n: n for n in names}
    q_short = _short(q)
    allowed = max(MIN_EDITS, len(q_short) // 8)
    best: Dict[str, int] = {}
    for name, offered in offer.items():
        key = name.lower()
        if key == q or _numbers(_short(key)) != _numbers(q_short):
            continue
        distance = min(edit_distance(q, key, allowed), edit_distance(q_short, _short(key), allowed))
        if distance <= allowed and distance < best.get(offered, allowed + 1):
            best[offered] = distance
    ranked = sorted(best.items(), key=lambda nd: (nd[1], nd[0].lower()))
    return [name for name, _ in ranked[:limit]]


def known_names(resolver) -> Dict[str, str]:
    """``{name: name to offer}`` for every name ``resolver`` can resolve: catalog ids and aliases (an alias
    offers its canonical id), zoo names, local models, and (Hub usable) the known-good drafts of every family."""
    from draftfinder.models.family import KNOWN_DRAFTS

    names: Dict[str, str] = {}
    try:
        for model_id, entry in resolver.catalog.data.get("models", {}).items():
            names[model_id] = model_id
            for alias in entry.get("aliases") or []:
                names.setdefault(alias, model_id)
    except Exception:        # an unreadable catalog must not turn a "not found" into another error
        pass
    try:
        for name in resolver.zoo.entries:
            names.setdefault(f"zoo:{name}", f"zoo:{name}")
    except Exception:
        pass
    for record in resolver.local_records():
        names.setdefault(record.model_id, record.model_id)
    if resolver.hub_usable:                  # Hub ids: offered only when they can be fetched
        for drafts in KNOWN_DRAFTS.values():
            for draft in drafts:
                names.setdefault(draft, draft)
    return names


def suggestion_hint(suggestions: List[str]) -> str:
    """``did you mean Qwen/Qwen2.5-7B-Instruct?`` (others listed after it)."""
    first, rest = suggestions[0], suggestions[1:]
    return f"did you mean {first}?" + (f" (also close: {', '.join(rest)})" if rest else "")
