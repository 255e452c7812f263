"""A preallocated KV cache rolled back by length, for the fast decode path (``engine/fastpath.py``).

transformers' ``DynamicCache`` concatenates every layer's keys and values with the new ones at each forward
(``torch.cat``: a fresh [1, H_kv, L + S, D] tensor per layer, twice), which on SmolLM2-135M after 300 tokens
took 8.5 of 71 ms per decode step at 1 thread (``bench/results/engine_vs_hf_*.json``, ``profile``). Here each
layer owns one buffer of ``capacity`` positions, written in place; the first ``length`` positions are valid.

Rollback (the speculative verify pass wrote K/V for drafts that were then rejected) only lowers ``length``:
the stale rows stay in the buffer, are never read (attention reads ``[:length]`` or masks positions ≥ the
query's own) and are overwritten by the next forward. Unlike transformers' sliding-window layers, every layer
keeps the whole history (sliding-window layers are masked to their window instead), so any rollback is exact.

When a forward needs more than ``capacity`` positions the buffers are reallocated to the next multiple of
:data:`CAPACITY_STEP` (a new capacity means a new compiled graph, so it grows in large steps).
"""

from __future__ import annotations

from typing import Any, List

from draftfinder.errors import CacheRollbackError

CAPACITY_STEP = 256     # positions: capacities are multiples of this (few distinct compiled shapes)


def round_capacity(needed: int) -> int:
    """The smallest multiple of :data:`CAPACITY_STEP` ≥ ``needed`` (at least one step)."""
    return max(1, -(-int(needed) // CAPACITY_STEP)) * CAPACITY_STEP


class StaticKVCache:
    """Per-layer key/value buffers [1, H_kv, capacity, D] of which the first ``length`` positions are valid."""

    def __init__(self, n_layers: int, n_kv_heads: int, head_dim: int, *, dtype: Any, device: Any,
                 capacity: int = CAPACITY_STEP):
        import torch

        self.n_layers, self.n_kv_heads, self.head_dim = int(n_layers), int(n_kv_heads), int(head_dim)
        self.dtype, self.device = dtype, device
        self.capacity = round_capacity(capacity)
        shape = (1, self.n_kv_heads, self.capacity, self.head_dim)
        self.keys: List[Any] = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(self.n_layers)]
        self.values: List[Any] = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(self.n_layers)]
        self.length = 0
        self.marked_capacity = None     # the capacity fastpath last marked dynamic for torch.compile

    def ensure(self, needed: int) -> bool:
        """Make room for ``needed`` positions in all; True when the buffers were reallocated (copied over)."""
        if needed <= self.capacity:
            return False
        import torch

        capacity = round_capacity(needed)
        shape = (1, self.n_kv_heads, capacity, self.head_dim)
        for store in (self.keys, self.values):
            for i, old in enumerate(store):
                new = torch.zeros(shape, dtype=self.dtype, device=self.device)
                new[:, :, : self.length].copy_(old[:, :, : self.length])
                store[i] = new
        self.capacity = capacity
        return True

    def rollback(self, length: int) -> None:
        """Keep the first ``length`` positions (≤ the current length); the rest are overwritten later."""
        length = int(length)
        if length < 0 or length > self.length:
            raise CacheRollbackError(f"cannot roll a {self.length}-position cache to {length} positions")
        self.length = length

    def get_seq_length(self) -> int:
        """Positions held (the ``DynamicCache`` name, so ``cache.cache_length`` works on both)."""
        return self.length
