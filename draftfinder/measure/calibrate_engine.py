"""Time our PyTorch engine (``draftfinder/engine``) on this machine for ``draftfinder calibrate``: T(b) of its
verify steps, its per-step overhead and its draft step, for one model.

Everything is timed inside the engine's own loops (``engine/speculative.py``), so the figures are what a sweep of
backend ``engine`` pays:

- **T(1)** — plain decoding (``autoregressive_generate``, greedy, EOS ignored) after ``context`` tokens: the
  engine's ``verify_s / steps`` (one ``decode_one_token`` and its argmax per step).
- **T(b), b ≥ 2** — ``speculative_generate`` with K = b − 1 and a *replay drafter* that proposes the next K tokens
  of the model's own greedy continuation (timed once with plain decoding, so drafting costs a list slice): each
  step verifies exactly b tokens — one ``model_forward`` with b rows of logits, the greedy acceptance and the KV
  rollback — and ``stats.verify_s / stats.steps`` is T(b). A run whose steps did not all draft K (the budget cut
  one short) is dropped.
- **per-step overhead** — T(1) minus the bare forward of one token at the same context
  (``engine.passcost.PassTimer``: ``model_forward`` alone): the argmax over the vocabulary and the loop.
- **draft step** — the model drafting for itself (``engine.drafters.ModelDrafter``, K = 4, greedy):
  ``stats.draft_s / stats.drafted`` of ``speculative_generate`` — each drafted token's forward plus the drafter's
  cache bookkeeping, per token.

The context is the first built-in ``general`` prompt's tokens tiled to ``context`` tokens. Configurations are run
in interleaved rounds (a warm-up round, then ``repeats`` timed rounds, each running every configuration once in
a rotating order); each figure is the median over rounds, with the range kept.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

from draftfinder.measure.calibrate_llama import DRAFT_K, MIN_STEPS, TOKENS_PER_REQUEST, Progress, StepTiming


class ReplayDrafter:
    """Proposes the next k tokens of a known sequence (the model's own greedy continuation): free drafts that
    the target accepts, so each verify step has exactly k + 1 tokens."""

    name = "replay"

    def __init__(self, sequence: List[int]):
        self.sequence = list(sequence)

    def begin(self, prompt_ids: List[int]) -> None:
        pass

    def draft(self, context_ids: List[int], k: int, sampling: Any, generator: Any) -> Any:
        from draftfinder.engine.base import Draft

        n = len(context_ids)
        tokens = self.sequence[n: n + k]
        if len(tokens) < k:                       # past the known continuation: repeat its last token
            tokens = tokens + [self.sequence[-1]] * (k - len(tokens))
        return Draft(tokens=[int(t) for t in tokens])

    def accept(self, n_accepted: int, context_ids: List[int]) -> None:
        pass

    def end(self) -> None:
        pass


@dataclass
class EngineResults:
    """What :class:`EngineCalibrator` measured for one model."""

    t_ms: Dict[int, StepTiming] = field(default_factory=dict)
    forward1_ms: Optional[float] = None
    draft_step: Optional[StepTiming] = None
    context_tokens: int = 0
    weight_bytes: float = 0.0
    weight_format: str = ""
    params: int = 0
    notes: List[str] = field(default_factory=list)
    interrupted: bool = False


class EngineCalibrator:
    """Runs the measurements of the module doc for one model loaded by ``engine.loading.load_model``."""

    def __init__(self, name: str, *, threads: int, context_tokens: int, repeats: int, max_batch: int,
                 progress: Optional[Progress] = None, should_stop: Optional[Callable[[], bool]] = None,
                 label: str = "", resolver: Any = None):
        self.name = name
        self.threads, self.context_tokens, self.repeats, self.max_batch = threads, context_tokens, repeats, max_batch
        self.progress = progress or (lambda *a: None)
        self.should_stop = should_stop or (lambda: False)
        self.label = label or name
        self.resolver = resolver

    def configs(self) -> List[Tuple[str, int]]:
        return [("plain", 1)] + [("verify", b) for b in range(2, self.max_batch + 1)] + [("draft", DRAFT_K)]

    def total_steps(self) -> int:
        return 2 + len(self.configs()) * (1 + self.repeats)        # load, continuation, rounds (warm-up + timed)

    def run(self) -> EngineResults:
        """Load, time the greedy continuation every replay drafts from, then interleaved rounds — round 0 a
        warm-up, each later round one run of every configuration in a rotating order (load that comes and goes
        spreads over every b) — and the bare 1-token forward for the overhead."""
        import torch

        from draftfinder.engine.loading import load_model
        from draftfinder.engine.threads import apply_threads

        apply_threads(self.threads)
        total, phase = self.total_steps(), f"engine {self.label}"
        self.progress(phase, 0, total, "loading the model")
        target = load_model(self.name, resolver=self.resolver)
        res = EngineResults(context_tokens=self.context_tokens)
        params = list({id(p): p for p in target.model.parameters()}.values())
        res.params = int(sum(p.numel() for p in params))
        res.weight_bytes = float(sum(p.numel() * p.element_size() for p in params))
        res.weight_format = _format_name(params[0].dtype if params else torch.float32)
        context = self._context(target)
        self.progress(phase, 1, total, "greedy continuation")
        from draftfinder.engine.speculative import autoregressive_generate

        continuation = autoregressive_generate(target, context, max_new_tokens=TOKENS_PER_REQUEST + 1,
                                               sampling=self._sampling(), eos_token_id=[]).token_ids
        sequence = context + list(continuation)
        timings: Dict[Tuple[str, int], StepTiming] = {c: StepTiming() for c in self.configs()}
        done = 2
        for r in range(1 + self.repeats):
            order = self.configs()
            shift = r % len(order)
            for kind, b in order[shift:] + order[:shift]:
                if self.should_stop():
                    res.interrupted = True
                    break
                self.progress(phase, min(done, total - 1), total,
                              f"{'warm-up' if r == 0 else f'round {r}'}: {_name(kind, b)}")
                ms = self._once(target, context, sequence, kind, b)
                t = timings[(kind, b)]
                if ms is None:
                    t.dropped += 1
                else:
                    (t.warmup_ms if r == 0 else t.ms).append(ms)
                done += 1
            if res.interrupted:
                break
        for (kind, b), t in timings.items():
            if t.dropped:
                res.notes.append(f"{_name(kind, b)}: {t.dropped} run(s) dropped (a step drafted fewer than {b - 1})")
            if not t.ms and t.warmup_ms:
                t.ms = list(t.warmup_ms)
                res.notes.append(f"{_name(kind, b)}: interrupted before the timed rounds; the warm-up run is used")
            if not t.ms:
                continue
            if kind == "draft":
                res.draft_step = t
            else:
                res.t_ms[b] = t
        if 1 in res.t_ms and not res.interrupted:
            res.forward1_ms = self._forward1(target, context)
        self.progress(phase, total, total, "done")
        return res

    # --- the measurements -----------------------------------------------------------------------------
    def _context(self, target: Any) -> List[int]:
        from draftfinder.measure.prompts import encode_prompt, load_prompts

        ids = encode_prompt(target.tokenizer, load_prompts("general", limit=1)[0])
        seq = list(ids)
        while len(seq) < self.context_tokens:
            seq += ids
        return seq[: self.context_tokens]

    def _sampling(self) -> Any:
        from draftfinder.engine.base import SamplingConfig

        return SamplingConfig(processor="greedy", seed=0)

    def _once(self, target: Any, context: List[int], sequence: List[int], kind: str, b: int) -> Optional[float]:
        """One run of a configuration; ms per step (per drafted token for ``draft``), None when it does not count."""
        from draftfinder.engine.speculative import autoregressive_generate, speculative_generate

        if kind == "plain":
            s = autoregressive_generate(target, context, max_new_tokens=TOKENS_PER_REQUEST,
                                        sampling=self._sampling(), eos_token_id=[]).stats
            return s.verify_s * 1000.0 / s.steps if s.steps else None
        if kind == "draft":
            from draftfinder.engine.drafters import ModelDrafter

            s = speculative_generate(target, ModelDrafter(target), context, max_new_tokens=MIN_STEPS * 4 * (b + 1),
                                     sampling=self._sampling(), k=b, eos_token_id=[]).stats
            return s.draft_s * 1000.0 / s.drafted if s.drafted else None
        k = b - 1
        steps = max(MIN_STEPS, math.ceil(TOKENS_PER_REQUEST / b))
        s = speculative_generate(target, ReplayDrafter(sequence), context, max_new_tokens=steps * b,
                                 sampling=self._sampling(), k=k, eos_token_id=[]).stats
        if not s.steps or any(d != k for d in s.drafted_history):
            return None
        return s.verify_s * 1000.0 / s.steps

    def _forward1(self, target: Any, context: List[int]) -> float:
        import torch

        from draftfinder.engine.passcost import PassTimer

        with torch.inference_mode():
            timer = PassTimer(target.model, context, context[-2:])
            samples = [timer.seconds(1) * 1000.0 for _ in range(1 + max(5, self.repeats * 3))][1:]
        return statistics.median(samples)


def _name(kind: str, b: int) -> str:
    return {"plain": "T(1)", "verify": f"T({b})", "draft": f"self-draft K={b}"}[kind]


def _format_name(dtype: Any) -> str:
    text = str(dtype).replace("torch.", "")
    return {"float32": "fp32", "float16": "fp16", "bfloat16": "bf16"}.get(text, text)
