"""engine/static_cache.py: capacities, rollback by length, growth (no model needed)."""

from __future__ import annotations

import pytest
import torch

from draftfinder.engine.static_cache import CAPACITY_STEP, StaticKVCache, round_capacity
from draftfinder.errors import CacheRollbackError


def test_round_capacity_is_a_multiple_of_the_step():
    assert round_capacity(0) == CAPACITY_STEP
    assert round_capacity(1) == CAPACITY_STEP
    assert round_capacity(CAPACITY_STEP) == CAPACITY_STEP
    assert round_capacity(CAPACITY_STEP + 1) == 2 * CAPACITY_STEP


def test_rollback_lowers_the_length_and_refuses_to_grow_it():
    kv = StaticKVCache(2, 1, 4, dtype=torch.float32, device="cpu")
    kv.length = 10
    kv.rollback(7)
    assert kv.get_seq_length() == 7
    kv.rollback(7)                                      # removing nothing is allowed
    with pytest.raises(CacheRollbackError):
        kv.rollback(8)                                  # stale rows past the length are not valid again
    with pytest.raises(CacheRollbackError):
        kv.rollback(-1)


def test_ensure_grows_in_steps_and_keeps_the_valid_prefix():
    kv = StaticKVCache(2, 1, 4, dtype=torch.float32, device="cpu", capacity=10)
    assert kv.capacity == CAPACITY_STEP
    for i in range(2):
        kv.keys[i][:, :, :5] = float(i + 1)
        kv.values[i][:, :, :5] = float(i + 3)
    kv.length = 5
    assert not kv.ensure(CAPACITY_STEP)
    assert kv.ensure(CAPACITY_STEP + 3)
    assert kv.capacity == 2 * CAPACITY_STEP and kv.keys[0].shape[2] == 2 * CAPACITY_STEP
    assert kv.length == 5
    for i in range(2):
        assert torch.all(kv.keys[i][:, :, :5] == i + 1) and torch.all(kv.values[i][:, :, :5] == i + 3)
