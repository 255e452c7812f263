"""The published draft heads (``data/heads.json``): EAGLE / EAGLE-3 / Medusa / MLP-speculator weights trained for
a specific target, each with the public table that lists it.

Schema of one entry (checked by :func:`load_heads`; a broken entry raises :class:`HeadsDataError`, and the tests
load the shipped file, so it fails in tests, never at a user's prompt):

=============  ===========================================================================================
``repo_id``    the head's Hub id
``target``     the Hub id of the model it was trained for (the verifier)
``method``     a registered method id (``methods/registry.py``): eagle | eagle3 | medusa | mlp-speculator
``official``   True when the method's authors list it as official, False when they list it as third-party,
               None when the source does not say
``params_b``   the head's parameters in billions when the source gives them, else None
``published``  speedups a source gives for this head: ``row_id`` of data/published.json, value, setup
``provenance`` ``repo``, ``path``, ``commit`` and ``where`` (which table) of the source that lists the head
``notes``      anything a user must know (format, known engine bugs)
=============  ===========================================================================================
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Dict, List, Optional

from draftfinder.errors import HeadsDataError, UnknownMethodError
from draftfinder.methods.registry import get_method

HEADS_FILE = "heads.json"
HEAD_METHODS = ("eagle", "eagle3", "medusa", "mlp-speculator")
REQUIRED = ("repo_id", "target", "method", "provenance")


@dataclass(frozen=True)
class Head:
    """One published head."""

    repo_id: str
    target: str
    method: str
    official: Optional[bool]
    params_b: Optional[float]
    published: List[Dict[str, Any]] = field(default_factory=list)
    provenance: Dict[str, Any] = field(default_factory=dict)
    notes: List[str] = field(default_factory=list)
    found_by: str = "catalog"            # catalog (data/heads.json) | hub (discovered: config names the target)

    def provenance_line(self) -> str:
        p = self.provenance
        if self.found_by == "hub":
            return p.get("where", "Hub")
        commit = f" @ {p['commit'][:12]}" if p.get("commit") else ""
        return f"{p.get('repo')} {p.get('path')}{commit} ({p.get('where')})"

    def to_dict(self) -> Dict[str, Any]:
        return {"repo_id": self.repo_id, "target": self.target, "method": self.method, "official": self.official,
                "params_b": self.params_b, "published": list(self.published), "provenance": dict(self.provenance),
                "notes": list(self.notes), "found_by": self.found_by}


def _check(entry: Any, i: int) -> Head:
    where = f"entry {i}"
    if not isinstance(entry, dict):
        raise HeadsDataError(where, f"expected an object, found {type(entry).__name__}")
    where = f"entry {i} ({entry.get('repo_id', '?')})"
    missing = [k for k in REQUIRED if not entry.get(k)]
    if missing:
        raise HeadsDataError(where, "missing " + ", ".join(missing))
    try:
        method = get_method(entry["method"]).id
    except UnknownMethodError as err:
        raise HeadsDataError(where, err.message) from err
    if method not in HEAD_METHODS:
        raise HeadsDataError(where, f"method '{method}' is not a head method ({', '.join(HEAD_METHODS)})")
    prov = entry["provenance"]
    if not isinstance(prov, dict) or not prov.get("repo") or not prov.get("path") or not prov.get("where"):
        raise HeadsDataError(where, "provenance needs repo, path and where")
    for pub in entry.get("published") or []:
        if not pub.get("source") or pub.get("speedup") is None or not pub.get("setup"):
            raise HeadsDataError(where, "each published figure needs speedup, setup and source")
    return Head(entry["repo_id"], entry["target"], method, entry.get("official"), entry.get("params_b"),
                list(entry.get("published") or []), dict(prov), list(entry.get("notes") or []))


@lru_cache(maxsize=4)
def load_heads(path: Optional[str] = None) -> tuple:
    """Every head of ``data/heads.json`` (or ``path``), validated; raises :class:`HeadsDataError`."""
    try:
        text = (Path(path).read_text(encoding="utf-8") if path else
                resources.files("draftfinder").joinpath("data", HEADS_FILE).read_text(encoding="utf-8"))
        data = json.loads(text)
    except (OSError, ValueError) as err:
        raise HeadsDataError(path or HEADS_FILE, f"cannot be read ({err})") from err
    entries = data.get("heads") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise HeadsDataError(path or HEADS_FILE, "no 'heads' list")
    heads = tuple(_check(e, i) for i, e in enumerate(entries))
    seen = set()
    for h in heads:
        if h.repo_id.lower() in seen:
            raise HeadsDataError(h.repo_id, "listed twice")
        seen.add(h.repo_id.lower())
    return heads


def _norm(model_id: str) -> str:
    """``meta-llama/Meta-Llama-3.1-8B-Instruct`` and ``meta-llama/Llama-3.1-8B-Instruct`` are one model (Meta
    renamed the repositories): compare ids without the author's ``Meta-`` prefix, case-insensitively."""
    name = (model_id or "").strip().lower()
    author, _, rest = name.rpartition("/")
    if rest.startswith("meta-llama-"):
        rest = rest[len("meta-"):]
    return f"{author}/{rest}" if author else rest


def heads_for(target_id: str, path: Optional[str] = None) -> List[Head]:
    """The published heads trained for ``target_id`` (official ones first, then EAGLE-3 before older methods)."""
    key = _norm(target_id)
    order = {"eagle3": 0, "eagle": 1, "mlp-speculator": 2, "medusa": 3}
    found = [h for h in load_heads(path) if _norm(h.target) == key]
    return sorted(found, key=lambda h: (order.get(h.method, 9), h.official is not True, h.repo_id.lower()))
