"""Running test strings through a target and a draft tokenizer: ids, tokens and decodes side by side.

``run_test_strings`` tokenizes every ``(category, text)`` with both tokenizers (``add_special_tokens=False``),
counts the texts whose ids are equal, keeps up to ``MAX_FAILED_EXAMPLES`` failures in the manual's form
(§7.8: ``text``, ``target_ids``, ``draft_ids``, ``target_tokens``, ``draft_tokens``, plus ``index`` and
``category``), and checks that both tokenizers decode the same ids to the same text. The named checks built
from it are :mod:`draftfinder.compat.checks`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from draftfinder.compat.facts import token_texts
from draftfinder.compat.tokenizer import quiet_transformers

MAX_FAILED_EXAMPLES = 10


@dataclass
class TestRun:
    """What running the test strings through both tokenizers found."""

    __test__ = False        # not a pytest test class

    total: int = 0
    passed: int = 0
    failed_examples: List[Dict[str, Any]] = field(default_factory=list)
    first_failure: Optional[Tuple[List[int], List[int]]] = None
    decode_total: int = 0
    decode_ok: int = 0
    first_decode_failure: Optional[Tuple[str, str, str]] = None   # (text, target decode, draft decode)

    @property
    def rate(self) -> float:
        return self.passed / self.total if self.total else 0.0


def _encode(tok: Any, texts: List[str]) -> List[List[int]]:
    if not texts:
        return []
    with quiet_transformers():
        return [list(ids) for ids in tok(texts, add_special_tokens=False)["input_ids"]]


def _decode(tok: Any, ids: List[int]) -> Optional[str]:
    try:
        with quiet_transformers():
            return tok.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)
    except Exception:      # an id outside this tokenizer's range
        return None


def _tokens(tok: Any, ids: List[int]) -> List[Optional[str]]:
    texts = token_texts(tok)
    return [texts[i] if 0 <= i < len(texts) else None for i in ids]


def run_test_strings(target_tok: Any, draft_tok: Any, strings: Sequence[Tuple[str, str]]) -> TestRun:
    run = TestRun(total=len(strings))
    texts = [text for _, text in strings]
    t_all, d_all = _encode(target_tok, texts), _encode(draft_tok, texts)
    for index, ((category, text), t_ids, d_ids) in enumerate(zip(strings, t_all, d_all), start=1):
        if t_ids == d_ids:
            run.passed += 1
        else:
            if run.first_failure is None:
                run.first_failure = (t_ids, d_ids)
            if len(run.failed_examples) < MAX_FAILED_EXAMPLES:
                run.failed_examples.append({
                    "index": index, "category": category, "text": text,
                    "target_ids": t_ids, "draft_ids": d_ids,
                    "target_tokens": _tokens(target_tok, t_ids), "draft_tokens": _tokens(draft_tok, d_ids),
                })
        run.decode_total += 1
        agree = True
        for ids in (t_ids, d_ids) if t_ids != d_ids else (t_ids,):
            a, b = _decode(target_tok, ids), _decode(draft_tok, ids)
            if a is None or a != b:
                agree = False
                if run.first_decode_failure is None:
                    run.first_decode_failure = (text, a, b)
        run.decode_ok += agree
    return run
