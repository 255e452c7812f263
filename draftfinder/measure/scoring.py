"""Stages 1–2: the target's continuations, then teacher-forced scoring of every draft on them (one forward pass
per draft model, the target's own pass read at layer N for layer-skip drafts, a token-by-token replay for
n-gram drafters) and the greedy runs replayed at every K."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence

from draftfinder.engine.base import SamplingConfig, SpecStats
from draftfinder.measure.formulas import SimulatedRun, acceptance_probability, leading_matches, simulate_greedy_windows
from draftfinder.measure.results import MAX_K, Progress


# ---------------------------------------------------------------------------------------------------
# stage 1: the target's continuations
# ---------------------------------------------------------------------------------------------------

@dataclass
class Continuation:
    """A prompt, its token ids and the target's continuation of it (shared by every draft)."""

    prompt_id: str
    prompt_ids: List[int]
    tokens: List[int]
    decode_s: float                      # the target's decode time for it (total − prefill)
    max_new_tokens: Optional[int] = None # the budget it was generated with (< it: the target stopped at EOS)

    @property
    def sequence(self) -> List[int]:
        return self.prompt_ids + self.tokens


def generate_continuations(target: Any, prompts: Sequence[Any], *, max_new_tokens: int, sampling: SamplingConfig,
                           progress: Optional[Progress] = None,
                           should_stop: Optional[Callable[[], bool]] = None) -> List[Continuation]:
    """The target's continuation of each prompt (``autoregressive_generate``, EOS = the target's own).

    Stops early, keeping what is done, when ``should_stop()`` turns True (checked between and within prompts;
    a continuation cut short — neither at the budget nor at an EOS — is dropped).
    """
    from draftfinder.engine.speculative import autoregressive_generate
    from draftfinder.measure.prompts import encode_prompt

    eos = set(getattr(target, "eos_token_ids", []) or [])
    out: List[Continuation] = []
    for n, prompt in enumerate(prompts, 1):
        if should_stop is not None and should_stop():
            break
        if progress:
            progress("generate", n - 1, len(prompts), prompt.id)
        ids = encode_prompt(target.tokenizer, prompt)
        result = autoregressive_generate(target, ids, max_new_tokens=max_new_tokens, sampling=sampling,
                                         should_stop=should_stop)
        complete = len(result.token_ids) >= max_new_tokens or (result.token_ids and result.token_ids[-1] in eos)
        if not complete:
            break
        if result.token_ids:
            out.append(Continuation(prompt.id, ids, list(result.token_ids),
                                    result.stats.total_s - result.stats.prefill_s, max_new_tokens))
    if progress:
        progress("generate", len(prompts), len(prompts), "done")
    return out



# ---------------------------------------------------------------------------------------------------
# stage 2: teacher-forced scoring
# ---------------------------------------------------------------------------------------------------

def draft_kind(spec: str) -> str:
    """``ngram…`` → ngram, ``layerskip:N`` → layerskip, ``eagle3:DIR`` or an EAGLE-3 folder → eagle3, anything
    else → model. An EAGLE-3 head is scored like an n-gram drafter, through its real lifecycle (its drafts 2..K
    read its own outputs, so a teacher-forced match vector would not describe them)."""
    head = spec.strip().split(":", 1)[0]
    if head in ("ngram", "layerskip"):
        return head
    from draftfinder.engine.drafter_specs import parse_drafter_spec

    return "eagle3" if head == "eagle3" or parse_drafter_spec(spec).kind == "eagle3" else "model"


@dataclass
class DraftTrace:
    """One draft on one continuation: per-position agreement and β, and the greedy runs at every K."""

    prompt_id: str
    prompt_tokens: int
    proposed: List[bool]                 # the draft proposed a token at the position
    agree: List[bool]                    # … and it was the target's token
    beta: List[float]                    # Σ min(p, q) (0 where nothing was proposed)
    runs: Dict[int, SimulatedRun] = field(default_factory=dict)   # greedy only
    target_argmax_mismatches: Optional[int] = None
    score_s: float = 0.0                 # wall time of this draft's scoring (its share of the target pass included)


class _Scorer:
    """Per-draft state for scoring: the drafter (n-gram / for timing), or the draft model."""

    def __init__(self, spec: str, target: Any, resolver: Any = None, place: Any = None):
        from draftfinder.engine.drafters import make_drafter

        self.spec = spec.strip()
        self.kind = draft_kind(self.spec)
        extra = {"resolver": resolver} if self.kind == "model" else {}
        if self.kind == "model" and place is not None:       # a draft model goes beside the target
            extra.update(dtype=place.dtype, device=str(target.device))
        self.drafter = make_drafter(self.spec, target, **extra)
        self.name = getattr(self.drafter, "name", self.spec)
        self.n_layers = getattr(self.drafter, "n_layers", None)
        self.draft_model = self.drafter.model if self.kind == "model" else None
        loaded = getattr(self.drafter, "loaded", None)
        record = getattr(loaded, "record", None) if self.kind == "model" else None
        self.draft_id = (record.model_id if record is not None else self.spec) if self.kind == "model" else self.name

    def fresh(self, target: Any) -> Any:
        """A new drafter of the same spec (n-gram replays start from an empty storage for every K)."""
        from draftfinder.engine.drafters import make_drafter

        return make_drafter(self.spec, target) if self.kind == "ngram" else self.drafter


def _fit_vocab(logits: Any, width: int) -> Any:
    """Cut or pad (−inf) logits [N, V'] to the target's width V (as ``ModelDrafter._fit`` does)."""
    import torch

    if logits.shape[-1] == width:
        return logits
    if logits.shape[-1] > width:
        return logits[..., :width]
    pad = torch.full((*logits.shape[:-1], width - logits.shape[-1]), float("-inf"), dtype=logits.dtype,
                     device=logits.device)
    return torch.cat([logits, pad], dim=-1)


def _head(model: Any, hidden: Any, *, normed: bool) -> Any:
    """LM head over hidden states [N, H] → logits [N, V]: final norm (unless already applied), ``lm_head``,
    and the final-logit soft-capping of models that have one (Gemma-2), as their own forward does."""
    import torch

    h = hidden if normed else model.model.norm(hidden)
    logits = model.lm_head(h)
    cap = getattr(model.config, "final_logit_softcapping", None)
    if cap:
        logits = torch.tanh(logits / cap) * cap
    return logits


def score_continuation(target: Any, scorers: Sequence[_Scorer], cont: Continuation, *, sampling: SamplingConfig,
                       max_k: int = MAX_K) -> Dict[str, DraftTrace]:
    """Teacher-forced scoring of every draft on one continuation (see the module docstring, points 2–3).

    One target forward (with hidden states when a layer-skip draft or a sampling processor needs them), one
    forward per draft model, a token-by-token replay per n-gram drafter.
    """
    import torch

    from draftfinder.engine.device import input_device, timer
    from draftfinder.engine.sampling import logits_to_probs

    seq = cont.sequence
    start, total = len(cont.prompt_ids), len(cont.tokens)
    rows = slice(start - 1, start - 1 + total)             # logits at these rows predict the continuation
    device = input_device(target.model)
    clock = timer(device)
    x = torch.tensor(cont.tokens, device=device)            # [T]
    width = target.vocab_size
    need_target = sampling.greedy is False or any(s.kind == "layerskip" for s in scorers)
    out: Dict[str, DraftTrace] = {}
    t_start = clock()
    with torch.inference_mode():
        p = hidden = None
        mismatches = None
        if need_target:
            res = target.model.model(input_ids=torch.tensor([seq], device=device), output_hidden_states=True,
                                     use_cache=False)
            hidden = res.hidden_states                                           # L+1 × [1, S, H]
            t_logits = _head(target.model, res.last_hidden_state[0, rows], normed=True)   # [T, V]
            p = logits_to_probs(t_logits, sampling)                              # [T, V]
            if not sampling.greedy:                # sampled text: agreement is with the target's argmax
                x = t_logits.argmax(-1)
            if sampling.greedy:
                mismatches = int((t_logits.argmax(-1) != x).sum())
        shared_s = (clock() - t_start) / max(1, len(scorers))
        for s in scorers:
            t0 = clock()
            if s.kind in ("ngram", "eagle3"):                         # replayed through the drafter's lifecycle
                trace = _score_ngram(target, s, cont, p, sampling, max_k)
            else:
                if s.kind == "layerskip":
                    d_logits = _head(target.model, hidden[s.n_layers][0, rows], normed=False)
                else:
                    d_logits = s.draft_model(input_ids=torch.tensor([seq], device=input_device(s.draft_model)),
                                             use_cache=False).logits[0, rows]
                d_logits = _fit_vocab(d_logits.float().to(device), width)         # [T, V]
                agree = (d_logits.argmax(-1) == x).tolist()
                if sampling.greedy:
                    beta = [1.0 if a else 0.0 for a in agree]
                else:
                    beta = acceptance_probability(p, logits_to_probs(d_logits, sampling)).tolist()
                trace = DraftTrace(cont.prompt_id, start, [True] * total, agree, beta)
                if sampling.greedy:
                    trace.runs = {k: simulate_greedy_windows(agree, k, max_new_tokens=cont.max_new_tokens)
                                  for k in range(1, max_k + 1)}
            trace.target_argmax_mismatches = mismatches
            trace.score_s = shared_s + clock() - t0
            out[s.spec] = trace
    return out


def _score_ngram(target: Any, s: _Scorer, cont: Continuation, p: Any, sampling: SamplingConfig,
                 max_k: int) -> DraftTrace:
    """Replay an n-gram drafter: its proposal at every position, then its real lifecycle at every K (greedy)."""
    import torch

    gen = torch.Generator().manual_seed(int(sampling.seed))
    seq = cont.sequence
    start, total = len(cont.prompt_ids), len(cont.tokens)
    drafter = s.fresh(target)
    drafter.begin(cont.prompt_ids)
    proposed, agree, beta = [], [], []
    for i in range(total):
        tokens = drafter.draft(seq[: start + i], 1, sampling, gen).tokens
        hit = bool(tokens)
        proposed.append(hit)
        target_top = cont.tokens[i] if sampling.greedy else int(p[i].argmax())
        agree.append(hit and tokens[0] == target_top)
        if not hit:
            beta.append(0.0)
        elif sampling.greedy:
            beta.append(1.0 if agree[-1] else 0.0)
        else:
            beta.append(float(p[i, tokens[0]]))
    drafter.end()
    trace = DraftTrace(cont.prompt_id, start, proposed, agree, beta)
    if sampling.greedy:
        trace.runs = {k: replay_drafter(s.fresh(target), cont, k, sampling=sampling) for k in range(1, max_k + 1)}
    return trace


def replay_drafter(drafter: Any, cont: Continuation, k: int, *, sampling: SamplingConfig,
                   max_new_tokens: Optional[int] = None) -> SimulatedRun:
    """A greedy speculative generation of ``cont`` replayed through ``drafter``'s real lifecycle, no model.

    Same loop as ``engine.speculative.speculative_generate`` (budget rule, ``record_step``, ``accept`` with
    the new accepted sequence), with the verify pass replaced by a comparison with the target's greedy tokens
    — which is what that pass returns under greedy decoding. Also times each step's draft + accept calls.
    """
    import torch

    gen = torch.Generator().manual_seed(int(sampling.seed))
    total = len(cont.tokens)
    budget = max_new_tokens or cont.max_new_tokens or total
    stats = SpecStats()
    run = SimulatedRun(stats)
    ids = list(cont.prompt_ids)
    drafter.begin(ids)
    i = 0
    try:
        while i < min(total, budget):
            k_step = max(0, min(k, budget - i - 1))
            t0 = time.perf_counter()
            drafted = [int(t) for t in drafter.draft(ids, k_step, sampling, gen).tokens[:k_step]] if k_step else []
            t1 = time.perf_counter()
            n = leading_matches([d == (cont.tokens[i + j] if i + j < total else None)
                                 for j, d in enumerate(drafted)], 0, len(drafted))
            stats.record_step(k_step, len(drafted), n)
            run.step_drafted.append(len(drafted))
            run.step_accepted.append(n)
            ids.extend(cont.tokens[i: i + n + 1])
            t2 = time.perf_counter()
            drafter.accept(n, ids)
            run.draft_call_s.append((t1 - t0) + (time.perf_counter() - t2))
            i += n + 1
    finally:
        drafter.end()
    stats.new_tokens = min(i, total)
    return run
