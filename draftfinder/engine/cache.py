"""KV caches that can be rolled back to a shorter sequence, for the target and for draft models.

After a verify pass the target's cache holds keys/values for every draft token, accepted or not; the rejected
ones must go before the next step. This module wraps transformers' ``DynamicCache`` (5.x semantics, read from
``transformers/cache_utils.py``):

- ``DynamicCache.crop(n)`` with a *negative* n drops the last |n| positions; a positive n (the old "crop to
  this length") raises in 5.x. ``rollback`` takes a target length and does the arithmetic.
- Sliding-window layers (Gemma-3: 5 of every 6 layers, window 512) keep only the last ``window − 1`` positions.
  Once ``window`` positions have been seen they cannot be cropped unless the cache records its past
  (``Cache.activate_past_recording()``): then ``update`` keeps everything until the next ``crop``, which cuts
  back to the window. So every forward that may be rolled back must be followed by a ``rollback`` (``crop(0)``
  when nothing is rejected), or the sliding layers grow without bound.
- Recording is switched on *after* the prefill, as transformers' own assisted decoding does: recording during a
  long prefill would keep the whole prompt in every sliding layer.
"""

from __future__ import annotations

from typing import Any

from draftfinder.errors import DraftFinderError


class CacheRollbackError(DraftFinderError):
    """Raised when a cache cannot be rolled back to the requested length (an engine bug, not a user error)."""


def new_cache(model: Any) -> Any:
    """An empty ``DynamicCache`` laid out for ``model`` (sliding and full layers from its config)."""
    from transformers import DynamicCache

    return DynamicCache(config=model.config)


def enable_rollback(cache: Any) -> None:
    """Let ``cache`` be cropped past the sliding window from now on (call after the prefill)."""
    if hasattr(cache, "activate_past_recording"):
        cache.activate_past_recording()


def cache_length(cache: Any) -> int:
    """Number of positions the cache has seen (for sliding layers: all of them, not only the window)."""
    return int(cache.get_seq_length())


def rollback(cache: Any, length: int) -> None:
    """Drop cached positions so that exactly ``length`` remain (``length`` ≤ current length).

    Also trims recording sliding-window layers back to their window (``crop(0)`` does only that).
    """
    current = cache_length(cache)
    remove = current - length
    if remove < 0:
        raise CacheRollbackError(f"cannot roll a {current}-position cache forward to {length} positions")
    try:
        cache.crop(-remove)
    except (RuntimeError, ValueError) as err:
        raise CacheRollbackError(
            f"cannot roll the KV cache back from {current} to {length} positions ({err})",
            hint="call enable_rollback(cache) after the prefill",
        ) from err
