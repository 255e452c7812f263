"""What a ``draftfinder chat`` turn produces (:class:`StrategyRun`, :class:`Turn`, :class:`Output`) and the
settings slash commands change (:class:`ChatSettings`). Every number in a turn is measured (wall clock, one run
each, in this process)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from draftfinder.engine.base import GenerationResult, SamplingConfig

DEFAULT_LENGTH = 64

# --- results ------------------------------------------------------------------------------------------

@dataclass
class StrategyRun:
    """One strategy's generation within a turn."""

    strategy: str                     # speculative | ngram | target | draft
    label: str                        # e.g. "speculative (ngram:basic:3)", "target only"
    result: GenerationResult
    k: Optional[int] = None           # initial K (speculative strategies)
    adaptive: bool = False
    cancelled: bool = False           # Ctrl-C stopped it before its budget or EOS

    def to_dict(self) -> Dict[str, Any]:
        return {"strategy": self.strategy, "label": self.label, "k": self.k, "adaptive": self.adaptive,
                "cancelled": self.cancelled, **self.result.to_dict(), "trace": list(self.result.trace)}


@dataclass
class Turn:
    """One prompt through every enabled strategy (same prompt ids, sampling settings and seed)."""

    prompt: str
    prompt_token_ids: List[int]
    chat: bool                        # sent through the chat template
    earlier_turns: int                # conversation turns before this one (chat mode)
    sampling: SamplingConfig
    max_new_tokens: int
    debug: bool = False               # render the token view
    runs: List[StrategyRun] = field(default_factory=list)
    cancelled: bool = False

    @property
    def greedy(self) -> bool:
        return self.sampling.greedy

    def run(self, strategy: str) -> Optional[StrategyRun]:
        return next((r for r in self.runs if r.strategy == strategy), None)

    @property
    def reference(self) -> Optional[StrategyRun]:
        """The run kept as the assistant's answer in chat mode: the target's, else the first."""
        return self.run("target") or (self.runs[0] if self.runs else None)

    def speedups(self) -> List[Tuple[str, str, Optional[float]]]:
        """(run, baseline, measured tokens/s ratio) for every finished run against the target-only run (or,
        without one, against the first run)."""
        done = [r for r in self.runs if not r.cancelled]
        base = self.run("target")
        base = base if base in done else (done[0] if done else None)
        out = []
        for r in done:
            if r is base:
                continue
            a, b = r.result.stats.tokens_per_s, base.result.stats.tokens_per_s
            out.append((r.label, base.label, a / b if a and b else None))
        return out

    def identical(self, run: StrategyRun) -> Optional[bool]:
        """Whether ``run`` produced the target-only run's token ids; None when there is nothing to compare
        (no target run, a draft-only run, a cancelled run)."""
        base = self.run("target")
        if base is None or run is base or run.strategy == "draft" or run.cancelled or base.cancelled:
            return None
        return list(run.result.token_ids) == list(base.result.token_ids)

    def to_dict(self) -> Dict[str, Any]:
        return {"prompt": self.prompt, "prompt_tokens": len(self.prompt_token_ids), "chat": self.chat,
                "earlier_turns": self.earlier_turns, "sampling": dataclasses.asdict(self.sampling),
                "max_new_tokens": self.max_new_tokens, "cancelled": self.cancelled,
                "runs": [r.to_dict() for r in self.runs],
                "speedups": [{"run": a, "baseline": b, "ratio": x, "source": "measured"}
                             for a, b, x in self.speedups()],
                "identical": {r.strategy: self.identical(r) for r in self.runs}}


@dataclass
class Output:
    """What one input line produced: a message, a turn, or the request to quit."""

    message: str = ""
    error: bool = False               # the message is a one-line problem — fix after bad input
    turn: Optional[Turn] = None
    legend: bool = False              # show the token view's legend after the message
    quit: bool = False


@dataclass
class ChatSettings:
    """Everything a slash command can change. ``ngram=None``: on unless the ``--draft`` drafter is n-gram."""

    gamma: int = 4
    length: int = DEFAULT_LENGTH
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    speculative: bool = True
    ngram: Optional[bool] = None
    target: bool = True
    drafter: bool = False
    cache: bool = True                # always: see CACHE_NOTE
    chat: bool = False
    debug: bool = False
    ngram_storage: str = "basic"
    ngram_n: int = 3
    top_k_filler: int = 1
    reset_in_between: bool = True
    adaptive: bool = False

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)


