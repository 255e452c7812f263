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

The context is the first built-in ``general`` prompt's tokens tiled to ``context`` tokens. Each figure is the
median of ``repeats`` runs after one warm-up run; the range is kept.
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

    def total_steps(self) -> int:
        return self.max_batch + 3                  # load, T(1) + greedy continuation, T(2..), draft step

    def run(self) -> EngineResults:
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
        done = 1
        # T(1) and the greedy continuation every replay drafts from
        self.progress(phase, done, total, "T(1) plain decode")
        continuation, timing = self._plain(target, context)
        if timing is None:
            res.interrupted = True
            return res
        res.t_ms[1] = timing
        res.forward1_ms = self._forward1(target, context)
        sequence = context + continuation
        done += 1
        for b in range(2, self.max_batch + 1):
            if self.should_stop():
                res.interrupted = True
                return res
            self.progress(phase, done, total, f"T({b}) verify step")
            timing = self._verify(target, context, sequence, b, res)
            if timing is None:
                res.interrupted = True
                return res
            res.t_ms[b] = timing
            done += 1
        if self.should_stop():
            res.interrupted = True
            return res
        self.progress(phase, done, total, "draft step")
        res.draft_step = self._draft(target, context)
        if res.draft_step is None:
            res.interrupted = True
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

    def _plain(self, target: Any, context: List[int]) -> Tuple[List[int], Optional[StepTiming]]:
        from draftfinder.engine.speculative import autoregressive_generate

        timing = StepTiming()
        continuation: List[int] = []
        for r in range(1 + self.repeats):
            if r > 0 and self.should_stop():
                break
            out = autoregressive_generate(target, context, max_new_tokens=TOKENS_PER_REQUEST + 1,
                                          sampling=self._sampling(), eos_token_id=[])
            continuation = list(out.token_ids)
            if r > 0:                                                    # the first run is the warm-up
                timing.ms.append(out.stats.verify_s * 1000.0 / max(1, out.stats.steps))
        return continuation, (timing if timing.ms else None)

    def _forward1(self, target: Any, context: List[int]) -> float:
        import torch

        from draftfinder.engine.passcost import PassTimer

        with torch.inference_mode():
            timer = PassTimer(target.model, context, context[-2:])
            samples = [timer.seconds(1) * 1000.0 for _ in range(1 + max(5, self.repeats * 3))][1:]
        return statistics.median(samples)

    def _verify(self, target: Any, context: List[int], sequence: List[int], b: int,
                res: EngineResults) -> Optional[StepTiming]:
        from draftfinder.engine.speculative import speculative_generate

        k = b - 1
        steps = max(MIN_STEPS, math.ceil(TOKENS_PER_REQUEST / b))
        timing = StepTiming()
        accepted: List[float] = []
        for r in range(1 + self.repeats):
            if r > 0 and self.should_stop():
                break
            out = speculative_generate(target, ReplayDrafter(sequence), context, max_new_tokens=steps * b,
                                       sampling=self._sampling(), k=k, eos_token_id=[])
            s = out.stats
            if r == 0:
                continue
            if not s.steps or any(d != k for d in s.drafted_history):
                timing.dropped += 1
                continue
            timing.ms.append(s.verify_s * 1000.0 / s.steps)
            accepted.append(s.accepted / s.drafted if s.drafted else 0.0)
        if timing.dropped:
            res.notes.append(f"T({b}): {timing.dropped} run(s) dropped (a step drafted fewer than {k})")
        if accepted:
            timing.drafted_per_step = float(k)
            timing.accepted_per_drafted = statistics.median(accepted)
        return timing if timing.ms else None

    def _draft(self, target: Any, context: List[int]) -> Optional[StepTiming]:
        from draftfinder.engine.drafters import ModelDrafter
        from draftfinder.engine.speculative import speculative_generate

        timing = StepTiming()
        for r in range(1 + self.repeats):
            if r > 0 and self.should_stop():
                break
            out = speculative_generate(target, ModelDrafter(target), context,
                                       max_new_tokens=MIN_STEPS * 4 * (DRAFT_K + 1), sampling=self._sampling(),
                                       k=DRAFT_K, eos_token_id=[])
            if r > 0 and out.stats.drafted:
                timing.ms.append(out.stats.draft_s * 1000.0 / out.stats.drafted)
        return timing if timing.ms else None


def _format_name(dtype: Any) -> str:
    text = str(dtype).replace("torch.", "")
    return {"float32": "fp32", "float16": "fp16", "bfloat16": "bf16"}.get(text, text)
