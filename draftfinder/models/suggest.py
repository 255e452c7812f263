""""Did you mean …?" for a model name that resolves to nothing (``Qwen/Qwen2.5-7B-Instrcut``).

The names offered are the ones this install can resolve without the Hub: the built-in catalog's ids and
aliases, the zoo (``zoo:NAME``), the models found under ``--models-dir``, and the family's known-good drafts
(``models/family.KNOWN_DRAFTS``). Matching is case-insensitive and uses :class:`difflib.SequenceMatcher`'s
ratio (2·matches / total length, Ratcliff–Obershelp) on the whole id and on the part after the owner, so a
missing or misspelled owner (``Qwen2.5-7B-Instruct``, ``qwen/…``) still finds ``Qwen/Qwen2.5-7B-Instruct``.
A name counts as close at ratio ≥ ``CUTOFF``; at most ``MAX_SUGGESTIONS`` are offered, closest first (ties:
alphabetical), further ones only within ``MARGIN`` of the best, so the answer is deterministic and short.
Only names that resolve right now are offered: the known-good drafts (Hub ids) only while the Hub is usable.
"""

from __future__ import annotations

import difflib
from typing import Iterable, List, Tuple

CUTOFF = 0.85           # one transposition or two edits in a 24-character id scores ≈ 0.92–0.96
MAX_SUGGESTIONS = 3
MARGIN = 0.03           # further names only when about as close as the best one


def _short(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def _score(query: str, name: str) -> float:
    """The best of the whole-id and the name-part ratios (both lower case)."""
    q, n = query.lower(), name.lower()
    whole = difflib.SequenceMatcher(None, q, n).ratio()
    part = difflib.SequenceMatcher(None, _short(q), _short(n)).ratio() if "/" in n else 0.0
    # an exact name part under another (or no) owner is as good as a near-identical id
    return max(whole, part - (0.0 if part == 1.0 else 0.02))


def close_names(query: str, names: Iterable[str], *, cutoff: float = CUTOFF,
                limit: int = MAX_SUGGESTIONS) -> List[str]:
    """The names in ``names`` closest to ``query`` (see module docstring); never ``query`` itself."""
    q = query.strip()
    if not q:
        return []
    scored: List[Tuple[float, str]] = []
    seen = set()
    for name in names:
        key = name.lower()
        if key in seen or key == q.lower():
            continue
        seen.add(key)
        quick = difflib.SequenceMatcher(None, _short(q.lower()), _short(key))
        if quick.real_quick_ratio() < cutoff - 0.1 and difflib.SequenceMatcher(None, q.lower(), key).quick_ratio() < cutoff:
            continue
        score = _score(q, name)
        if score >= cutoff:
            scored.append((score, name))
    scored.sort(key=lambda sn: (-sn[0], sn[1].lower()))
    best = scored[0][0] if scored else 0.0
    return [name for score, name in scored[:limit] if score >= best - MARGIN]


def known_names(resolver) -> List[str]:
    """Every name ``resolver`` can resolve: catalog ids and aliases, zoo names, local models, and (Hub usable)
    the known-good drafts of every family."""
    from draftfinder.models.family import KNOWN_DRAFTS

    names: List[str] = []
    try:
        catalog = resolver.catalog
        for model_id, entry in catalog.data.get("models", {}).items():
            names.append(model_id)
            names.extend(entry.get("aliases") or [])
    except Exception:        # an unreadable catalog must not turn a "not found" into another error
        pass
    try:
        names.extend(f"zoo:{name}" for name in resolver.zoo.entries)
    except Exception:
        pass
    for record in resolver.local_records():
        names.append(record.model_id)
    if resolver.hub_usable:                  # Hub ids: offered only when they can be fetched
        for drafts in KNOWN_DRAFTS.values():
            names.extend(drafts)
    return names


def suggestion_hint(suggestions: List[str]) -> str:
    """``did you mean Qwen/Qwen2.5-7B-Instruct?`` (others listed after it)."""
    first, rest = suggestions[0], suggestions[1:]
    return f"did you mean {first}?" + (f" (also close: {', '.join(rest)})" if rest else "")
