"""N-gram assisted drafting (NASD, "prompt lookup"): draft tokens from n-gram counts of the sequence so far.

Follows the n-gram storages of romsto/Speculative-Decoding (``ngram_assisted/ngram_storage.py``, driven by
its ``infer.py`` CLI: ``/set_ngramstorage <basic|onelevel> <n>``, ``/top_k_filler``, ``/reset_in_between``;
seed 004). No model runs: a draft is a walk through Python dicts, so a draft call costs microseconds.

Definitions (``n`` ≥ 2 is the *order*: an n-gram is n−1 context tokens followed by one continuation):

- **Continuation counts.** For a context c (a tuple of tokens) the storage keeps ``{token: count}``: how many
  times ``token`` was recorded right after c. The *best* continuation of c is the token with the highest
  count; among tokens tied at that count, the one that reached it first (the seed replaces its best only
  when another token's count becomes strictly greater).
- **onelevel** (:class:`OneLevelNGramStorage`, the seed's ``OneLevelNGramStorage``): one table, order n
  only. Contexts are exactly the last n−1 tokens. A lookup on a sequence shorter than n−1 tokens, or whose
  last n−1 tokens were never seen, finds nothing.
- **basic** (:class:`BasicNGramStorage`, the seed's ``NGramStorage``, which its CLI names "basic"): one
  table per order m = n, n−1, …, 2 (contexts of m−1 = n−1 … 1 tokens). Every recorded token is counted at
  every order whose context fits. A lookup *backs off*: it tries the longest context (the last n−1 tokens)
  and returns the best continuation of the first (longest) context it finds; only if even the last single
  token was never seen does it find nothing. Departure from the seed: the seed's loops stop at contexts of
  2 tokens (orders n … 3, so ``basic`` with n = 2 stores nothing); here order 2 is included.
- **What is recorded.** ``begin(prompt)`` records every n-gram of the prompt; after each step every token
  of the accepted sequence that is not yet in the storage (accepted drafts and the target's correction or
  bonus token) is recorded at its position. Draft tokens are recorded only once the target accepts them.
- **Drafting** (:meth:`NGramDrafter.draft`): greedy walk. Look up the best continuation of the context,
  append it, look up again from the extended context, … up to k tokens; the walk stops at the first
  context with no entry (the seed CLI's ``stop_if_unknown=True``: no random filler token is proposed), so a
  draft may be shorter than k, or empty. q is one-hot: ``Draft(tokens, probs=None)``.
- **top_k_filler** (the seed's ``filler_top_k``): how many of the *target's* most probable tokens at each
  verified position are recorded as extra continuations (count +1 each, most probable first) besides the
  token actually accepted there. 1 (the default) records the accepted tokens only. The target's top-k ids
  reach the drafter through the optional hook :meth:`NGramDrafter.observe_target_topk`, which the engine
  (``speculative.speculative_generate``) calls after ``accept`` when ``drafter.top_k_filler > 1``, with the
  top ids of the target's raw logits (the processors keep that order); the
  :class:`~draftfinder.engine.base.Drafter` protocol itself carries no target logits. The seed records accepted token and filler per position,
  interleaved; here the accepted tokens of a step come first — only tie-breaking within one context can
  differ.
- **reset_between** (the seed's ``/reset_in_between``): True clears the storage at every ``begin()``;
  False keeps the counts across generations, so the next prompt's n-grams are added on top (a repeated
  prompt is counted again, as in the seed).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

from draftfinder.errors import UsageError
from draftfinder.engine.base import Draft, SamplingConfig

STORAGE_KINDS = ("basic", "onelevel")

# An entry of a table: [best continuation, {token: count}] (a list, not a dataclass: this is the hot path).
_Entry = List[Any]


def _record(table: Dict[tuple, _Entry], key: tuple, token: int, count: int = 1) -> None:
    """Add ``count`` to ``token`` after context ``key``; move *best* only on a strictly greater count."""
    entry = table.get(key)
    if entry is None:
        table[key] = [token, {token: count}]
        return
    counts = entry[1]
    value = counts.get(token, 0) + count
    counts[token] = value
    if value > counts[entry[0]]:
        entry[0] = token


class NGramStorage:
    """Common part of the storages: tables of continuation counts keyed by context tuples.

    ``tables[m]`` holds the order-m table: context of m−1 tokens → ``[best, {token: count}]``.
    Subclasses choose the orders (:attr:`orders`, longest first).
    """

    kind: str = ""

    def __init__(self, n: int):
        if isinstance(n, bool) or not isinstance(n, int) or n < 2:
            raise UsageError(f"n-gram order must be a whole number ≥ 2, got {n!r}",
                             hint="an n-gram is n−1 context tokens plus one continuation: use e.g. 3 (ngram:basic:3)")
        self.n = n
        self.orders: List[int] = self._orders()
        self.tables: Dict[int, Dict[tuple, _Entry]] = {m: {} for m in self.orders}

    def _orders(self) -> List[int]:
        raise NotImplementedError

    def reset(self) -> None:
        """Forget everything."""
        for table in self.tables.values():
            table.clear()

    def __len__(self) -> int:
        """Number of (order, context) entries stored."""
        return sum(len(table) for table in self.tables.values())

    def add(self, context: Sequence[int], token: int, count: int = 1) -> None:
        """Record that ``token`` followed ``context`` (only its last n−1 tokens matter), at every order that fits."""
        size = len(context)
        for m in self.orders:
            if m - 1 <= size:
                _record(self.tables[m], tuple(context[size - (m - 1):]), int(token), count)

    def add_sequence(self, ids: Sequence[int], start: int = 0) -> None:
        """Record each token ``ids[i]`` after its context ``ids[:i]``, for every position i ≥ ``start``."""
        n1 = self.n - 1
        for i in range(max(start, 1), len(ids)):
            self.add(ids[max(0, i - n1):i], ids[i])

    def lookup(self, context: Sequence[int]) -> Optional[int]:
        """Best continuation of the longest stored context that ends ``context``; None when none is stored."""
        size = len(context)
        for m in self.orders:
            if m - 1 <= size:
                entry = self.tables[m].get(tuple(context[size - (m - 1):]))
                if entry is not None:
                    return entry[0]
        return None

    def counts(self, context: Sequence[int], order: Optional[int] = None) -> Dict[int, int]:
        """Continuation counts of ``context`` at ``order`` (default n): a copy, ``{}`` when never seen."""
        m = self.n if order is None else order
        if m not in self.tables:
            raise ValueError(f"order {m} is not stored by a {self.kind} storage of n={self.n} (orders {self.orders})")
        if len(context) < m - 1:
            return {}
        entry = self.tables[m].get(tuple(context[len(context) - (m - 1):]))
        return dict(entry[1]) if entry else {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n={self.n}, entries={len(self)})"


class BasicNGramStorage(NGramStorage):
    """Orders n down to 2 with back-off to shorter contexts (the seed's ``NGramStorage``, "basic")."""

    kind = "basic"

    def _orders(self) -> List[int]:
        return list(range(self.n, 1, -1))


class OneLevelNGramStorage(NGramStorage):
    """Order n only: contexts of exactly n−1 tokens, no back-off (the seed's ``OneLevelNGramStorage``)."""

    kind = "onelevel"

    def _orders(self) -> List[int]:
        return [self.n]


def make_storage(kind: str, n: int) -> NGramStorage:
    """``basic`` → :class:`BasicNGramStorage`, ``onelevel`` → :class:`OneLevelNGramStorage`."""
    if kind == "basic":
        return BasicNGramStorage(n)
    if kind == "onelevel":
        return OneLevelNGramStorage(n)
    raise UsageError(f"unknown n-gram storage '{kind}'", hint=f"use one of: {', '.join(STORAGE_KINDS)} (e.g. ngram:basic:3)")


def _walk(storage: NGramStorage, context_ids: Sequence[int], n1: int, k: int) -> List[int]:
    """Greedy walk: up to ``k`` best continuations, each looked up after the previous one; stops at a miss."""
    tail = list(context_ids[-n1:]) if context_ids else []
    tokens: List[int] = []
    lookup = storage.lookup
    for _ in range(max(0, int(k))):
        token = lookup(tail)
        if token is None:
            break
        tokens.append(token)
        tail.append(token)
        if len(tail) > n1:
            del tail[0]
    return tokens


class NGramDrafter:
    """A :class:`~draftfinder.engine.base.Drafter` that proposes tokens from an n-gram storage (see module doc).

    ``storage``: ``"basic"`` (orders n…2, back-off) or ``"onelevel"`` (order n only); ``n``: the order (≥ 2);
    ``top_k_filler``: target top-k tokens recorded per verified position (1 = accepted tokens only);
    ``reset_between``: clear the storage at each ``begin()`` (True) or keep it across generations (False).
    """

    def __init__(self, storage: str = "basic", n: int = 3, top_k_filler: int = 1, reset_between: bool = True):
        if isinstance(top_k_filler, bool) or not isinstance(top_k_filler, int) or top_k_filler < 1:
            raise UsageError(f"top_k_filler must be a whole number ≥ 1, got {top_k_filler!r}",
                             hint="1 records only the accepted tokens; 3 (the seed's default) also the target's top 3")
        self.storage = make_storage(storage, n)
        # back-off tables for extend() (pass-size padding): the storage itself when it backs off already
        self._fallback = self.storage if self.storage.kind == "basic" else BasicNGramStorage(n)
        self.n = n
        self.top_k_filler = top_k_filler
        self.reset_between = bool(reset_between)
        self.name = f"ngram:{self.storage.kind}:{n}"
        self._seen = 0          # tokens of the current sequence already recorded in the storage
        # counters of the current generation
        self.lookups = 0        # draft() calls
        self.empty_drafts = 0   # draft() calls that found nothing to propose

    # --- Drafter protocol ---------------------------------------------------------------------------

    def begin(self, prompt_ids: List[int]) -> None:
        """New generation: clear the storage if ``reset_between``, then record the prompt's n-grams."""
        if self.reset_between:
            self.storage.reset()
            self._fallback.reset()
        self._seen = 0
        self.lookups = 0
        self.empty_drafts = 0
        self._sync(prompt_ids)

    def draft(self, context_ids: List[int], k: int, sampling: SamplingConfig = None, generator: Any = None) -> Draft:
        """Greedy walk: up to ``k`` best continuations, each looked up after the previous one; stops at a miss."""
        self._sync(context_ids)
        self.lookups += 1
        tokens = _walk(self.storage, context_ids, self.n - 1, k)
        if not tokens:
            self.empty_drafts += 1
        return Draft(tokens=tokens, probs=None)

    def extend(self, context_ids: List[int], n: int) -> List[int]:
        """Up to ``n`` more tokens after ``context_ids`` (the accepted sequence + the draft so far) by a back-off
        walk (orders n … 2), for the engine's pass-size padding (``engine/passcost.py``): with a ``onelevel``
        storage this proposes continuations its own walk would not; stops at the first unknown context."""
        return _walk(self._fallback, context_ids, self.n - 1, n)

    def accept(self, n_accepted: int, context_ids: List[int]) -> None:
        """Record the tokens the step added to the accepted sequence (accepted drafts + correction/bonus)."""
        self._sync(context_ids)

    def end(self) -> None:
        """Nothing to release; the storage stays until the next ``begin()`` (which clears it if ``reset_between``)."""

    # --- optional hook: the seed's top-k filler -----------------------------------------------------

    def observe_target_topk(self, context_ids: Sequence[int], start: int, topk_ids: Sequence[Sequence[int]]) -> None:
        """Record the target's most probable tokens as extra continuations (the seed's ``filler_top_k``).

        ``context_ids``: the accepted sequence after the step; ``topk_ids[i]``: the target's token ids for
        position ``start + i``, most probable first, computed from the logits conditioned on
        ``context_ids[:start + i]`` (i = 0 … n_accepted: the accepted positions and the correction/bonus).
        The first ``top_k_filler`` ids of each list get count +1 after that context. A no-op when
        ``top_k_filler`` is 1.
        """
        if self.top_k_filler <= 1:
            return
        n1 = self.n - 1
        for i, candidates in enumerate(topk_ids):
            pos = start + i
            if pos < 1 or pos > len(context_ids):
                continue
            context = context_ids[max(0, pos - n1):pos]
            for token in list(candidates)[: self.top_k_filler]:
                self.storage.add(context, int(token))

    # --- internals ----------------------------------------------------------------------------------

    def _sync(self, context_ids: Sequence[int]) -> None:
        """Record the tokens of ``context_ids`` past the ones already recorded for this sequence."""
        if len(context_ids) < self._seen:  # the sequence got shorter (rolled back): counts cannot be unlearned
            self._seen = len(context_ids)
            return
        if len(context_ids) > self._seen:
            self.storage.add_sequence(context_ids, start=self._seen)
            if self._fallback is not self.storage:
                self._fallback.add_sequence(context_ids, start=self._seen)
            self._seen = len(context_ids)

    def __repr__(self) -> str:
        return (f"NGramDrafter(storage={self.storage.kind!r}, n={self.n}, top_k_filler={self.top_k_filler}, "
                f"reset_between={self.reset_between})")
