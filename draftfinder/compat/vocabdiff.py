"""Comparing two vocabularies id by id: from their full token lists, or from stored facts alone.

``compare_token_lists`` compares two id→text lists exactly. ``compare_facts`` decides the same question from
two :class:`~draftfinder.compat.facts.TokenizerFacts` (the offline catalog's form): literal head ids and added
tokens text by text, the base vocabulary per block hash, and the ``[PAD…]`` rows a GGUF conversion writes
(:func:`pad_token_text`). Both return a :class:`VocabComparison`: what was compared, what differs, and what
could not be decided. Loading tokenizers is :mod:`draftfinder.compat.tokenizer`; computing their facts,
:mod:`draftfinder.compat.facts`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

from draftfinder.compat.facts import _MISSING, HEAD_IDS, TokenizerFacts


@dataclass
class VocabComparison:
    """Token-by-token comparison of two vocabularies over ids ``[start, end)``."""

    start: int
    end: int
    compared: int = 0                                      # ids whose texts were compared (exactly or by hash)
    mismatches: Optional[int] = 0                          # exact count; None when known only per block
    differing_ranges: List[Tuple[int, int]] = field(default_factory=list)    # id ranges known to differ
    unverified_ranges: List[Tuple[int, int]] = field(default_factory=list)   # could not be compared offline
    examples: List[Tuple[int, Optional[str], Optional[str]]] = field(default_factory=list)  # (id, target, draft)

    @property
    def identical(self) -> Optional[bool]:
        """True: every id matches; False: some id differs; None: no difference found but part unverified."""
        if (self.mismatches or 0) > 0 or self.differing_ranges:
            return False
        return None if self.unverified_ranges else True

    @property
    def size(self) -> int:
        return max(0, self.end - self.start)


def _add_range(ranges: List[Tuple[int, int]], lo: int, hi: int) -> None:
    if hi <= lo:
        return
    if ranges and ranges[-1][1] == lo:
        ranges[-1] = (ranges[-1][0], hi)
    else:
        ranges.append((lo, hi))


def compare_token_lists(target: Sequence[Optional[str]], draft: Sequence[Optional[str]], *, start: int = 0,
                        end: Optional[int] = None, max_examples: int = 5) -> VocabComparison:
    """Exact comparison of two id→text lists over ``[start, end)`` (default: their shared range)."""
    end = min(len(target), len(draft)) if end is None else min(end, len(target), len(draft))
    out = VocabComparison(start=start, end=max(start, end))
    mismatches = 0
    for i in range(start, end):
        if target[i] != draft[i]:
            mismatches += 1
            _add_range(out.differing_ranges, i, i + 1)
            if len(out.examples) < max_examples:
                out.examples.append((i, target[i], draft[i]))
    out.compared = out.size
    out.mismatches = mismatches
    return out


def pad_token_text(token_id: int, n_tokens: int, vocab_kind: Optional[str]) -> str:
    """Text ``convert_hf_to_gguf.py`` gives an embedding row that has no token.

    ``TextModel.get_vocab_base`` (BPE/WordPiece) writes ``[PAD{id}]``; ``_create_vocab_sentencepiece``
    numbers them from 1 after the last real token: ``[PAD1]``, ``[PAD2]``, …
    """
    if vocab_kind == "SPM":
        return f"[PAD{token_id - n_tokens + 1}]"
    return f"[PAD{token_id}]"


def compare_facts(target: TokenizerFacts, draft: TokenizerFacts, *, start: int = 0, end: Optional[int] = None,
                  target_n_vocab: Optional[int] = None, draft_n_vocab: Optional[int] = None,
                  max_examples: int = 5) -> VocabComparison:
    """Compare two vocabularies from their facts alone, over ``[start, end)``.

    Base-vocabulary ids are compared per block of ``BLOCK_SIZE`` (a block is exact when both sides cover the
    same ids in it; ``mismatches`` is then None because only blocks are known), the first ``HEAD_IDS`` ids
    and the added tokens text by text. ``*_n_vocab`` extends a side past its tokenizer with the
    ``[PAD…]`` rows a GGUF conversion writes (see :func:`pad_token_text`) — llama.cpp compares those too.
    Ranges that cannot be decided from facts are listed in ``unverified_ranges``.
    """
    nt = max(target.n_tokens, target_n_vocab or 0)
    nd = max(draft.n_tokens, draft_n_vocab or 0)
    end = min(nt, nd) if end is None else min(end, nt, nd)
    out = VocabComparison(start=start, end=max(start, end), mismatches=None)
    if end <= start:
        out.mismatches = 0
        return out
    if target.version != draft.version or target.block_size != draft.block_size:
        _add_range(out.unverified_ranges, start, end)
        return out

    exact_mismatches = 0
    block_differs = False

    def text_of(facts: TokenizerFacts, n_vocab: int, i: int) -> Tuple[bool, Optional[str]]:
        if i < len(facts.head_tokens):
            return True, facts.head_tokens[i]
        if i < facts.base_vocab_size:
            return False, None                            # only its block hash is known
        if i < facts.n_tokens:
            return facts.tail_text(i)
        return True, pad_token_text(i, facts.n_tokens, facts.vocab_kind) if i < n_vocab else _MISSING

    def exact(i: int) -> None:
        nonlocal exact_mismatches
        kt, tt = text_of(target, nt, i)
        kd, td = text_of(draft, nd, i)
        if not (kt and kd):
            _add_range(out.unverified_ranges, i, i + 1)
            return
        out.compared += 1
        if tt != td:
            exact_mismatches += 1
            _add_range(out.differing_ranges, i, i + 1)
            if len(out.examples) < max_examples:
                out.examples.append((i, tt, td))

    # 1. literal head ids
    for i in range(start, min(HEAD_IDS, end)):
        exact(i)
    # 2. base blocks both sides share
    shared_base = min(target.base_vocab_size, draft.base_vocab_size)
    for k in range(len(target.block_hashes)):
        b0 = k * target.block_size
        if b0 >= min(shared_base, end):
            break
        lo, hi = max(b0, HEAD_IDS, start), min(b0 + target.block_size, end, shared_base)
        if hi <= lo:
            continue
        t_cover = min(b0 + target.block_size, target.base_vocab_size)
        d_cover = min(b0 + draft.block_size, draft.base_vocab_size)
        if t_cover != d_cover or k >= len(draft.block_hashes):
            _add_range(out.unverified_ranges, lo, hi)
            continue
        whole = lo == max(b0, HEAD_IDS) and hi == t_cover
        if target.block_hashes[k] == draft.block_hashes[k]:
            out.compared += hi - lo                        # equal block ⇒ equal on any sub-range
        elif whole:
            _add_range(out.differing_ranges, lo, hi)
            out.compared += hi - lo
            block_differs = True
        else:                                              # differs, but maybe outside [start, end)
            _add_range(out.unverified_ranges, lo, hi)
    # 3. ids past the smaller base vocabulary: added tokens, padding rows, or the larger side's base tokens
    for i in range(max(shared_base, HEAD_IDS, start), end):
        exact(i)

    # An exact count only when no block differed as a whole (a differing block hides how many ids differ).
    out.mismatches = None if block_differs else exact_mismatches
    return out

