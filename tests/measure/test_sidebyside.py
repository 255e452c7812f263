"""draftfinder.measure.sidebyside: the one side-by-side timing loop (measure --verify and the benches), run on the
real engine with the zoo SmolLM2. Times are never asserted (they are the machine's); the structure is: which
generation ran, how the sums and medians are formed, what is compared."""

from __future__ import annotations

import statistics

import pytest

from draftfinder.engine.base import SamplingConfig
from draftfinder.measure.sidebyside import Run, as_run, side_by_side

GREEDY = SamplingConfig()


@pytest.fixture(scope="module")
def prompts(smollm2):
    from draftfinder.measure.prompts import encode_prompt, load_prompts

    return [(p.id, encode_prompt(smollm2.tokenizer, p)) for p in load_prompts("summarization", limit=2)]


def _engines(smollm2):
    from draftfinder.engine.drafters import make_drafter
    from draftfinder.engine.speculative import autoregressive_generate, speculative_generate

    drafter = make_drafter("ngram:onelevel:3", smollm2)
    base = lambda ids, m: autoregressive_generate(smollm2, ids, max_new_tokens=m, sampling=GREEDY)
    spec = lambda ids, m: speculative_generate(smollm2, drafter, ids, max_new_tokens=m, sampling=GREEDY, k=4)
    return base, spec


@pytest.mark.slow
def test_target_vs_speculative_side_by_side(smollm2, prompts):
    base, spec = _engines(smollm2)
    calls = []
    res = side_by_side(prompts, base, spec, max_new_tokens=12, repeats=2, labels=("target only", "ngram K=4"),
                       progress=lambda done, total, label: calls.append((done, total, label)))
    assert (res.prompts, res.repeats, len(res.rounds), res.stopped) == (2, 2, 2, False)
    assert res.outputs_identical and res.mismatch_prompt_ids == []        # greedy: speculative == target alone
    for r in res.rounds:
        assert r.baseline_tokens == r.candidate_tokens == 24
        assert r.decode_speedup == r.baseline_decode_s / r.candidate_decode_s
        assert r.baseline_decode_s < r.baseline_total_s and r.candidate_decode_s < r.candidate_total_s
    assert res.decode_speedup == statistics.median([r.decode_speedup for r in res.rounds])
    assert res.total_speedup == statistics.median([r.total_speedup for r in res.rounds])
    # the candidate's counters are those of its own first-round runs
    again = [as_run(spec(ids, 12)).stats for _, ids in prompts]
    assert res.candidate_steps == sum(s.steps for s in again)
    assert res.candidate_drafted == sum(s.drafted for s in again)
    assert res.tokens_per_step == 24 / res.candidate_steps
    assert calls[0] == (0, 4, prompts[0][0]) and calls[-1] == (4, 4, "done")
    d = res.to_dict()
    assert d["decode_speedups"] == [r.decode_speedup for r in res.rounds] and d["outputs_identical"] is True


@pytest.mark.slow
def test_mismatches_unknown_prefill_and_stopping(smollm2, prompts):
    base, _ = _engines(smollm2)
    shorter = lambda ids, m: base(ids, m - 1)                  # a real generation that differs from the baseline
    res = side_by_side(prompts, base, shorter, max_new_tokens=6, warmup_tokens=0)
    assert not res.outputs_identical and res.mismatch_prompt_ids == [pid for pid, _ in prompts]
    assert res.rounds[0].candidate_tokens == 10 and res.throughput_ratio is not None

    # a side that cannot tell its prefill (transformers' generate): total-time figures only
    def no_prefill(ids, m):
        run = as_run(base(ids, m))
        return Run(run.token_ids, run.total_s)

    res = side_by_side(prompts[:1], base, no_prefill, max_new_tokens=4, warmup_tokens=0)
    assert res.decode_speedup is None and res.rounds[0].baseline_decode_s is None and res.total_speedup > 0

    # stopped during the second round: the first round is kept whole, the cut one dropped
    polls = iter([False, False, False, True] + [True] * 10)
    res = side_by_side(prompts, base, base, max_new_tokens=4, repeats=3, warmup_tokens=0,
                       should_stop=lambda: next(polls))
    assert res.stopped and res.repeats == 1 and len(res.rounds) == 1 and res.prompts == 2


def test_bad_arguments():
    with pytest.raises(ValueError, match="repeats"):
        side_by_side([("p", [1])], lambda i, m: None, lambda i, m: None, max_new_tokens=2, repeats=0)
    with pytest.raises(ValueError, match="no prompts"):
        side_by_side([], lambda i, m: None, lambda i, m: None, max_new_tokens=2)


@pytest.mark.slow
def test_measure_verify_runs_the_side_by_side_loop():
    """``measure --verify`` reports the loop's figures: speedup = Σ target decode / Σ speculative decode."""
    from draftfinder.measure import measure

    m = measure("zoo:smollm2-135m", ["ngram"], task="summarization", limit=1, max_new_tokens=12, verify=True,
                save=False, timing_repeats=1, timing_ks=[1, 4])[0]
    v = m.verification
    assert v is not None and v.k == m.recommended_k and v.prompts == 1 and v.new_tokens == 12
    assert v.measured_speedup == v.target_decode_s / v.speculative_decode_s
    assert v.outputs_identical is True and v.total_speedup > 0
