"""The decoding loops: target-only / draft-only autoregressive baselines and draft → verify speculative decoding.

Batch size 1, KV caches for the target and the drafter, CPU. Steps are named as in gpt-fast's ``generate.py``:

- ``prefill``            the prompt minus its last token goes through the model once, filling its cache
- ``decode_one_token``   one forward over the last token → logits of the next one
- ``speculative_decode`` one speculative step: the drafter proposes x_1..x_k, the target scores
                         [last token, x_1..x_k] in one forward (k + 1 rows of logits), ``verify_draft`` keeps
                         n ≤ k drafts and adds the target's correction (or bonus) token, and both caches are
                         rolled back to the accepted sequence

Cache invariant, for the target in both loops: between steps the cache holds every accepted token except the
last one, which is fed by the next forward. So the first new token also comes from a step (not from the
prefill), and in speculative decoding it is drafted and verified like every other token.

Speculative output equals the target's: token for token under greedy; in distribution under sampling
(Leviathan et al. 2023, Theorem 1; see ``sampling.verify_draft``). Both loops time their phases alike, so
speculative vs. autoregressive ratios are fair: ``prefill_s`` (prompt, and the drafter's ``begin``),
``draft_s`` (drafter calls), ``verify_s`` (target forwards and acceptance; in the baselines, the decode
forwards), ``ttft_s`` (start → first new token known), ``total_s``.
"""

from __future__ import annotations

import functools
import inspect
import time
from dataclasses import dataclass, field
from typing import Any, Callable, List, Optional, Sequence

import torch

from draftfinder.errors import UsageError
from draftfinder.engine import cache as kv
from draftfinder.engine.base import Draft, Drafter, GenerationResult, SamplingConfig, SpecStats
from draftfinder.engine.passcost import padded_length
from draftfinder.engine.sampling import accept_greedy, align_vocab, logits_to_probs, sample, validate_sampling, verify_draft

MAX_K = 64       # a larger draft window is never useful and is most likely a typo


# ---------------------------------------------------------------------------------------------------
# forwards
# ---------------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _keeps_logits(model_class: type) -> bool:
    """Whether ``model_class.forward`` takes ``logits_to_keep`` (skips the LM head on prompt positions)."""
    return "logits_to_keep" in inspect.signature(model_class.forward).parameters


def model_forward(model: Any, cache: Any, token_ids: Sequence[int], *, last_only: bool = False) -> torch.Tensor:
    """Run ``token_ids`` after what ``cache`` holds; returns logits [S, V] (or [1, V] with ``last_only``)."""
    input_ids = torch.tensor([list(token_ids)], dtype=torch.long)           # [1, S]
    kwargs = {"logits_to_keep": 1} if last_only and _keeps_logits(type(model)) else {}
    out = model(input_ids=input_ids, past_key_values=cache, use_cache=True, **kwargs)
    return out.logits[0, -1:] if last_only else out.logits[0]                # [S, V] or [1, V]


def prefill(model: Any, cache: Any, token_ids: Sequence[int]) -> None:
    """Fill ``cache`` with ``token_ids`` (the prompt minus its last token); then allow rollback."""
    if token_ids:
        model_forward(model, cache, token_ids, last_only=True)
    kv.enable_rollback(cache)


def decode_one_token(model: Any, cache: Any, token_id: int) -> torch.Tensor:
    """Feed one token; logits of the next position [V]."""
    return model_forward(model, cache, [token_id])[-1]


# ---------------------------------------------------------------------------------------------------
# one speculative step
# ---------------------------------------------------------------------------------------------------

@dataclass
class StepOutcome:
    """What one draft → verify step produced."""

    drafted: List[int]                    # x_1..x_k proposed by the drafter
    n_accepted: int                       # how many of them the target kept
    next_token: int                       # the target's correction (n < k) or bonus (n == k) token
    draft_s: float = 0.0
    verify_s: float = 0.0
    target_topk: Optional[List[List[int]]] = None   # [n_accepted+1][top_k] target's best ids per emitted position

    @property
    def accepted(self) -> List[int]:
        return self.drafted[: self.n_accepted]

    @property
    def rejected(self) -> List[int]:
        return self.drafted[self.n_accepted:]

    @property
    def new_tokens(self) -> List[int]:
        return self.accepted + [self.next_token]


def speculative_decode(target: Any, target_cache: Any, drafter: Drafter, ids: List[int], k: int,
                       sampling: SamplingConfig, generator: torch.Generator, vocab_size: int,
                       top_k: int = 0, pad: Optional[Callable[[int], int]] = None) -> StepOutcome:
    """One step: draft up to k tokens after ``ids``, verify them with one target forward, roll caches back.

    ``ids`` is the accepted sequence (prompt + generated); the target cache holds ids[:-1]. On return the
    target cache holds ids + accepted drafts (the new last token, correction or bonus, is not fed yet).
    The drafter is told the new sequence through ``accept`` by the caller. ``top_k`` > 0 also returns the
    target's ``top_k`` most probable ids at each emitted position (for n-gram drafters' ``top_k_filler``).
    ``pad(n)`` → n' ≥ n: when given and the drafter has ``extend``, a non-empty draft of n tokens is extended
    to n' tokens (``engine/passcost.py``: a cheaper verify pass size; n-gram drafters only, free to extend).
    """
    t0 = time.perf_counter()
    draft: Draft = drafter.draft(ids, k, sampling, generator) if k > 0 else Draft(tokens=[])
    drafted: List[int] = []
    for t in draft.tokens[:k]:                                               # ids the target cannot embed end it
        if not 0 <= int(t) < vocab_size:
            break
        drafted.append(int(t))
    if pad is not None and drafted and sampling.greedy and len(drafted) == len(draft.tokens) \
            and hasattr(drafter, "extend"):
        want = pad(len(drafted))
        if want > len(drafted):
            for t in drafter.extend(ids + drafted, want - len(drafted)):
                if not 0 <= int(t) < vocab_size:
                    break
                drafted.append(int(t))
    t1 = time.perf_counter()

    base = kv.cache_length(target_cache)                                     # = len(ids) - 1
    logits = model_forward(target, target_cache, [ids[-1]] + drafted)        # [n+1, V]
    if sampling.greedy:
        n_accepted, next_token = accept_greedy(logits.argmax(dim=-1).tolist(), drafted)
    else:
        p_rows = logits_to_probs(logits, sampling)                           # [n+1, V]
        q_rows = align_vocab(draft.probs, p_rows.shape[-1])                  # [n, V] or None (one-hot q)
        if q_rows is not None:
            q_rows = q_rows[: len(drafted)].float()
        # keep x_i with probability min(1, p(x_i)/q(x_i)); on the first rejection draw the replacement from
        # norm(max(0, p − q)); if all are kept, draw a bonus token from p of the last row.
        n_accepted, next_token = verify_draft(p_rows, q_rows, drafted, generator)
    kv.rollback(target_cache, base + 1 + n_accepted)                        # drop the rejected drafts' K/V
    topk = logits[: n_accepted + 1].topk(top_k, dim=-1).indices.tolist() if top_k > 0 else None
    t2 = time.perf_counter()
    return StepOutcome(drafted=drafted, n_accepted=n_accepted, next_token=next_token,
                       draft_s=t1 - t0, verify_s=t2 - t1, target_topk=topk)


# ---------------------------------------------------------------------------------------------------
# generation loops
# ---------------------------------------------------------------------------------------------------

@dataclass
class _Run:
    """Bookkeeping shared by both loops: the budget, EOS, the emitted tokens and the stats."""

    prompt: List[int]
    max_new_tokens: int
    eos: frozenset
    start: float
    stats: SpecStats = field(default_factory=SpecStats)
    out: List[int] = field(default_factory=list)
    done: bool = False
    cancelled: bool = False

    @property
    def remaining(self) -> int:
        return self.max_new_tokens - len(self.out)

    def emit(self, tokens: List[int]) -> List[int]:
        """Append ``tokens`` up to the budget and the first EOS; returns what was appended."""
        taken: List[int] = []
        for t in tokens:
            if self.remaining <= 0:
                break
            self.out.append(t)
            taken.append(t)
            if t in self.eos:
                self.done = True
                break
        if not self.stats.ttft_s and taken:
            self.stats.ttft_s = time.perf_counter() - self.start
        if self.remaining <= 0:
            self.done = True
        return taken

    def finish(self, strategy: str, model: Any) -> GenerationResult:
        self.stats.new_tokens = len(self.out)
        self.stats.total_s = time.perf_counter() - self.start
        text = model.decode(self.out) if hasattr(model, "decode") else ""
        return GenerationResult(strategy=strategy, token_ids=list(self.out), text=text, stats=self.stats,
                                cancelled=self.cancelled)


def _eos_set(model: Any, eos_token_id: Any) -> frozenset:
    """None → the model's own EOS ids; an int or a list → those ([] disables the EOS stop)."""
    if eos_token_id is None:
        return frozenset(getattr(model, "eos_token_ids", []) or [])
    if isinstance(eos_token_id, int):
        return frozenset([eos_token_id])
    return frozenset(int(i) for i in eos_token_id)


def _check_args(prompt_ids: Sequence[int], max_new_tokens: int, sampling: SamplingConfig) -> List[int]:
    prompt = [int(t) for t in prompt_ids]
    if not prompt:
        raise UsageError("the prompt has no tokens", hint="pass at least one token id (e.g. the BOS token)")
    if max_new_tokens < 0:
        raise UsageError(f"max_new_tokens must be ≥ 0, got {max_new_tokens}")
    validate_sampling(sampling)
    return prompt


def _generator(sampling: SamplingConfig) -> torch.Generator:
    return torch.Generator().manual_seed(int(sampling.seed))


def speculative_generate(
    target: Any,
    drafter: Drafter,
    prompt_ids: Sequence[int],
    *,
    max_new_tokens: int,
    sampling: SamplingConfig,
    k: int = 4,
    adaptive: Any = None,
    eos_token_id: Any = None,
    trace: bool = False,
    should_stop: Optional[Callable[[], bool]] = None,
    pass_costs: Any = None,
) -> GenerationResult:
    """Generate up to ``max_new_tokens`` tokens after ``prompt_ids`` with ``target`` (a ``LoadedModel``),
    drafts from ``drafter``, and ``k`` drafts per step (``adaptive.next_k(k, n_drafted, n_accepted)`` changes
    k after each step when given).

    Stops at EOS (``eos_token_id``: None → the target's own; [] → never), after ``max_new_tokens`` (never
    more), or when ``should_stop()`` returns True (polled between steps). ``trace=True`` fills
    ``result.trace`` with one dict per step: ``accepted``, ``rejected`` (draft ids), ``next`` (the target's
    token; None when an EOS among the accepted drafts ended the generation first), ``kind`` ("bonus" when
    every draft, possibly none, was accepted, else "correction"), ``k``. The emitted tokens are
    accepted + [next] of every step, in order. ``pass_costs`` (a ``passcost.PassCosts``): greedy n-gram drafts
    are extended to the cheapest verify pass size (``passcost.padded_length``), within the budget and
    max(k, 3) + 1 tokens.
    """
    prompt = _check_args(prompt_ids, max_new_tokens, sampling)
    if not 1 <= int(k) <= MAX_K:
        raise UsageError(f"k (drafts per step) must be in 1..{MAX_K}, got {k}")
    k = int(k)
    model = target.model
    vocab_size = target.vocab_size
    eos = _eos_set(target, eos_token_id)
    generator = _generator(sampling)
    run = _Run(prompt=prompt, max_new_tokens=max_new_tokens, eos=eos, start=time.perf_counter())
    result_trace: List[dict] = []
    # n-gram drafters with top_k_filler > 1 also learn the target's top ids (optional hook, engine/ngram.py)
    filler = int(getattr(drafter, "top_k_filler", 1) or 1)
    filler = min(filler, vocab_size) if filler > 1 and hasattr(drafter, "observe_target_topk") else 0

    with torch.inference_mode():
        cache = kv.new_cache(model)
        prefill(model, cache, prompt[:-1])
        drafter.begin(prompt)
        run.stats.prefill_s = time.perf_counter() - run.start
        try:
            ids = list(prompt)
            run.done = run.remaining <= 0
            while not run.done:
                if should_stop is not None and should_stop():
                    run.cancelled = True
                    break
                # each step emits at most k_step + 1 tokens: keep that within the budget
                k_step = max(0, min(k, run.remaining - 1))
                pad = None
                if pass_costs is not None:
                    limit = max(0, min(max(k, 3) + 1, run.remaining - 1))
                    pad = lambda n, _l=limit: padded_length(n, _l, pass_costs)
                step = speculative_decode(model, cache, drafter, ids, k_step, sampling, generator, vocab_size,
                                          top_k=filler, pad=pad)
                run.stats.draft_s += step.draft_s
                run.stats.verify_s += step.verify_s
                run.stats.record_step(k_step, len(step.drafted), step.n_accepted)
                start = len(ids)
                ids.extend(step.new_tokens)
                t0 = time.perf_counter()
                drafter.accept(step.n_accepted, ids)
                if step.target_topk is not None:
                    drafter.observe_target_topk(ids, start, step.target_topk)
                run.stats.draft_s += time.perf_counter() - t0
                taken = run.emit(step.new_tokens)
                if trace:
                    accepted = taken[: step.n_accepted]
                    result_trace.append({
                        "accepted": accepted, "rejected": step.rejected,
                        "next": step.next_token if len(taken) > step.n_accepted else None,
                        "kind": "bonus" if step.n_accepted == len(step.drafted) else "correction",
                        "k": k_step,
                    })
                if adaptive is not None:
                    k = max(1, min(MAX_K, int(adaptive.next_k(k, len(step.drafted), step.n_accepted))))
        finally:
            drafter.end()
    result = run.finish("speculative", target)
    result.trace = result_trace
    return result


def autoregressive_generate(
    model: Any,
    prompt_ids: Sequence[int],
    *,
    max_new_tokens: int,
    sampling: SamplingConfig,
    eos_token_id: Any = None,
    should_stop: Optional[Callable[[], bool]] = None,
    strategy: str = "target",
) -> GenerationResult:
    """Plain decoding with one model (a ``LoadedModel``): the target-only or draft-only baseline.

    Same prefill, same processors and seeded generator, same stop rules and timing as
    ``speculative_generate``; each token is one ``decode_one_token`` step (``stats.steps``, all with 0 drafts;
    its time is ``verify_s``). ``strategy`` labels the result ("target" or "draft").
    """
    prompt = _check_args(prompt_ids, max_new_tokens, sampling)
    net = model.model
    eos = _eos_set(model, eos_token_id)
    generator = _generator(sampling)
    run = _Run(prompt=prompt, max_new_tokens=max_new_tokens, eos=eos, start=time.perf_counter())

    with torch.inference_mode():
        cache = kv.new_cache(net)
        prefill(net, cache, prompt[:-1])
        run.stats.prefill_s = time.perf_counter() - run.start
        last = prompt[-1]
        run.done = run.remaining <= 0
        while not run.done:
            if should_stop is not None and should_stop():
                run.cancelled = True
                break
            t0 = time.perf_counter()
            logits = decode_one_token(net, cache, last)                      # [V]
            if sampling.greedy:
                last = int(logits.argmax())
            else:
                last = sample(logits_to_probs(logits, sampling), generator)
            kv.rollback(cache, kv.cache_length(cache))                       # crop(0): trims sliding layers
            run.stats.verify_s += time.perf_counter() - t0
            run.stats.record_step(0, 0, 0)
            run.emit([last])
    return run.finish(strategy, model)
