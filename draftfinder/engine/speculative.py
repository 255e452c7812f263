"""The decoding loops: target-only / draft-only autoregressive baselines and draft → verify speculative decoding.

Batch size 1, KV caches for the target and the drafter; on the target's device (``engine/device.py``: inputs
go to its input embeddings' device, phases are timed with a clock that synchronises that device). Steps are named as in gpt-fast's ``generate.py``:

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
from typing import Any, Callable, List, Optional, Sequence, Tuple

import torch

from draftfinder.errors import UsageError
from draftfinder.engine import cache as kv
from draftfinder.engine import fastpath
from draftfinder.engine.fastpath import FastCache
from draftfinder.engine.base import MAX_K, Draft, Drafter, GenerationResult, SamplingConfig, SpecStats, validate_sampling
from draftfinder.engine.device import generator_for, input_device, timer
from draftfinder.engine.passcost import padded_length
from draftfinder.engine.sampling import accept_greedy, align_vocab, logits_to_probs, sample, verify_draft


# ---------------------------------------------------------------------------------------------------
# forwards
# ---------------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _forward_params(model_class: type) -> frozenset:
    """Parameter names of ``model_class.forward`` (its decorators keep the signature)."""
    return frozenset(inspect.signature(model_class.forward).parameters)


def cache_kwargs(model: Any, cache: Any) -> dict:
    """``{"cache": cache}`` where the model's forward takes ``cache`` (transformers ≥ 5.24, which deprecates
    ``past_key_values`` for removal in 5.40), else ``{"past_key_values": cache}``; plus ``use_cache``."""
    name = "cache" if "cache" in _forward_params(type(model)) else "past_key_values"
    return {name: cache, "use_cache": True}


def model_forward(model: Any, cache: Any, token_ids: Sequence[int], *, last_only: bool = False,
                  hidden_layers: Sequence[int] = ()) -> Any:
    """Run ``token_ids`` after what ``cache`` holds; returns logits [S, V] (or [1, V] with ``last_only``).

    With ``hidden_layers`` (0-based decoder layers) returns (logits, hidden [S, len(hidden_layers), H]): the
    *outputs* of those layers (transformers' ``hidden_states[l + 1]``), for drafters fed by the target
    (``target_hidden_layers``, EAGLE-3)."""
    if isinstance(cache, FastCache) and not hidden_layers:                  # engine/fastpath.py: static cache
        return cache.forward(token_ids, last_only=last_only)
    input_ids = torch.tensor([list(token_ids)], dtype=torch.long, device=input_device(model))   # [1, S]
    kwargs = {"logits_to_keep": 1} if last_only and "logits_to_keep" in _forward_params(type(model)) else {}
    if hidden_layers:
        kwargs["output_hidden_states"] = True
    out = model(input_ids=input_ids, **cache_kwargs(model, cache), **kwargs)
    logits = out.logits[0, -1:] if last_only else out.logits[0]             # [S, V] or [1, V]
    if not hidden_layers:
        return logits
    hidden = torch.stack([out.hidden_states[int(l) + 1][0].to(logits.device) for l in hidden_layers],
                         dim=1)                                             # [S, n, H] (layers may be on several GPUs)
    return logits, hidden


def prefill(model: Any, cache: Any, token_ids: Sequence[int], *, rollback: bool = True,
            hidden_layers: Sequence[int] = ()) -> Optional[torch.Tensor]:
    """Fill ``cache`` with ``token_ids`` (the prompt minus its last token); then allow rollback, unless
    ``rollback=False`` (a cache that is never rolled back, e.g. the target-only baseline's). With
    ``hidden_layers``, returns those layers' outputs at every prompt position [S, n, H] (see ``model_forward``)."""
    hidden = None
    if token_ids:
        if hidden_layers:
            _, hidden = model_forward(model, cache, token_ids, hidden_layers=hidden_layers)
        else:
            model_forward(model, cache, token_ids, last_only=True)
    if rollback:
        kv.enable_rollback(cache)
    return hidden


def decode_one_token(model: Any, cache: Any, token_id: int) -> torch.Tensor:
    """Feed one token; logits of the next position [V]."""
    return model_forward(model, cache, [token_id])[-1]


# ---------------------------------------------------------------------------------------------------
# one speculative step
# ---------------------------------------------------------------------------------------------------

@dataclass
class StepOutcome:
    """What one draft → verify step produced."""

    drafted: List[int]                    # draft tokens verified: the drafter's x_1..x_d (d ≤ k), then any padding
    n_accepted: int                       # how many of them the target kept
    next_token: int                       # the target's correction (n < d) or bonus (n == d) token
    n_padded: int = 0                     # of ``drafted``, tokens added by pass-size padding (after the drafter's)
    draft_s: float = 0.0
    verify_s: float = 0.0
    target_topk: Optional[List[List[int]]] = None   # [n_accepted+1][top_k] target's best ids per emitted position
    target_hidden: Optional[torch.Tensor] = None    # [n_accepted+1, n, H] the drafter's target layers at the kept
                                                    # positions (last token + accepted drafts), when it asks

    @property
    def accepted(self) -> List[int]:
        return self.drafted[: self.n_accepted]

    @property
    def rejected(self) -> List[int]:
        return self.drafted[self.n_accepted:]

    @property
    def new_tokens(self) -> List[int]:
        return self.accepted + [self.next_token]

    @property
    def n_own(self) -> int:
        """Draft tokens the drafter proposed itself (the window K was asked for), padding excluded."""
        return len(self.drafted) - self.n_padded

    @property
    def n_own_accepted(self) -> int:
        return min(self.n_accepted, self.n_own)


def _split_vocab(tokens: Sequence[int], k: int, vocab_size: int) -> Tuple[List[int], Optional[int]]:
    """(the first ≤ k draft ids the target can embed, the id that ended them if it lies outside 0..V−1)."""
    valid: List[int] = []
    for t in list(tokens)[:k]:
        if not 0 <= int(t) < vocab_size:
            return valid, int(t)
        valid.append(int(t))
    return valid, None


def speculative_decode(target: Any, target_cache: Any, drafter: Drafter, ids: List[int], k: int,
                       sampling: SamplingConfig, generator: torch.Generator, vocab_size: int,
                       top_k: int = 0, pad: Optional[Callable[[int], int]] = None,
                       clock: Callable[[], float] = time.perf_counter) -> StepOutcome:
    """One step: draft up to k tokens after ``ids``, verify them with one target forward, roll caches back.

    ``ids`` is the accepted sequence (prompt + generated); the target cache holds ids[:-1]. On return the
    target cache holds ids + accepted drafts (the new last token, correction or bonus, is not fed yet).
    The drafter is told the new sequence through ``accept`` by the caller. ``top_k`` > 0 also returns the
    target's ``top_k`` most probable ids at each emitted position (for n-gram drafters' ``top_k_filler``).
    ``pad(n)`` → n' ≥ n: when given and the drafter has ``extend``, a non-empty greedy draft of n tokens is
    extended to n' tokens (``engine/passcost.py``: a cheaper verify pass size; n-gram drafters only, free to
    extend); ``StepOutcome.n_padded`` counts the added tokens.

    Draft ids the target does not have (≥ its vocabulary V, e.g. from a draft head padded to more rows): such an
    id x has target probability p(x) = 0, so it is *rejected* at its position, and the draft ends there. Under
    greedy the target's argmax follows; under sampling the replacement is drawn from norm(max(0, p − q)) with q
    the draft's distribution cut to the target's ids (``sampling.verify_draft``'s ``rejected_q``), which keeps
    the output distributed as p (Leviathan et al. 2023, Thm 1). Ending the draft and drawing a plain bonus from
    p instead would bias the output whenever q puts mass beyond V. The id counts as drafted and rejected.

    A drafter that shares the target's KV cache (``bind_target_cache``, e.g. the layer-skip self-drafter) has
    already run its layers for part of the draft: its ``verify_forward`` runs the verify pass, reusing them.
    ``clock``: the phases' clock (``device.timer`` of the target's device; ``perf_counter`` on the CPU).
    """
    base = kv.cache_length(target_cache)                                     # = len(ids) - 1
    t0 = clock()
    draft: Draft = drafter.draft(ids, k, sampling, generator) if k > 0 else Draft(tokens=[])
    drafted, outside = _split_vocab(draft.tokens, k, vocab_size)
    n_padded = 0
    if pad is not None and drafted and outside is None and sampling.greedy and len(drafted) == len(draft.tokens) \
            and hasattr(drafter, "extend"):
        want = pad(len(drafted))
        if want > len(drafted):
            extra, _ = _split_vocab(drafter.extend(ids + drafted, want - len(drafted)), want - len(drafted),
                                    vocab_size)
            drafted += extra
            n_padded = len(extra)
    t1 = clock()

    feed = [ids[-1]] + drafted
    hidden_layers = getattr(drafter, "target_hidden_layers", ())
    hidden = None
    if getattr(drafter, "bound_cache", None) is target_cache:
        logits = drafter.verify_forward(feed)                                # [n+1, V], shared layers reused
    elif hidden_layers:                                                      # EAGLE-3: the verify pass's features
        logits, hidden = model_forward(target, target_cache, feed, hidden_layers=hidden_layers)
    else:
        logits = model_forward(target, target_cache, feed)                   # [n+1, V]
    if sampling.greedy:
        n_accepted, next_token = accept_greedy(logits.argmax(dim=-1).tolist(), drafted)
    else:
        p_rows = logits_to_probs(logits, sampling)                           # [n+1, V]
        q_rows = align_vocab(draft.probs, p_rows.shape[-1])                  # [d, V] or None (one-hot q)
        rejected_q = None
        if q_rows is not None:
            q_rows = q_rows.float().to(p_rows.device)                       # a draft model on its own device
            if outside is not None and q_rows.shape[0] > len(drafted):
                rejected_q = q_rows[len(drafted)]                            # q of the id the target lacks
            q_rows = q_rows[: len(drafted)]
        # keep x_i with probability min(1, p(x_i)/q(x_i)); on the first rejection draw the replacement from
        # norm(max(0, p − q)); if all are kept, draw a bonus token from p of the last row (or, when the draft
        # went on with an id outside the target's vocabulary, reject it: draw from norm(max(0, p − q)) there).
        n_accepted, next_token = verify_draft(p_rows, q_rows, drafted, generator, rejected_q=rejected_q)
    kv.rollback(target_cache, base + 1 + n_accepted)                        # drop the rejected drafts' K/V
    topk = logits[: n_accepted + 1].topk(top_k, dim=-1).indices.tolist() if top_k > 0 else None
    t2 = clock()
    if outside is not None:
        drafted = drafted + [outside]                                        # proposed and rejected
    return StepOutcome(drafted=drafted, n_accepted=n_accepted, next_token=next_token, n_padded=n_padded,
                       draft_s=t1 - t0, verify_s=t2 - t1, target_topk=topk,
                       target_hidden=hidden[: n_accepted + 1] if hidden is not None else None)


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
    clock: Callable[[], float] = time.perf_counter      # device.timer of the model's device
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
            self.stats.ttft_s = self.clock() - self.start
        if self.remaining <= 0:
            self.done = True
        return taken

    def finish(self, strategy: str, model: Any) -> GenerationResult:
        self.stats.new_tokens = len(self.out)
        self.stats.total_s = self.clock() - self.start
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


def _generator(sampling: SamplingConfig, device: Any = "cpu") -> torch.Generator:
    """The run's seeded generator, on the device its distributions live on (``device.generator_for``)."""
    return generator_for(device, sampling.seed)


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
    every draft, possibly none, was accepted, else "correction"), ``k`` (the window asked for), ``padded``.
    The emitted tokens are accepted + [next] of every step, in order. ``pass_costs`` (a
    ``passcost.PassCosts``): greedy n-gram drafts are extended to the cheapest verify pass size
    (``passcost.padded_length``), within the budget and max(k, 3) + 1 tokens. Padded tokens are verified and
    counted like any draft (``stats.drafted``, ``drafted_history``, per-position counts; ``stats.padded``
    says how many), but the adaptive schedule is told only about the drafter's own window (its k):
    a rejected free extra is no evidence that k was too large.
    """
    prompt = _check_args(prompt_ids, max_new_tokens, sampling)
    if not 1 <= int(k) <= MAX_K:
        raise UsageError(f"k (drafts per step) must be in 1..{MAX_K}, got {k}")
    k = int(k)
    model = target.model
    vocab_size = target.vocab_size
    eos = _eos_set(target, eos_token_id)
    device = input_device(model)
    generator = _generator(sampling, device)
    clock = timer(device)
    run = _Run(prompt=prompt, max_new_tokens=max_new_tokens, eos=eos, start=clock(), clock=clock)
    result_trace: List[dict] = []
    # n-gram drafters with top_k_filler > 1 also learn the target's top ids (optional hook, engine/ngram.py)
    filler = int(getattr(drafter, "top_k_filler", 1) or 1)
    filler = min(filler, vocab_size) if filler > 1 and hasattr(drafter, "observe_target_topk") else 0

    # drafters fed by the target's hidden states (EAGLE-3) name the layers; the others pay nothing
    hidden_layers = tuple(getattr(drafter, "target_hidden_layers", ()) or ())

    with torch.inference_mode():
        if hidden_layers or hasattr(drafter, "bind_target_cache"):   # they need transformers' own cache
            cache = kv.new_cache(model)
        else:                                                      # static cache (+ compiled passes) if it can
            cache = fastpath.new_cache(model, capacity=len(prompt) + max_new_tokens + 2 * MAX_K + 2)
        prompt_hidden = prefill(model, cache, prompt[:-1], hidden_layers=hidden_layers)
        if hasattr(drafter, "bind_target_cache"):                # self-speculation: one KV cache for both
            drafter.bind_target_cache(model, cache)
        drafter.begin(prompt)
        if prompt_hidden is not None:
            drafter.observe_target_hidden(prompt, prompt_hidden)
        run.stats.prefill_s = clock() - run.start
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
                                          top_k=filler, pad=pad, clock=clock)
                run.stats.draft_s += step.draft_s
                run.stats.verify_s += step.verify_s
                run.stats.record_step(k_step, len(step.drafted), step.n_accepted, n_padded=step.n_padded)
                start = len(ids)
                ids.extend(step.new_tokens)
                t0 = clock()
                if step.target_hidden is not None:               # before accept: it then has all it needs
                    drafter.observe_target_hidden(ids, step.target_hidden)
                drafter.accept(step.n_accepted, ids)
                if step.target_topk is not None:
                    drafter.observe_target_topk(ids, start, step.target_topk)
                run.stats.draft_s += clock() - t0
                taken = run.emit(step.new_tokens)
                if trace:
                    accepted = taken[: step.n_accepted]
                    result_trace.append({
                        "accepted": accepted, "rejected": step.rejected,
                        "next": step.next_token if len(taken) > step.n_accepted else None,
                        "kind": "bonus" if step.n_accepted == len(step.drafted) else "correction",
                        "k": k_step, "padded": step.n_padded,
                    })
                if adaptive is not None:     # judged on the window K asked for: padding is a free extra
                    k = max(1, min(MAX_K, int(adaptive.next_k(k, step.n_own, step.n_own_accepted))))
        finally:
            drafter.end()
    run.stats.decode_path = fastpath.cache_path(cache)      # after the loop: a failed compile ran eagerly
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
    device = input_device(net)
    generator = _generator(sampling, device)
    clock = timer(device)
    run = _Run(prompt=prompt, max_new_tokens=max_new_tokens, eos=eos, start=clock(), clock=clock)

    with torch.inference_mode():
        cache = fastpath.new_cache(net, capacity=len(prompt) + max_new_tokens + 1)   # static if it can
        prefill(net, cache, prompt[:-1], rollback=False)                      # never rolled back, never cropped
        run.stats.prefill_s = clock() - run.start
        last = prompt[-1]
        run.done = run.remaining <= 0
        while not run.done:
            if should_stop is not None and should_stop():
                run.cancelled = True
                break
            t0 = clock()
            logits = decode_one_token(net, cache, last)                      # [V]
            if sampling.greedy:
                last = int(logits.argmax())
            else:
                last = sample(logits_to_probs(logits, sampling), generator)
            run.stats.verify_s += clock() - t0
            run.stats.record_step(0, 0, 0)
            run.emit([last])
    run.stats.decode_path = fastpath.cache_path(cache)          # after the loop: a failed compile ran eagerly
    return run.finish(strategy, model)
