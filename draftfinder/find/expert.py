"""The expert's first pick: a draft of the target's own variant (instruct/chat or base) and line.

An instruct/chat target is served with its chat template and stops at its end-of-turn token (Qwen2.5-Instruct:
``<|im_end|>``; Llama-3.x-Instruct: ``<|eot_id|>``). A base draft of the same family shares the vocabulary but
was never trained on that template and ends text with another EOS (Qwen2.5 base: ``<|endoftext|>``): it drafts
poorly at exactly the tokens a chat answer is made of. So an expert picks the instruct/chat draft of the same
family first and flags the base one — and, for a base target, the base draft first. This module decides, per
pair, from the facts we hold:

- **variant** (``instruct`` | ``base`` | ``unknown``), strongest first: the catalog's ``is_instruct``
  (provenance in the catalog); else the name: a base marker (``-Base``, ``-pt``) → base; an instruct/chat
  marker (``Instruct``, ``chat``, ``-it``, ``SFT``, ``DPO``, ``Thinking``, ``R1-Distill``, ``vicuna``, …) →
  instruct; a line whose unmarked releases are post-trained (Qwen3, QwQ, SmolLM3, phi-4) → instruct; any
  other Hub id → base (no marker); a local file or folder without a marker → unknown.
- **line**: the name without owner, sizes (``7B``, ``0.5B``, ``8x7B``, ``68m``), size words (``mini``,
  ``medium``, …), context lengths (``4k``), variant markers and quantization suffixes — ``Qwen2.5-Coder-32B-
  Instruct`` → ``qwen2.5-coder``; ``Llama-3.2-1B-Instruct`` → ``llama-3.2``. Same line = same fine-tuning
  data lineage (Coder drafts for a Coder target).
- **EOS**: from the tokenizer check's ``special_tokens`` values when it ran, else the catalog's
  ``special_tokens.eos_token``, else the configs' ``eos_token_id`` (sets compared); unknown otherwise.
- **chat template**: the catalog's ``chat_template_sha256`` on both sides (reported; not ranked — Llama 3.2
  and 3.1 templates differ by a date line, yet 3.2-1B-Instruct is the expert's draft for 3.1-8B-Instruct).

:func:`variant_tier` orders candidates before the speedup (``find/ranking.py``):

====  ================================================================================================
tier  the draft
====  ================================================================================================
0     the target's variant, EOS not known to differ, and (instruct target) the target's line
1     the target's variant, EOS not known to differ, another line of the family
2     variant unknown on one side (no rule applies) — also every draft of a target of unknown variant
3     flagged: the other variant (base draft for an instruct target, or the reverse), or EOS differs
====  ================================================================================================

``expert_pick`` is true for tiers 0 and 1: the draft an expert would choose for this target.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Tuple

from draftfinder.find.results import to_plain

INSTRUCT = "instruct"
BASE = "base"
UNKNOWN = "unknown"

TIER_SAME_LINE, TIER_SAME_VARIANT, TIER_UNKNOWN, TIER_FLAGGED = 0, 1, 2, 3

# Markers in the model's own name (the part after the owner), lower case, bounded by - _ . or the ends.
_B = r"(?:^|[-_.])"
_E = r"(?=$|[-_.])"
BASE_MARKERS = re.compile(_B + r"(base|pt)" + _E)
INSTRUCT_MARKERS = re.compile(
    _B + r"(instruct|chat|it|sft|dpo|rlhf|orpo|kto|thinking|reasoning|assistant|hermes|tulu|openchat|zephyr|vicuna|"
    r"r1-distill|distill-(qwen|llama)|wizardlm|openhermes)" + _E + "|" + r"(instruct|chat)(?=$|[-_.\dv])")
# Lines whose releases without a marker are post-trained (model cards: Qwen3 "-Base" are the pretrained ones;
# QwQ-32B, SmolLM3-3B, phi-4 are released post-trained).
POST_TRAINED_LINES = re.compile(r"^(qwen3(?!.*base)|qwq|smollm3|phi-4(?!.*base)|deepseek-r1)")

_SIZE = re.compile(r"^(\d+x)?\d+(\.\d+)?[bmk]$|^a\d+(\.\d+)?b$|^\d+(\.\d+)?[bm]-?$")
_SIZE_WORDS = {"mini", "small", "medium", "large", "xl", "xxl", "nano", "micro", "tiny-", "base", "pt", "it",
               "instruct", "chat", "hf", "sft", "dpo", "rlhf", "thinking"}
_VERSION = re.compile(r"^v\d+(\.\d+)*$|^\d{4}$")          # -v0.1, -2507


@dataclass
class VariantMatch:
    """How well a draft's variant (instruct/chat or base), line and EOS fit the target's."""

    target_variant: str
    draft_variant: str
    target_variant_basis: str               # "catalog is_instruct" | "name: …"
    draft_variant_basis: str
    target_line: str
    draft_line: str
    target_eos: Optional[str] = None
    draft_eos: Optional[str] = None
    same_eos: Optional[bool] = None         # None: not known on both sides
    eos_basis: str = "unknown"
    same_chat_template: Optional[bool] = None
    chat_template_basis: str = "unknown"
    tier: int = TIER_UNKNOWN
    expert_pick: bool = False
    flag: Optional[str] = None              # the warning of a flagged pair (tier 3)

    @property
    def summary(self) -> str:
        """``instruct draft for an instruct target (same line qwen2.5; EOS '<|im_end|>' on both)``."""
        eos = ("EOS not compared" if self.same_eos is None else
               f"EOS {self.target_eos} on both" if self.same_eos else f"EOS {self.target_eos} vs {self.draft_eos}")
        template = {True: "same chat template", False: "chat template differs",
                    None: "chat template not compared"}[self.same_chat_template]
        line = (f"same line {self.target_line}" if self.target_line == self.draft_line
                else f"line {self.draft_line} (target {self.target_line})")
        return (f"{self.draft_variant} draft for {_article(self.target_variant)} {self.target_variant} target ({line}; "
                f"{eos}, {self.eos_basis}; {template})")

    def to_dict(self) -> Dict[str, Any]:
        out = to_plain(self)
        out["summary"] = self.summary
        return out


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def short_name(model_id: str) -> str:
    name = str(model_id).replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    if name.lower().endswith(".gguf"):
        name = name[:-5]
    return name


def model_variant(model_id: str, catalog_entry: Optional[Mapping[str, Any]] = None, *,
                  local: bool = False) -> Tuple[str, str]:
    """``(variant, basis)`` of one model (see the module docstring for the order of evidence)."""
    entry = catalog_entry or {}
    if isinstance(entry.get("is_instruct"), bool):
        return (INSTRUCT if entry["is_instruct"] else BASE), "catalog is_instruct"
    from draftfinder.models.family import strip_quant_suffixes

    name = strip_quant_suffixes(short_name(model_id)).lower()
    if BASE_MARKERS.search(name):
        return BASE, "name: base/pretrained marker"
    if INSTRUCT_MARKERS.search(name):
        return INSTRUCT, "name: instruct/chat marker"
    if POST_TRAINED_LINES.search(name):
        return INSTRUCT, "name: a line released post-trained without a marker"
    if local:
        return UNKNOWN, "local file without an instruct/base marker in its name"
    return BASE, "name: no instruct/chat marker"


def model_line(model_id: str) -> str:
    """The release line of a model: its name without sizes, variant markers and versions (module docstring)."""
    from draftfinder.models.family import strip_quant_suffixes

    name = strip_quant_suffixes(short_name(model_id)).lower()
    if name.startswith("meta-llama-"):            # Meta-Llama-3-8B-Instruct → llama-3
        name = name[len("meta-"):]
    parts = [p for p in re.split(r"[-_]", name) if p]
    kept = [p for p in parts if not (_SIZE.match(p) or p in _SIZE_WORDS or _VERSION.match(p) or re.match(r"^\d+k$", p))]
    return "-".join(kept) or name


def _eos_from_check(compat: Any) -> Optional[Tuple[str, str]]:
    for check in getattr(compat, "checks", None) or []:
        if check.name == "special_tokens" and isinstance(check.target_value, dict) \
                and isinstance(check.draft_value, dict):
            t, d = check.target_value.get("eos"), check.draft_value.get("eos")
            if t is not None and d is not None:
                return t, d
    return None


def _config_eos(config: Optional[Mapping[str, Any]]) -> Optional[Tuple[int, ...]]:
    value = (config or {}).get("eos_token_id")
    if value is None and isinstance((config or {}).get("text_config"), dict):
        value = config["text_config"].get("eos_token_id")
    if isinstance(value, int):
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, int) for v in value):
        return tuple(sorted(set(value)))
    return None


def compare_eos(compat: Any, target_entry: Mapping[str, Any], draft_entry: Mapping[str, Any],
                target_config: Optional[Mapping[str, Any]], draft_config: Optional[Mapping[str, Any]]
                ) -> Tuple[Optional[str], Optional[str], Optional[bool], str]:
    """``(target_eos, draft_eos, same, basis)`` from the best source both sides have."""
    pair = _eos_from_check(compat)
    if pair is not None:
        return pair[0], pair[1], pair[0] == pair[1], "tokenizer check"
    t = (target_entry.get("special_tokens") or {}).get("eos_token")
    d = (draft_entry.get("special_tokens") or {}).get("eos_token")
    if isinstance(t, str) and isinstance(d, str):
        return repr(t), repr(d), t == d, "catalog special tokens"
    ti, di = _config_eos(target_config), _config_eos(draft_config)
    if ti is not None and di is not None:
        show = lambda ids: str(ids[0]) if len(ids) == 1 else str(list(ids))   # noqa: E731
        return f"id {show(ti)}", f"id {show(di)}", ti == di, "config eos_token_id"
    return None, None, None, "unknown"


def compare_chat_templates(target_entry: Mapping[str, Any], draft_entry: Mapping[str, Any]
                           ) -> Tuple[Optional[bool], str]:
    t, d = target_entry.get("chat_template_sha256"), draft_entry.get("chat_template_sha256")
    if t and d:
        return t == d, "catalog chat_template_sha256"
    return None, "unknown"


def variant_match(target_id: str, draft_id: str, *, compat: Any = None,
                  target_entry: Optional[Mapping[str, Any]] = None, draft_entry: Optional[Mapping[str, Any]] = None,
                  target_config: Optional[Mapping[str, Any]] = None, draft_config: Optional[Mapping[str, Any]] = None,
                  target_local: bool = False, draft_local: bool = False,
                  same_family: bool = True) -> VariantMatch:
    """Compare the draft with the target: variant, line, EOS and chat template; the tier and flag."""
    te, de = target_entry or {}, draft_entry or {}
    tv, tvb = model_variant(target_id, te, local=target_local)
    dv, dvb = model_variant(draft_id, de, local=draft_local)
    t_eos, d_eos, same_eos, eos_basis = compare_eos(compat, te, de, target_config, draft_config)
    same_template, template_basis = compare_chat_templates(te, de)
    match = VariantMatch(tv, dv, tvb, dvb, model_line(target_id), model_line(draft_id), t_eos, d_eos, same_eos,
                         eos_basis, same_template, template_basis)
    match.tier = variant_tier(match, same_family=same_family)
    match.expert_pick = match.tier in (TIER_SAME_LINE, TIER_SAME_VARIANT)
    match.flag = _flag(match) if match.tier == TIER_FLAGGED else None
    return match


def variant_tier(m: VariantMatch, *, same_family: bool = True) -> int:
    """The tier of the module docstring's table."""
    if UNKNOWN in (m.target_variant, m.draft_variant):
        return TIER_UNKNOWN
    if m.target_variant != m.draft_variant or m.same_eos is False:
        return TIER_FLAGGED
    if m.target_variant == INSTRUCT and (m.target_line != m.draft_line or not same_family):
        return TIER_SAME_VARIANT
    return TIER_SAME_LINE


def _flag(m: VariantMatch) -> str:
    eos = (f"EOS {m.draft_eos} vs the target's {m.target_eos}" if m.same_eos is False else
           "EOS not compared" if m.same_eos is None else f"same EOS {m.target_eos}")
    if m.target_variant == INSTRUCT and m.draft_variant == BASE:
        return (f"Base model for an instruct/chat target: EOS/chat template differ ({eos}; not tuned on the chat "
                "template) — an instruct/chat draft of the family ranks first")
    if m.target_variant == BASE and m.draft_variant == INSTRUCT:
        return (f"Instruct/chat model for a base target: EOS/chat tuning differ ({eos}) — a base draft of the "
                "family ranks first")
    return f"EOS differs: {eos} — it proposes another end of text than the target's"
