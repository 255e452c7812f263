"""Pass-size aware verification: on a CPU a longer verify pass can cost *less* than a shorter one.

A target forward over n tokens does not cost a smooth function of n: matrix kernels work in blocks, and on
this machine's CPU (2 cores, torch 2.13, SmolLM2-135M after ~300 cached tokens) the median pass times were

    n tokens   1     2     3     4     5     8     9     12    16    17
    ms         41.2  61.2  78.9  58.6  65.0  73.3  88.1  78.1  91.7  100.1

(``draftfinder measure``, ``target_cost.pass_ms``; Gemma-3-270M shows the same shape). A step that drafted 1
or 2 tokens verifies 2 or 3 tokens, yet 4 would cost less. So when a drafter can propose more tokens for free
(the n-gram drafter: a dict walk), the engine asks it for a few more, up to the cheapest pass size
(:func:`padded_length`): every extra draft token is a free chance of acceptance, and the step gets cheaper.
Outputs are unchanged (extra drafts are verified like any other).

:func:`calibrate` times passes of 1 … ``max_tokens`` tokens once for a loaded model (≈ 1–2 s for SmolLM2).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any, Dict, Sequence

from draftfinder.engine import cache as kv


@dataclass
class PassCosts:
    """Median time of one target forward of n tokens after a KV cache of ``context_tokens`` tokens."""

    ms: Dict[int, float]                  # n tokens -> median ms
    context_tokens: int
    source: str = "measured by passcost.calibrate"
    repeats: int = 0
    notes: Dict[str, Any] = field(default_factory=dict)

    def cost(self, n: int) -> float:
        return self.ms.get(n, float("inf"))


def padded_length(drafted: int, limit: int, costs: PassCosts) -> int:
    """The draft length d' in [drafted, limit] whose verify pass (d' + 1 tokens) costs least; ``drafted`` on
    ties or unknown sizes, and 0 for an empty draft (a 1-token step is always the cheapest)."""
    if drafted <= 0 or limit <= drafted:
        return max(0, drafted)
    best, best_ms = drafted, costs.cost(drafted + 1)
    for d in range(drafted + 1, limit + 1):
        ms = costs.cost(d + 1)
        if ms < best_ms:
            best, best_ms = d, ms
    return best


class PassTimer:
    """Times one target forward of n tokens after a fixed KV cache, exactly as the engine runs it
    (``model_forward`` → all n rows of logits), rolling the cache back after each pass. Use inside
    ``torch.inference_mode()``. Shared by :func:`calibrate` and ``measure.costs.time_target``."""

    def __init__(self, model: Any, context_ids: Sequence[int], feed: Sequence[int]):
        from draftfinder.engine.speculative import prefill

        from draftfinder.engine import fastpath
        from draftfinder.engine.device import input_device, timer

        self.model, self.feed = model, list(feed)
        self.clock = timer(input_device(model))        # synchronises a GPU; perf_counter on the CPU
        self.cache = fastpath.new_cache(model, capacity=len(context_ids) + len(self.feed))   # the engine's path
        prefill(model, self.cache, list(context_ids))
        self.base = kv.cache_length(self.cache)

    def seconds(self, n: int) -> float:
        from draftfinder.engine.speculative import model_forward

        t0 = self.clock()
        model_forward(self.model, self.cache, self.feed[:n])
        elapsed = self.clock() - t0
        kv.rollback(self.cache, self.base)
        return elapsed


def calibrate(target: Any, context_ids: Sequence[int], *, max_tokens: int = 17, repeats: int = 5,
              warmup: int = 1) -> PassCosts:
    """Time target passes of 1 … ``max_tokens`` tokens after prefilling ``context_ids`` (rolled back after each),
    interleaved per round, median over ``repeats`` rounds after ``warmup``. ``target``: a ``LoadedModel``."""
    import torch

    ids = [int(t) for t in context_ids]
    while len(ids) < max_tokens + 2:
        ids = ids + ids
    ctx, feed = ids[: len(ids) - max_tokens], ids[len(ids) - max_tokens:]
    samples: Dict[int, list] = {n: [] for n in range(1, max_tokens + 1)}
    with torch.inference_mode():
        timer = PassTimer(target.model, ctx, feed)
        for r in range(warmup + repeats):
            for n in range(1, max_tokens + 1):
                elapsed = timer.seconds(n)
                if r >= warmup:
                    samples[n].append(elapsed * 1000.0)
    return PassCosts(ms={n: statistics.median(v) for n, v in samples.items()}, context_tokens=len(ctx),
                     repeats=repeats)
