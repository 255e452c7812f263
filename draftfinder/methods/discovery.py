"""Hub discovery of draft heads whose own ``config.json`` names the target as the model they draft for.

A head's config says which model it was trained for, in one of the forms published heads use:

==========================================  ====================================================================
``speculators_config.verifier.name_or_path``  vLLM speculators format (RedHatAI/*-speculator.eagle3 …)
``base_model_name_or_path``                 Medusa-1 heads (FasterDecoding/medusa-vicuna-7b-v1.3), EAGLE ports
``verifier_name_or_path``                   speculators training configs
==========================================  ====================================================================

The search asks the Hub (``HubSource.list_models``, the existing client: endpoint, token, timeouts and error
mapping all its own) for repositories whose id contains the target's short name or a head keyword, keeps the ids
that look like heads (:data:`HEAD_WORDS`), resolves at most :data:`MAX_CONFIRM` of them (metadata files only) and
keeps those whose config names the target. A name match alone is never enough: the config must say so.
The method comes from the config (``speculators_config.algorithm``, ``medusa_num_heads``, ``model_type``
``mlp_speculator``, an ``Eagle3`` architecture), else from the id (vLLM's own auto-detection: ``eagle3`` →
eagle3, ``eagle-`` → eagle).
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional

from draftfinder.errors import DraftFinderError
from draftfinder.methods.heads import Head, _norm

HEAD_WORDS = ("eagle", "medusa", "speculator", "accelerator", "mtp", "draft")
SEARCH_WORDS = ("eagle3", "eagle", "speculator", "medusa")
MAX_CONFIRM = 8           # heads resolved (metadata files only) per find: names with the target's short name first
LIST_LIMIT = 100


def named_target(config: Optional[Dict[str, Any]]) -> Optional[str]:
    """The model a head's config names as its target (verifier / base model), or None."""
    if not isinstance(config, dict):
        return None
    spec = config.get("speculators_config")
    if isinstance(spec, dict):
        verifier = spec.get("verifier")
        if isinstance(verifier, dict) and verifier.get("name_or_path"):
            return str(verifier["name_or_path"])
    for key in ("base_model_name_or_path", "verifier_name_or_path"):
        if config.get(key):
            return str(config[key])
    return None


def method_of(config: Dict[str, Any], repo_id: str) -> Optional[str]:
    """The registered method of a head, read from its config first, its id second; None when unknown."""
    spec = config.get("speculators_config")
    algo = str((spec or {}).get("algorithm") or config.get("speculators_model_type") or "").lower()
    if algo in ("eagle3", "eagle"):
        return algo
    if algo in ("mlp",) or config.get("model_type") == "mlp_speculator":
        return "mlp-speculator"
    if "medusa_num_heads" in config or config.get("model_type") == "medusa":
        return "medusa"
    archs = " ".join(config.get("architectures") or []).lower()
    if "eagle3" in archs:
        return "eagle3"
    name = repo_id.lower()
    if "eagle3" in name:
        return "eagle3"
    if "eagle-" in name or "eagle" in name:
        return "eagle"
    return None


def _short_name(target_id: str) -> str:
    return target_id.rsplit("/", 1)[-1]


def _looks_like_head(repo_id: str) -> bool:
    name = repo_id.lower()
    return any(w in name for w in HEAD_WORDS)


def discover_heads(hub: Any, target_id: str, *, max_confirm: int = MAX_CONFIRM) -> List[Head]:
    """Heads on the Hub whose config names ``target_id``. ``hub``: a :class:`HubSource`. Raises the Hub client's
    errors (``NetworkError``, ``RateLimitedError`` …) for the listing; a head whose files cannot be read is skipped."""
    want = _norm(target_id)
    short = _short_name(target_id)
    candidates: Dict[str, Any] = {}
    for term in [short] + [w for w in SEARCH_WORDS]:
        for ref in hub.list_models(search=term, limit=LIST_LIMIT):
            if _looks_like_head(ref.model_id) and ref.model_id.lower() != target_id.lower():
                candidates.setdefault(ref.model_id.lower(), ref)
    # names sharing the target's short name first, then by downloads
    key = re.sub(r"[^a-z0-9]", "", short.lower())
    ordered = sorted(candidates.values(), key=lambda r: (key not in re.sub(r"[^a-z0-9]", "", r.model_id.lower()),
                                                         -(r.downloads or 0), r.model_id.lower()))
    found: List[Head] = []
    for ref in ordered[:max_confirm]:
        try:
            record = hub.resolve(ref.model_id)
        except DraftFinderError:
            continue
        named = named_target(record.config)
        if not named or _norm(named) != want:
            continue
        method = method_of(record.config or {}, ref.model_id)
        if method is None:
            continue
        found.append(Head(ref.model_id, target_id, method, None, None, [],
                          {"where": f"Hub: its config.json names {named} "
                                    f"({'speculators_config.verifier.name_or_path' if record.config.get('speculators_config') else 'base_model_name_or_path'})"},
                          [], found_by="hub"))
    return found
