"""The K schedules of engine/adaptive.py: transformers' "heuristic" schedule, exactly, plus the clamps."""

from __future__ import annotations

import pytest

from draftfinder.engine.adaptive import FixedK, HeuristicK, make_schedule
from draftfinder.errors import UsageError


def test_heuristic_all_accepted_adds_two():
    s = HeuristicK(k_min=1, k_max=16)
    assert s.next_k(4, 4, 4) == 6
    assert s.next_k(1, 1, 1) == 3


def test_heuristic_any_rejection_subtracts_one():
    s = HeuristicK()
    assert s.next_k(4, 4, 3) == 3
    assert s.next_k(4, 4, 0) == 3
    assert s.next_k(6, 2, 1) == 5          # a short draft (confidence stop) that was partly rejected


def test_all_accepted_is_judged_against_what_was_drafted_not_k():
    # transformers: num_matches == len(scores[0]) - 1 (candidates produced), not num_assistant_tokens
    assert HeuristicK().next_k(8, 3, 3) == 10


def test_nothing_drafted_keeps_k():
    assert HeuristicK().next_k(5, 0, 0) == 5


def test_clamped_to_bounds():
    s = HeuristicK(k_min=2, k_max=7)
    assert s.next_k(6, 6, 6) == 7
    assert s.next_k(7, 7, 7) == 7
    assert s.next_k(2, 2, 0) == 2
    assert s.next_k(1, 0, 0) == 2           # an incoming K outside the bounds is clamped too
    assert s.next_k(30, 5, 1) == 7


def test_sequence_of_steps():
    """A run of steps, as the engine would feed them: 4 → 6 → 8 → 7 → 6 → 8 → 10 → 9."""
    s = HeuristicK(k_max=16)
    k, seen = 4, [4]
    for drafted_accepted in [(4, 4), (6, 6), (8, 2), (7, 0), (6, 6), (8, 8), (10, 9)]:
        k = s.next_k(k, *drafted_accepted)
        seen.append(k)
    assert seen == [4, 6, 8, 7, 6, 8, 10, 9]


def test_fixed_never_changes():
    s = FixedK()
    assert [s.next_k(5, d, a) for d, a in [(5, 5), (5, 0), (0, 0)]] == [5, 5, 5]


def test_bad_arguments():
    with pytest.raises(UsageError):
        HeuristicK(k_min=0)
    with pytest.raises(UsageError):
        HeuristicK(k_min=5, k_max=4)
    with pytest.raises(ValueError):
        HeuristicK().next_k(4, 2, 3)


def test_make_schedule():
    assert isinstance(make_schedule(True), HeuristicK) and isinstance(make_schedule(False), FixedK)
    assert make_schedule(True, k_max=8).k_max == 8
