"""``engine`` backend: draftfinder's own speculative engine, in this process (``draftfinder.engine``).

Models load once per process (``engine.loading.load_model`` caches them), so a sweep over many K pays each
load once. Greedy when ``settings.temperature`` is 0, else multinomial sampling at that temperature with the
Leviathan/Chen rejection step (outputs follow the target's distribution); seeded with ``settings.seed``.
Timings come from the engine's own stats: ``prompt_s`` = prefill, ``ttft_s`` = first emitted token,
``tps`` = tokens / (total − prefill).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional

from draftfinder.measure.prompts import Prompt, encode_prompt
from draftfinder.sweep.config import Entry, Settings
from draftfinder.sweep.backends.base import Generation, InProcessBackend, decode_tps


def sampling_for(settings: Settings) -> Any:
    from draftfinder.engine.base import SamplingConfig

    if settings.temperature == 0:
        return SamplingConfig(processor="greedy", seed=settings.seed)
    return SamplingConfig(processor="multinomial", temperature=settings.temperature, seed=settings.seed)


class EngineSession:
    def __init__(self, target: Any, drafter: Any, k: Optional[int], command: List[str], adaptive: Any = None,
                 warm: Optional[Callable[[List[int]], None]] = None):
        self.target, self.drafter, self.k, self.command, self.adaptive = target, drafter, k, command, adaptive
        self.warm = warm                     # run once on the first prompt's ids, outside the engine's timings

    def generate(self, prompt: Prompt, settings: Settings) -> Generation:
        from draftfinder.engine.speculative import autoregressive_generate, speculative_generate

        ids = encode_prompt(self.target.tokenizer, prompt)
        if self.warm is not None:
            self.warm(ids)
            self.warm = None
        sampling = sampling_for(settings)
        if self.drafter is None:
            r = autoregressive_generate(self.target, ids, max_new_tokens=settings.max_tokens, sampling=sampling)
        else:
            r = speculative_generate(self.target, self.drafter, ids, max_new_tokens=settings.max_tokens,
                                     sampling=sampling, k=int(self.k or 4), adaptive=self.adaptive)
        s = r.stats
        n = len(r.token_ids)
        tps, source = decode_tps(n, s.total_s, s.prefill_s)
        spec = self.drafter is not None
        return Generation(tokens=n, total_s=s.total_s, tps=tps, tps_source=source, ttft_s=s.ttft_s or None,
                          prompt_s=s.prefill_s, prompt_tokens=len(ids),
                          drafted=s.drafted if spec else None, accepted=s.accepted if spec else None,
                          speculative=True if spec else None, text=r.text, token_ids=list(r.token_ids),
                          extra={"steps": s.steps, "draft_s": s.draft_s, "verify_s": s.verify_s})

    def close(self) -> None:
        self.drafter = None


class EngineBackend(InProcessBackend):
    name = "engine"

    def __init__(self, cfg: Any, options: Dict[str, Any]):
        super().__init__(cfg, options)
        self._warmed: set = set()
        self._resolver: Any = None

    def _warm(self, tgt: Any, ids: List[int], settings: Settings) -> None:
        """Once per target, on the first prompt it serves: one forward of every pass size 1 … max K + 1
        (untimed). PyTorch's CPU kernels pay a first-use cost per new input shape; without this the first
        speculative cell of a sweep pays it for all of them (measured here, machine shared: the first n-gram cell at 4.7 tok/s, the next ones at 35–38)."""
        if tgt.name in self._warmed:
            return
        from draftfinder.engine.passcost import calibrate

        calibrate(tgt, ids, max_tokens=max(settings.k) + 1, repeats=1, warmup=0)
        self._warmed.add(tgt.name)

    def open(self, target: Entry, draft: Optional[Entry], k: Optional[int], settings: Settings) -> EngineSession:
        from draftfinder.engine.drafters import make_drafter
        from draftfinder.engine.loading import load_model

        if draft is not None:             # a bad draft fails its cell in seconds, before any weights load
            from draftfinder.engine.drafter_specs import check_drafter_spec
            from draftfinder.models.resolver import Resolver

            self._resolver = self._resolver or Resolver()
            check_drafter_spec(draft.spec, str(target.path), self._resolver)
        tgt = load_model(str(target.path), **self.load_kwargs())
        extra: Dict[str, Any] = {}
        from draftfinder.engine.drafter_specs import parse_drafter_spec

        if draft is not None and parse_drafter_spec(draft.spec).kind == "model":   # a draft model: beside it
            extra = {"dtype": self.place.dtype, "device": str(tgt.device)}
        drafter = make_drafter(draft.spec, tgt, **extra) if draft is not None else None
        adaptive = None
        if draft is not None and draft.adaptive:
            from draftfinder.engine.adaptive import HeuristicK

            adaptive = HeuristicK()
        call = ([f"speculative_generate(target={target.path!r}, drafter={draft.spec!r}, k={k}"
                 + (", adaptive=HeuristicK()" if adaptive else "") + ")"] if draft else
                [f"autoregressive_generate(target={target.path!r})"])
        warm = None if tgt.name in self._warmed else (lambda ids: self._warm(tgt, ids, settings))
        return EngineSession(tgt, drafter, k, call, adaptive, warm)
