"""Pass-size aware verification (engine/passcost.py): the padding rule, calibration, and unchanged outputs."""

import pytest

from draftfinder.engine.base import SamplingConfig
from draftfinder.engine.drafters import make_drafter
from draftfinder.engine.passcost import PassCosts, calibrate, padded_length
from draftfinder.engine.speculative import autoregressive_generate, speculative_generate
from tests.enginekit import one_thread, tiny_llama

# the shape measured on this machine (SmolLM2-135M, ms per pass of n tokens; module docstring)
MEASURED = PassCosts(ms={1: 41.2, 2: 61.2, 3: 78.9, 4: 58.6, 5: 65.0, 6: 64.7, 7: 74.8, 8: 73.3, 9: 88.1},
                     context_tokens=300)


@pytest.mark.parametrize("drafted, limit, expected", [
    (0, 8, 0),        # nothing drafted: a 1-token step is the cheapest of all
    (1, 8, 3),        # 2-token pass 61.2 ms → 4-token pass 58.6 ms
    (2, 8, 3),        # 3-token pass 78.9 ms → 58.6 ms
    (3, 8, 3),        # already the cheapest reachable size
    (4, 8, 5),        # 5-token 65.0 → 6-token 64.7 (strictly cheaper)
    (6, 8, 7),        # 7-token 74.8 → 8-token 73.3
    (8, 8, 8),        # at the limit
    (1, 1, 1),        # no room
    (1, 2, 1),        # 3-token pass is dearer than 2: no padding
])
def test_padded_length(drafted, limit, expected):
    assert padded_length(drafted, limit, MEASURED) == expected


def test_unknown_sizes_are_never_chosen():
    costs = PassCosts(ms={1: 10.0, 2: 20.0}, context_tokens=10)
    assert padded_length(1, 8, costs) == 1


@pytest.fixture(scope="module")
def llama():
    with one_thread():
        yield tiny_llama(0)


def test_calibrate_times_every_size(llama):
    with one_thread():
        costs = calibrate(llama, list(range(5, 40)), max_tokens=6, repeats=2)
    assert sorted(costs.ms) == [1, 2, 3, 4, 5, 6] and all(ms > 0 for ms in costs.ms.values())
    assert costs.context_tokens > 0 and costs.repeats == 2


def test_padding_keeps_greedy_output_and_drafts_more(llama):
    """A repetitive prompt: the n-gram drafter has matches; with padding (every pass size but 4 made dear) the
    drafts are longer and the greedy output is still the target's own."""
    prompt = [1] + [5, 6, 7, 8, 9, 10, 11, 12] * 6
    dear = PassCosts(ms={n: (1.0 if n in (1, 4, 8) else 100.0) for n in range(1, 18)}, context_tokens=50)
    greedy = SamplingConfig("greedy")
    with one_thread():
        base = autoregressive_generate(llama, prompt, max_new_tokens=40, sampling=greedy)
        plain = speculative_generate(llama, make_drafter("ngram:onelevel:3", llama), prompt, max_new_tokens=40,
                                     sampling=greedy, k=2)
        padded = speculative_generate(llama, make_drafter("ngram:onelevel:3", llama), prompt, max_new_tokens=40,
                                      sampling=greedy, k=2, pass_costs=dear)
    assert plain.token_ids == base.token_ids == padded.token_ids
    assert padded.stats.drafted > plain.stats.drafted
    assert len(padded.stats.position_drafted) >= 3                   # drafts past K=2 happened


def test_stats_record_what_was_really_drafted_with_padding(llama):
    """Guards the per-step statistics under padding: ``k_history`` says the K asked of the drafter, while
    ``drafted_history`` and ``padded`` say what was really drafted and verified (before, only k was kept and
    a step that verified 3 padded drafts at K = 2 looked like a 2-token window)."""
    prompt = [1] + [5, 6, 7, 8, 9, 10, 11, 12] * 6
    dear = PassCosts(ms={n: (1.0 if n in (1, 4, 8) else 100.0) for n in range(1, 18)}, context_tokens=50)
    with one_thread():
        res = speculative_generate(llama, make_drafter("ngram:onelevel:3", llama), prompt, max_new_tokens=40,
                                   sampling=SamplingConfig("greedy"), k=2, pass_costs=dear, trace=True)
    s = res.stats
    assert len(s.drafted_history) == len(s.k_history) == s.steps
    assert sum(s.drafted_history) == s.drafted
    assert any(d > k for d, k in zip(s.drafted_history, s.k_history))          # padding went past K
    assert s.padded == sum(st["padded"] for st in res.trace) > 0
    assert s.padded == sum(max(0, d - k) for d, k in zip(s.drafted_history, s.k_history))
    assert len(s.position_drafted) == max(s.drafted_history)                   # positions of the padded drafts too
    assert res.to_dict()["stats"]["drafted_history"] == s.drafted_history


class RecordingK:
    """A fixed K that records what the engine tells the schedule after each step."""

    def __init__(self):
        self.calls = []

    def next_k(self, current_k, n_drafted, n_accepted):
        self.calls.append((current_k, n_drafted, n_accepted))
        return current_k


def test_adaptive_k_is_told_about_the_drafters_window_not_the_padding(llama):
    """Guards padding × adaptive K: the schedule judges the K it asked for. A rejected padded extra is a free
    chance that failed, not evidence that K was too large, so it is told n_drafted ≤ K (before, the padded
    count, and transformers' heuristic then shrank K after steps whose own drafts were all accepted)."""
    prompt = [1] + [5, 6, 7, 8, 9, 10, 11, 12] * 6
    dear = PassCosts(ms={n: (1.0 if n in (1, 4, 8) else 100.0) for n in range(1, 18)}, context_tokens=50)
    schedule = RecordingK()
    with one_thread():
        res = speculative_generate(llama, make_drafter("ngram:onelevel:3", llama), prompt, max_new_tokens=40,
                                   sampling=SamplingConfig("greedy"), k=2, pass_costs=dear, adaptive=schedule)
    assert len(schedule.calls) == res.stats.steps
    assert all(0 <= a <= d <= k for k, d, a in schedule.calls), schedule.calls
    assert res.stats.padded > 0                                        # padding did happen


def test_ngram_extend_backs_off():
    from draftfinder.engine.ngram import NGramDrafter

    d = NGramDrafter("onelevel", 3)
    d.begin([1, 2, 3, 4, 2, 9])
    assert d.draft([1, 2, 3, 4, 2, 9, 7], 4).tokens == []          # (9, 7) never seen: onelevel finds nothing
    # the drafter recorded 7 after (2, 9) while syncing; back-off walk: (4,2)→9, (2,9)→7, then (9,7) and (7,) unknown
    assert d.extend([1, 2, 3, 4, 2], 3) == [9, 7]
    assert d.extend([5, 1], 3) == [2, 3, 4]                          # order 2 only: 1→2, then (1,2)→3, (2,3)→4
