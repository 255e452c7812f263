"""Model-free drafting: expected speedup by task, from saved measurements first, then published rows."""

from __future__ import annotations

from draftfinder import measure as M
from draftfinder.methods.model_free import estimate


def test_published_spec_bench_prompt_lookup_by_task():
    """Spec-Bench PLD summarization rows: 2.46 (3090, 7B), 2.66 (A100, 7B), 2.30 (A100, 13B), 1.93 (A100, 33B):
    median 2.38, range 1.93–2.66; translation is where n-gram drafting helps least."""
    e = estimate("ngram", "summarization")
    assert (e.expected_speedup, e.basis) == (2.38, "published")
    spec = {f.task: f for f in e.by_task if "Spec-Bench" in f.source}
    assert (spec["summarization"].low, spec["summarization"].high, spec["summarization"].rows) == (1.93, 2.66, 4)
    assert min(spec.values(), key=lambda f: f.speedup).task == "translation"
    assert estimate("ngram", "general").expected_speedup == 1.6            # Spec-Bench "mixed"


def test_suffix_and_layer_skip_have_no_made_up_number():
    assert estimate("suffix", "general").expected_speedup is None
    e = estimate("layer-skip", "code", "zoo:smollm2-135m")
    assert e.expected_speedup is None and "draftfinder measure zoo:smollm2-135m --draft layerskip:N" in e.basis_detail


def _saved(kind: str, draft_id: str, task: str, speedup: float) -> None:
    machine = M.MachineInfo("test-cpu-2c", "Test CPU", 2, 1, "linux", "3.11", "2.13", "5", "host")
    acc = M.AcceptanceResult(0.5, 0.4, 0.6, 0.5, 0.4, 0.6, positions=100, proposed_positions=60, coverage=0.6,
                             prompts=3, by_context=[])
    ver = M.Verification(k=4, prompts=3, new_tokens=96, target_decode_s=10.0, speculative_decode_s=10.0 / speedup,
                         measured_speedup=speedup, predicted_speedup=None, prediction_method="", observed_acceptance=0.5,
                         observed_accepted_per_drafted=0.4, observed_tokens_per_step=2.0, simulated_tokens_per_step=2.0,
                         outputs_identical=True)
    m = M.Measurement(target_id="zoo:smollm2-135m", draft_id=draft_id, draft_kind=kind, task=task,
                      sampling={"processor": "greedy"}, machine=machine, prompts=3, prompt_ids=["p"],
                      prompts_source="builtin", max_new_tokens=32, generated_tokens=96, acceptance=acc,
                      verification=ver, created_at="2026-12-01T00:00:00+00:00")
    M.save_measurement(m, path=M.measurements_dir() / f"{kind}-{task}.json")


def test_a_saved_measure_of_this_target_comes_first():
    """Guards: find ignored saved `measure` results of n-gram and layer-skip drafts."""
    _saved("ngram", "ngram:onelevel:3", "summarization", 1.83)
    _saved("layerskip", "layerskip:8", "code", 1.21)
    e = estimate("ngram", "summarization", "zoo:smollm2-135m")
    assert (e.expected_speedup, e.basis) == (1.83, "measured")
    assert "draftfinder measure ngram:onelevel:3 on summarization" in e.basis_detail
    ls = estimate("layer-skip", "code", "ZOO:SmolLM2-135M")
    assert (ls.expected_speedup, ls.basis) == (1.21, "measured")
    assert estimate("ngram", "summarization", "another/target").basis == "published"    # not this target's
