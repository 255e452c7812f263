"""The one place where find, estimate and the concurrency table call the latency model with a
:class:`~draftfinder.predict.devices.Device` and an engine.

- :func:`step_ms` is :func:`draftfinder.predict.latency.step_ms`: one pass of ``n_tokens`` new tokens for each of
  ``batch`` sequences at ``ctx`` tokens of context, on the device, with the engine.
- :func:`evaluate` is :meth:`SpeedupEstimator.evaluate` on the device with the engine and context.
"""

from __future__ import annotations

from typing import Any, Optional

from draftfinder.predict import latency


def step_ms(model: Any, n_tokens: int, device: Any, engine: str, *, batch: int = 1, ctx: int = 0) -> float:
    """One forward pass: ``n_tokens`` new tokens for each of ``batch`` sequences, in ms."""
    return latency.step_ms(model, n_tokens, device, engine, batch=batch, ctx=ctx)


def evaluate(target: Any, draft: Any, acceptance: Any, device: Any, engine: str, max_k: int, *, ctx: int = 0,
             **kwargs: Any) -> Any:
    """:meth:`SpeedupEstimator.evaluate` on ``device`` with ``engine`` at ``ctx`` tokens of context."""
    from draftfinder.predict.estimator import SpeedupEstimator

    return SpeedupEstimator.evaluate(target, draft, acceptance, max_k=max_k, device=device, engine=engine, ctx=ctx,
                                     **kwargs)


def engine_note(engine: Optional[str], device: Any = None) -> str:
    """What the estimates are computed with, in a few words (for the report's engine line)."""
    note = f"latency model for {engine} on {getattr(device, 'label', getattr(device, 'name', 'the device'))}"
    if getattr(device, "calibration", None) is not None:
        note += ", with this machine's calibrated step times where the profile has the model"
    return note


__all__ = ["engine_note", "evaluate", "step_ms"]
