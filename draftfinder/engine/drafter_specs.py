"""Drafter specs (``--draft D``): their syntax, and the checks that run *before* any model weights load.

``generate``, ``chat``, ``measure`` and the sweep's ``engine`` backend call :func:`check_drafter_spec` right after
their flags are checked: a misspelt spec, an N past the target's layers, a draft model that does not exist or
whose tokenizer cannot draft for the target is refused in seconds (names are resolved from metadata, the
tokenizers loaded from their files), not after the target's weights took 12–60 s to load. The tokenizers loaded
here are cached (``compat.tokenizer.load_tokenizer``), so the later model load reuses them, and a compatible
pair is not checked twice.

==================  ==========================================================================================
spec                meaning
==================  ==========================================================================================
``ngram``           n-gram drafting, storage "basic", order 3
``ngram:KIND:N``    KIND basic | onelevel, order N ≥ 2
``layerskip:N``     the target's first N layers (1 ≤ N < the target's layer count)
``model:NAME``      a draft model; ``model:`` may be left out: ``zoo:NAME``, a folder, a .gguf file, a Hub id
``eagle3:DIR``      an EAGLE-3 head in the speculators format (``draftfinder train --method eagle3``); a folder
                    whose config.json says ``speculators_model_type: "eagle3"`` is recognised without the prefix
==================  ==========================================================================================
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

from draftfinder.errors import UsageError

DEFAULT_NGRAM_N = 3          # n-gram order for the bare ``ngram`` spec
KINDS = ("ngram", "layerskip", "model", "eagle3")
PAIR_HINT = "pick a draft of the same family (draftfinder find TARGET lists compatible ones)"
SPEC_HINT = ("use ngram, ngram:basic:N, ngram:onelevel:N, layerskip:N, eagle3:DIR, or a draft model (zoo:NAME, "
             "a folder, a .gguf file, a Hub id)")


@dataclass(frozen=True)
class DrafterSpec:
    """A parsed ``--draft`` value."""

    text: str                        # as given (stripped)
    kind: str                        # ngram | layerskip | model | eagle3
    storage: str = "basic"           # ngram
    n: int = DEFAULT_NGRAM_N         # ngram order
    layers: Optional[int] = None     # layerskip N
    model: Optional[str] = None      # model name or path (eagle3: the head's folder)


def parse_drafter_spec(spec: str) -> DrafterSpec:
    """Syntax only (no files, no network): raise ``UsageError`` naming the bad part and the forms that work."""
    text = (spec or "").strip()
    if not text:
        raise UsageError("empty drafter spec", hint=SPEC_HINT)
    prefix, colon, arg = text.partition(":")
    if prefix == "ngram":
        parts = [p for p in arg.split(":") if p] if arg else []
        if not parts:
            return DrafterSpec(text, "ngram")
        if len(parts) != 2 or parts[0] not in ("basic", "onelevel") or not parts[1].isdigit() or int(parts[1]) < 2:
            raise UsageError(f"bad n-gram drafter spec '{text}'",
                             hint="use ngram, ngram:basic:N or ngram:onelevel:N (N ≥ 2, the n-gram order)")
        return DrafterSpec(text, "ngram", storage=parts[0], n=int(parts[1]))
    if prefix == "layerskip":
        if not arg.isdigit() or int(arg) < 1:
            raise UsageError(f"bad layer-skip spec '{text}'", hint="use layerskip:N with N ≥ 1 the target's layers to keep")
        return DrafterSpec(text, "layerskip", layers=int(arg))
    if prefix == "eagle3":
        if not arg.strip():
            raise UsageError(f"bad drafter spec '{text}': no folder after 'eagle3:'",
                             hint="use eagle3:DIR with DIR a folder written by draftfinder train --method eagle3")
        return DrafterSpec(text, "eagle3", model=arg.strip())
    if prefix == "model":
        if not arg.strip():
            raise UsageError(f"bad drafter spec '{text}': no model after 'model:'", hint=SPEC_HINT)
        return DrafterSpec(text, "model", model=arg.strip())
    if colon and prefix != "zoo" and not Path(text).expanduser().exists() and "/" not in prefix and "\\" not in text:
        raise UsageError(f"unknown drafter '{text}': '{prefix}' is not a drafter kind", hint=SPEC_HINT)
    from draftfinder.engine.eagle3_format import is_eagle3_folder

    if is_eagle3_folder(text):
        return DrafterSpec(text, "eagle3", model=text)
    return DrafterSpec(text, "model", model=text)


def check_drafter_spec(spec: str, target: str, resolver: Any) -> DrafterSpec:
    """Everything about ``spec`` that can be known without loading weights, checked against ``target`` (a name
    ``load_model`` accepts): the syntax; the target resolves; N < the target's layer count (layerskip); the
    draft model resolves and both tokenizers pass compat's named checks (model). Raises the resolver's errors
    (``ModelNotFoundError`` …), ``TokenizerLoadError`` or ``UsageError`` with the reasons."""
    parsed = parse_drafter_spec(spec)
    record = resolver.resolve(target.strip())
    if parsed.kind == "layerskip":
        total = layer_count(record.config)
        if total is not None and not parsed.layers < total:
            raise UsageError(f"layerskip:{parsed.layers}: N must be between 1 and {total - 1} "
                             f"(the target has {total} layers)", hint=f"e.g. layerskip:{max(1, total // 2)}")
    elif parsed.kind == "eagle3":
        check_eagle3_head(parsed.model, record.config, target.strip())
    elif parsed.kind == "model":
        from draftfinder.compat.tokenizer import load_tokenizer

        draft_record = resolver.resolve(parsed.model)
        quick = header_mismatch(record, draft_record)
        if quick:
            raise UsageError(f"draft '{parsed.model}' cannot draft for '{target.strip()}': {quick}", hint=PAIR_HINT)
        check_tokenizer_pair(load_tokenizer(record), load_tokenizer(draft_record), target.strip(), parsed.model)
    return parsed


def header_mismatch(target: Any, draft: Any) -> Optional[str]:
    """A tokenizer mismatch that two GGUF headers prove without building either tokenizer (which takes ~10 s
    for Gemma-3's 262,144 tokens): a different ``tokenizer.ggml.model`` (BPE vs SentencePiece), or token counts
    further apart than compat's lenient tolerance (``LENIENT_MAX_EXTRA_TOKENS``), so that compat's named
    checks fail in strict and lenient mode alike. None when the headers cannot decide (records without a
    GGUF file, or headers that agree): then the tokenizers themselves are compared."""
    if getattr(target, "gguf_path", None) is None or getattr(draft, "gguf_path", None) is None:
        return None
    from draftfinder.compat.checks import LENIENT_MAX_EXTRA_TOKENS
    from draftfinder.models.gguf_meta import read_gguf_meta

    t, d = read_gguf_meta(target.gguf_path), read_gguf_meta(draft.gguf_path)
    if t.tokenizer_model and d.tokenizer_model and t.tokenizer_model != d.tokenizer_model:
        return (f"vocabulary: the target's tokenizer model is '{t.tokenizer_model}', the draft's "
                f"'{d.tokenizer_model}' (GGUF tokenizer.ggml.model)")
    if t.token_count and d.token_count and abs(t.token_count - d.token_count) > LENIENT_MAX_EXTRA_TOKENS:
        larger = "target" if t.token_count > d.token_count else "draft"
        return (f"tokenizer_size: the {larger} has {abs(t.token_count - d.token_count):,} extra token(s) past id "
                f"{min(t.token_count, d.token_count) - 1:,} (GGUF token counts {t.token_count:,} vs {d.token_count:,})")
    return None


def layer_count(config: Optional[Dict[str, Any]]) -> Optional[int]:
    """``num_hidden_layers`` of a config.json dict (or of its ``text_config``), None when absent."""
    if not isinstance(config, dict):
        return None
    for c in (config, config.get("text_config") or {}):
        value = c.get("num_hidden_layers") if isinstance(c, dict) else None
        if isinstance(value, int) and value > 0:
            return value
    return None


_PASSED: Dict[Tuple[int, int], Tuple[Any, Any]] = {}     # id pairs of compatible tokenizers (objects kept alive)


def check_tokenizer_pair(target_tokenizer: Any, draft_tokenizer: Any, target_name: str, draft_name: str) -> None:
    """Raise ``UsageError`` unless the draft's tokenizer can draft for the target's (compat's named checks,
    ``EnhancedTokenizerChecker.verify_compatibility``); a pair that passed once is not checked again."""
    if target_tokenizer is not None and target_tokenizer is draft_tokenizer:
        return
    if target_tokenizer is None or draft_tokenizer is None:
        missing = target_name if target_tokenizer is None else draft_name
        raise UsageError(f"cannot check the draft's tokenizer: '{missing}' has no tokenizer",
                         hint="load both models with their tokenizer files")
    key = (id(target_tokenizer), id(draft_tokenizer))
    if key in _PASSED:
        return
    from draftfinder.compat.checks import EnhancedTokenizerChecker

    result = EnhancedTokenizerChecker.verify_compatibility(target_tokenizer, draft_tokenizer, target_name, draft_name)
    if not result.is_compatible:
        # the engine runs compat's strict mode and has no --lenient-tokenization (that is find's flag)
        reasons = "; ".join(re.sub(r"; --lenient-tokenization[^)]*", "", r)
                            for r in result.incompatibility_reasons[:2]) or "tokenizers differ"
        raise UsageError(f"draft '{draft_name}' cannot draft for '{target_name}': {reasons}", hint=PAIR_HINT)
    _PASSED[key] = (target_tokenizer, draft_tokenizer)


def check_eagle3_head(folder: str, target_config: Optional[Dict[str, Any]], target: str) -> None:
    """Refuse, before weights load, an EAGLE-3 folder that is not one, or whose head was made for a target of
    another shape (hidden size, vocabulary, layer count from the target's config.json facts, where known)."""
    from draftfinder.engine.eagle3_format import is_eagle3_folder, read_config

    if not is_eagle3_folder(folder):
        raise UsageError(f"'{folder}' is not an EAGLE-3 head folder (no config.json with speculators_model_type "
                         f"'eagle3')", hint="pass a folder written by draftfinder train TARGET --method eagle3")
    config = read_config(Path(folder).expanduser())
    layer = config.get("transformer_layer_config") or {}
    text = (target_config.get("text_config") or target_config) if isinstance(target_config, dict) else {}
    pairs = [("hidden size", config.get("target_hidden_size") or layer.get("hidden_size"), text.get("hidden_size")),
             ("vocabulary", layer.get("vocab_size"), text.get("vocab_size"))]
    for what, head_value, target_value in pairs:
        if head_value and target_value and int(head_value) != int(target_value):
            made_for = ((config.get("speculators_config") or {}).get("verifier") or {}).get("name_or_path")
            raise UsageError(f"the EAGLE-3 head in {folder} was made for '{made_for}' ({what} {head_value}), "
                             f"not for '{target}' ({what} {target_value})",
                             hint="draft with a head trained for this target (draftfinder train TARGET --method eagle3)")
