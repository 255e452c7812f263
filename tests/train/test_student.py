"""The Student registry and the acceptance arithmetic every student's evaluate uses (train/student.py)."""

import pytest

from draftfinder.errors import UsageError
from draftfinder.train import student as S


def test_chain_acceptance_counts_windows_at_every_start():
    # a = 1 1 0 1: windows start at 0..3
    # j=1: reached 4 (every i), accepted 3 → 0.75
    # j=2: reached where a_i = 1 and i+1 < 4: i = 0, 1 → 2; accepted a_{i+1}=1: i=0 → 1/2
    # j=3: reached where a_i=a_{i+1}=1 and i+2 < 4: i = 0 → 1; accepted a_2 = 0 → 0
    assert S.chain_acceptance([[1, 1, 0, 1]], 3) == [0.75, 0.5, 0.0]
    r = S.eval_from_matches([[1, 1, 0, 1], [0, 0]], 2)
    assert r.acceptance == pytest.approx(3 / 6) and r.tokens == 6
    assert r.per_position == [pytest.approx(3 / 6), pytest.approx(1 / 2)]


def test_all_accepted_gives_ones_and_none_reached_gives_zero():
    assert S.chain_acceptance([[1] * 10], 4) == [1.0] * 4
    assert S.chain_acceptance([[0] * 5], 3) == [0.0, 0.0, 0.0]


def test_leading_ones_is_capped():
    assert S.leading_ones([1, 1, 1, 0, 1], 2) == [2, 2, 1, 0, 1]


def test_registry_unknown_method_is_a_usage_error_and_registration_works():
    with pytest.raises(UsageError, match="not available"):
        S.make_student("nope", None, layers=1, draft_vocab=None, seed=0, data=None)
    made = []

    def factory(target, *, layers, draft_vocab, seed, data):
        made.append((target, layers, draft_vocab, seed, data))
        return "student"

    S.register_student("test-method", factory)
    try:
        assert S.make_student("test-method", "T", layers=2, draft_vocab=8, seed=3, data="D") == "student"
        assert made == [("T", 2, 8, 3, "D")] and "test-method" in S.methods()
    finally:
        S._REGISTRY.pop("test-method")
