"""The one interface every sweep backend implements: open a (target, draft, K) cell, generate, close.

A backend turns a config entry into a running thing (an in-process model, a ``llama-server`` it started, a
remote OpenAI-compatible endpoint) and answers one request at a time with a :class:`Generation`. The sweep
runner (``sweep/runner.py``) owns repetitions, prompts, aggregation, results and charts; backends own only
how one request is served and timed.

Timing fields, the same for every backend:

- ``total_s``: wall time of the request as the client sees it (send → last token);
- ``ttft_s``: time to first token (streamed backends, our engine); None when the backend cannot tell;
- ``prompt_s``: time spent on the prompt (prefill) when the backend reports it (our engine's prefill,
  llama-server's ``timings.prompt_ms``), else None;
- ``tps``: generated tokens per second of generation time, the figure draftbench reports: llama-server's own
  ``timings.predicted_per_second`` when present; otherwise ``tokens / (total_s − prompt_s)``, with ``ttft_s``
  standing in for ``prompt_s`` on streamed servers (``tps_source`` says which).

Acceptance: ``drafted`` / ``accepted`` are the engine's own counts of draft tokens proposed / accepted (our
engine's stats, llama-server's ``draft_n`` / ``draft_n_accepted``, HF's candidate counts, vLLM's
``spec_decode`` counters); None when the backend does not expose them. ``speculative`` is True when the
backend proves it drafted (draft counts present), False when it proves it did not (a llama-server that loaded
a draft but reports no draft fields), None when it cannot tell.
"""

from __future__ import annotations

import atexit
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Dict, List, Optional, Protocol

from draftfinder.measure.prompts import Prompt
from draftfinder.sweep.config import Entry, Settings


@dataclass
class Generation:
    """One request's outcome."""

    tokens: int                          # generated tokens
    total_s: float
    tps: float
    tps_source: str                      # "server" | "tokens/(total-prompt)" | "tokens/(total-ttft)" | "tokens/total"
    ttft_s: Optional[float] = None
    prompt_s: Optional[float] = None
    prompt_tokens: Optional[int] = None
    drafted: Optional[int] = None
    accepted: Optional[int] = None
    speculative: Optional[bool] = None
    text: str = ""
    token_ids: Optional[List[int]] = None
    extra: Dict[str, Any] = field(default_factory=dict)   # backend-specific raw figures (e.g. llama timings)

    def to_dict(self, *, with_text: bool = True) -> Dict[str, Any]:
        d = asdict(self)
        if not with_text:
            d.pop("text", None)
            d.pop("token_ids", None)
        return d


def decode_tps(tokens: int, total_s: float, prompt_s: Optional[float], ttft_s: Optional[float] = None):
    """``(tps, tps_source)`` from client-side timings (see module doc)."""
    if prompt_s is not None and total_s - prompt_s > 0:
        return tokens / (total_s - prompt_s), "tokens/(total-prompt)"
    if ttft_s is not None and total_s - ttft_s > 0 and tokens > 1:
        return (tokens - 1) / (total_s - ttft_s), "tokens/(total-ttft)"
    return (tokens / total_s if total_s > 0 else 0.0), "tokens/total"


class Session(Protocol):
    """A cell's live backend: generate, then close (idempotent).

    Server sessions (llama-server, OpenAI-compatible, vLLM, SGLang, LM Studio) must allow :meth:`generate` to be
    called from several threads at once: a level of ``settings.concurrency`` (:mod:`draftfinder.sweep.concurrency`)
    sends N simultaneous requests through one session, each on its own connection. An optional
    ``spec_counters() -> {"drafted", "accepted"} | None`` gives server-wide cumulative draft counters (vLLM's
    ``/metrics``); the concurrency driver differences them over a level when requests cannot carry their own."""

    command: Optional[List[str]]         # the exact command / call that serves this cell (recorded in results)

    def generate(self, prompt: Prompt, settings: Settings) -> Generation: ...

    def close(self) -> None: ...


class Backend(Protocol):
    name: str

    def open(self, target: Entry, draft: Optional[Entry], k: Optional[int], settings: Settings) -> Session:
        """Start serving ``target`` (with ``draft`` and ``k`` drafts per step; None, None = baseline) for
        ``max(settings.concurrency)`` simultaneous streams (a server backend sizes its slots / batch for them,
        e.g. llama-server ``-np N``; the sweep passes one level at a time)."""

    def describe(self) -> Dict[str, Any]:
        """Versions and the backend's own settings, recorded in the results file."""


class InProcessBackend:
    """Shared part of the backends that run models in this process (``engine``, ``hf``): torch threads from
    ``settings.threads`` (or ``options["threads"]``; unset: ``engine.threads.default_threads``, the idle
    physical cores minus one, at least 1), the device and dtype from ``settings.device`` / ``settings.dtype``
    (``engine/device.py``; an absent device fails the sweep before any cell, in one line), and the versions
    recorded in the results."""

    name = ""

    def __init__(self, cfg: Any, options: Dict[str, Any]):
        from draftfinder.engine.threads import apply_threads

        from draftfinder.engine.device import resolve

        self.cfg, self.options = cfg, options
        self.place = resolve(getattr(cfg.settings, "device", "auto"), getattr(cfg.settings, "dtype", "auto"),
                             device_flag="settings.device", dtype_flag="settings.dtype")
        apply_threads(cfg.settings.threads or options.get("threads"))

    def describe(self) -> Dict[str, Any]:
        import torch
        import transformers

        return {"backend": self.name, "torch": torch.__version__, "transformers": transformers.__version__,
                "torch_threads": torch.get_num_threads(), **self.place.to_dict()}

    def load_kwargs(self) -> Dict[str, Any]:
        """``load_model`` keywords of the resolved device and dtype."""
        from draftfinder.engine.device import load_kwargs

        return load_kwargs(self.place)


def close_quietly(session: Any) -> None:
    """Close a cell's session (None: nothing opened) on the way out of a cell, whatever happened in it."""
    if session is not None:
        try:
            session.close()
        except Exception:
            pass


def close_at_exit(live: Any, close: Callable[[Any], None] = close_quietly) -> None:
    """At interpreter exit, ``close`` every object still in ``live`` (a set or list the backend keeps of the
    servers it started), errors ignored: a dropped, unclosed server is still stopped."""
    def _close_all() -> None:
        for obj in list(live):
            try:
                close(obj)
            except Exception:
                pass

    atexit.register(_close_all)
