"""KV caches that can be rolled back to a shorter sequence, for the target and for draft models.

After a verify pass the target's cache holds keys/values for every draft token, accepted or not; the rejected
ones must go before the next step. This module wraps transformers' ``DynamicCache`` and relies on the semantics
of transformers ≥ 5.18 (read from ``transformers/cache_utils.py`` of 5.18 and 5.24; the package pins
``transformers>=5.18,<6`` for this reason, and :func:`check_transformers` refuses older versions at run time):

- ``DynamicCache.crop(n)`` with a *negative* n drops the last |n| positions; a positive n raises. In 4.x and
  5.0–5.17, ``crop(n)`` meant "keep n positions", so ``crop(0)`` *emptied* the cache. :func:`rollback` never
  calls ``crop(0)`` on the whole cache: when nothing is to be removed it does nothing.
- Sliding-window layers (Gemma-3: 5 of every 6 layers, window 512) keep only the last ``window − 1`` positions.
  Once ``window`` positions have been seen they cannot be cropped unless the cache records its past
  (``Cache.activate_past_recording()``, 5.15+): then ``update`` keeps everything until the next ``crop``, which
  cuts back to the window (and ``update`` returns only the visible window when several forwards run between two
  crops: 5.18+). A rollback that removes positions trims those layers too; after a rollback that removes
  nothing (every draft accepted) they may keep up to :data:`SLIDING_SLACK` extra positions, and are trimmed
  alone (``layer.crop(0)``, the 5.18+ "restrict to the window") once they hold more.
- Recording is switched on *after* the prefill, as transformers' own assisted decoding does: recording during a
  long prefill would keep the whole prompt in every sliding layer. A cache that is never rolled back (the
  target-only baseline) never records and is never cropped.
"""

from __future__ import annotations

from typing import Any, Iterable

from draftfinder.errors import CacheRollbackError, MissingDependencyError

MIN_TRANSFORMERS = (5, 18)   # negative crop, sliding-window past recording with windowed update (see above)
SLIDING_SLACK = 64           # extra positions a recording sliding layer may hold before it is trimmed


def supported_transformers(version: str) -> bool:
    """True when transformers ``version`` ("5.24.0", "4.57.1", "5.18.0.dev0") has the cache semantics above."""
    parts = []
    for piece in version.split(".")[:2]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts) >= MIN_TRANSFORMERS


def check_transformers() -> None:
    """Raise ``MissingDependencyError`` when the installed transformers predates :data:`MIN_TRANSFORMERS`:
    with 4.x semantics every rollback would silently empty the cache and the outputs would be wrong."""
    import transformers

    if not supported_transformers(transformers.__version__):
        need = ".".join(map(str, MIN_TRANSFORMERS))
        raise MissingDependencyError(
            f"transformers>={need}", f"the engine's KV-cache rollback (transformers {transformers.__version__} is "
            f"installed; older versions crop the cache with other semantics)", pip_name=f"'transformers>={need},<6'")


def new_cache(model: Any) -> Any:
    """An empty ``DynamicCache`` laid out for ``model`` (sliding and full layers from its config)."""
    check_transformers()
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

    Removing nothing crops nothing (see the module docstring for sliding layers).
    """
    current = cache_length(cache)
    remove = current - length
    if remove < 0:
        raise CacheRollbackError(f"cannot roll a {current}-position cache forward to {length} positions")
    if remove == 0:
        _trim_sliding(cache.layers)
        return
    try:
        cache.crop(-remove)
    except (RuntimeError, ValueError) as err:
        raise CacheRollbackError(
            f"cannot roll the KV cache back from {current} to {length} positions ({err})",
            hint="call enable_rollback(cache) after the prefill",
        ) from err


def rollback_layers(layers: Iterable[Any], remove: int) -> None:
    """Drop the last ``remove`` positions of some layers of a cache (``cache.layers[i]``), e.g. the first N
    layers that a self-speculative drafter ran ahead of the others. ``remove`` = 0 does nothing."""
    if remove < 0:
        raise CacheRollbackError(f"cannot remove {remove} positions")
    if remove == 0:
        return
    for layer in layers:
        try:
            layer.crop(-remove)
        except (RuntimeError, ValueError) as err:
            raise CacheRollbackError(f"cannot roll a cache layer back by {remove} positions ({err})",
                                     hint="call enable_rollback(cache) after the prefill") from err


def _trim_sliding(layers: Iterable[Any]) -> None:
    """Trim recording sliding-window layers holding more than window − 1 + SLIDING_SLACK positions."""
    for layer in layers:
        window = getattr(layer, "sliding_window", None)
        keys = getattr(layer, "keys", None)
        if not window or not getattr(layer, "record_past", False) or keys is None or keys.dim() < 2:
            continue
        if keys.shape[-2] > window - 1 + SLIDING_SLACK:
            layer.crop(0)
