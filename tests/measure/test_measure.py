"""draftfinder.measure: the window replay, β = Σ min(p, q), intervals, storage, and teacher forcing vs real runs."""

from __future__ import annotations

import random

import pytest
import torch

from draftfinder.predict import speedup as est
from draftfinder import measure as M
from draftfinder.predict.acceptance import AcceptanceEstimate
from draftfinder.constants import ESTIMATED, MEASURED
from draftfinder.engine.base import SamplingConfig


# --- the greedy window replay on hand-made match vectors ------------------------------------------------

def test_simulate_greedy_windows_by_hand():
    #          0  1  2  3  4  5  6  7  8  9
    match = [1, 1, 0, 1, 1, 1, 0, 0, 1, 1]
    run = M.simulate_greedy_windows([bool(x) for x in match], 2)
    s = run.stats
    # windows: [0,1]✓✓ +bonus → i=3; [3,4]✓✓ +bonus → 6; [6]✗ → 7; [7]✗ → 8; budget leaves k'=1: [8]✓ +bonus → 10
    assert s.steps == 5 and s.new_tokens == 10
    assert s.k_history == [2, 2, 2, 2, 1] and run.step_drafted == [2, 2, 2, 2, 1]
    assert (s.drafted, s.accepted) == (9, 5)
    assert s.accepted_hist == {2: 2, 0: 2, 1: 1}
    assert s.position_drafted == [5, 2] and s.position_accepted == [3, 2]
    assert s.tokens_per_step == 2.0


def test_simulate_all_accepted_gives_k_plus_one_and_all_rejected_gives_one():
    assert M.simulate_greedy_windows([True] * 10, 4).stats.steps == 2            # 5 + 5 tokens
    ones = M.simulate_greedy_windows([True] * 100, 9).stats
    assert ones.tokens_per_step == 10.0
    zeros = M.simulate_greedy_windows([False] * 17, 5).stats
    assert zeros.steps == 17 and zeros.accepted == 0 and zeros.position_drafted == [16, 0, 0, 0, 0]   # as SpecStats counts


def test_simulate_stops_at_the_end_of_the_continuation_eos():
    run = M.simulate_greedy_windows([True, True], 4, max_new_tokens=10)    # the target stopped after 2 tokens
    assert run.stats.steps == 1 and run.stats.new_tokens == 2 and run.stats.accepted == 2


def test_expected_run_equals_the_replay_for_zero_one_acceptance():
    rng = random.Random(7)
    for _ in range(200):
        match = [rng.random() < 0.6 for _ in range(rng.randint(1, 40))]
        k = rng.randint(1, 16)
        s = M.simulate_greedy_windows(match, k).stats
        steps, reached, accepted = M.expected_run([float(m) for m in match], k)
        assert (steps, reached, accepted) == pytest.approx((s.steps, sum(s.position_drafted), s.accepted))


def test_expected_steps_with_constant_beta_is_leviathan_eq1():
    alpha, k, n = 0.7, 4, 20_000
    tokens_per_step = n / M.expected_generation_steps([alpha] * n, k)
    assert tokens_per_step == pytest.approx(est.expected_tokens_per_step(alpha, k), rel=2e-3)   # 2.7731


# --- β = Σ min(p, q) --------------------------------------------------------------------------------

def test_acceptance_probability_on_hand_made_distributions():
    p = torch.tensor([[0.5, 0.3, 0.2], [0.5, 0.3, 0.2], [0.5, 0.3, 0.2], [1.0, 0.0, 0.0]])
    q = torch.tensor([[0.2, 0.5, 0.3], [0.5, 0.3, 0.2], [0.0, 0.0, 1.0], [0.6, 0.4, 0.0]])
    beta = M.acceptance_probability(p, q)
    # 0.2+0.3+0.2; identical → 1; one-hot q on token 2 → p(2); 0.6+0+0
    assert beta.tolist() == pytest.approx([0.7, 1.0, 0.2, 0.6])
    # β is 1 − total variation distance (Leviathan et al. 2023, Corollary 3.6: 1 − D_LK)
    tv = 0.5 * (p - q).abs().sum(-1)
    assert (beta + tv).tolist() == pytest.approx([1.0] * 4)


def test_acceptance_probability_is_the_rate_of_speculative_sampling():
    """Monte Carlo: keeping x ~ q with probability min(1, p(x)/q(x)) accepts with probability Σ min(p, q)."""
    from draftfinder.engine.sampling import verify_draft

    p = torch.tensor([0.6, 0.25, 0.1, 0.05])
    q = torch.tensor([0.1, 0.2, 0.3, 0.4])
    gen = torch.Generator().manual_seed(3)
    n, kept = 4000, 0
    for _ in range(n):
        x = int(torch.multinomial(q, 1, generator=gen))
        accepted, _ = verify_draft(torch.stack([p, p]), q[None], [x], gen)
        kept += accepted
    assert kept / n == pytest.approx(float(M.acceptance_probability(p, q)), abs=0.025)   # 0.4


# --- intervals and interpolation ------------------------------------------------------------------------

def test_bootstrap_interval_brackets_the_estimate_and_is_seeded():
    num, den = [3, 8, 1, 6, 5, 7], [10, 10, 10, 10, 10, 10]
    lo, hi = M.bootstrap_ratio_ci(num, den)
    assert lo < sum(num) / sum(den) < hi
    assert (lo, hi) == M.bootstrap_ratio_ci(num, den)
    assert M.bootstrap_ratio_ci([4, 4], [8, 8]) == (0.5, 0.5)        # no spread between prompts
    assert M.bootstrap_ratio_ci([], []) == (None, None)


def test_interpolate_between_and_beyond_measured_points():
    pts = {1: 1.0, 3: 2.0, 7: 4.0}
    assert [M.interpolate(pts, x) for x in (0, 1, 2, 5, 7, 9)] == [1.0, 1.0, 1.5, 3.0, 4.0, 4.0]


def test_verify_costs_past_the_last_timed_k_are_extrapolated_not_held_flat():
    """Guards issue 9 §2: `measure --timing-ks 1,2,4` filled v(5..16) with v(4) and called it interpolated.
    Past the last timed K the curve is affine (least-squares slope of the timed points) and labelled extrapolated;
    a timed K keeps its measured value; a K between timed ones is interpolated."""
    measured = {1: 1.10, 2: 1.30, 4: 1.70}
    curve = M.verify_cost_curve(measured, 16)
    # least-squares slope of (1, 1.1), (2, 1.3), (4, 1.7): 0.2 per K
    assert curve.slope_per_k == pytest.approx(0.2)
    assert curve.verify_cost_by_k[5] == pytest.approx(1.9) and curve.verify_cost_by_k[16] == pytest.approx(4.1)
    assert curve.verify_cost_by_k[16] > curve.verify_cost_by_k[4]                    # not held flat
    assert {k: curve.verify_cost_by_k[k] for k in measured} == measured             # measured values untouched
    assert curve.verify_cost_by_k[3] == pytest.approx(1.5)                          # between 2 and 4
    assert curve.ks("measured") == [1, 2, 4] and curve.ks("interpolated") == [3]
    assert curve.ks("extrapolated") == list(range(5, 17))
    assert "affine past K = 4" in curve.method and "least-squares" in curve.method
    # K below the first timed one: interpolated from the exact anchor v(0) = 1
    low = M.verify_cost_curve({4: 1.8}, 6)
    assert low.verify_cost_by_k[2] == pytest.approx(1.4) and low.source_by_k[2] == "interpolated"
    # one timed K: the chord from v(0) = 1 gives the slope
    assert low.slope_per_k == pytest.approx(0.2) and low.verify_cost_by_k[6] == pytest.approx(2.2)
    # a non-monotone (noisy) set whose least-squares slope is ≤ 0 falls back to the chord, and says so
    noisy = M.verify_cost_curve({1: 1.4, 2: 1.35, 3: 1.2}, 5)
    assert noisy.slope_per_k == pytest.approx(0.2 / 3) and "chord" in noisy.method
    # all Ks timed: nothing modelled
    full = M.verify_cost_curve({k: 1 + 0.1 * k for k in range(1, 17)}, 16)
    assert full.method is None and full.ks("measured") == list(range(1, 17))


def test_predictions_use_the_measured_v_and_label_every_k():
    """Every per-K prediction carries where its v(K) came from; a timed K uses the timed value."""
    tc = M.TargetCost(context_tokens=40, pass_ms={1: 70.0, 2: 77.0, 5: 119.0}, verify_cost_by_k={},
                      interpolated_k=[], repeats=3, warmup=1, step_ms=70.0)
    curve = M.verify_cost_curve({1: 1.1, 4: 1.7}, 6)
    tc.verify_cost_by_k, tc.verify_cost_source_by_k = curve.verify_cost_by_k, curve.source_by_k
    tc.interpolated_k, tc.extrapolated_k = curve.ks("interpolated"), curve.ks("extrapolated")
    acc = M.AcceptanceResult(0.5, 0.4, 0.6, 0.5, 0.4, 0.6, positions=10, proposed_positions=10, coverage=1.0,
                             prompts=1)
    dc = M.DraftCost(step_ms=7.0, cost_ratio=0.1, basis="per token", samples=3, method="test")
    by_k, *_ = M.predict(acc, [], tc, dc, greedy=False, kind="model", max_k=6)
    assert [by_k[k].verify_cost_source for k in range(1, 7)] == ["measured", "interpolated", "interpolated",
                                                                   "measured", "extrapolated", "extrapolated"]
    assert by_k[4].verify_cost == 1.7 and by_k[6].verify_cost == pytest.approx(1.7 + 2 * 0.2)
    assert by_k[4].speedup_iid == pytest.approx(est.expected_speedup(0.5, 4, 0.1, 1.7))


def test_old_files_that_held_v_flat_read_as_extrapolated_past_the_last_timed_k():
    """Measurements saved before the labels: their unmeasured Ks past the last timed one are flagged extrapolated
    (they were held flat), so no consumer takes them for measured values."""
    tc = M.TargetCost(context_tokens=40, pass_ms={1: 70.0}, verify_cost_by_k={1: 1.1, 2: 1.3, 3: 1.4, 4: 1.4},
                      interpolated_k=[3, 4], repeats=3, warmup=1, step_ms=70.0)
    assert [tc.verify_cost_source(k) for k in (1, 2, 3, 4)] == ["measured", "measured", "extrapolated",
                                                               "extrapolated"]
    assert tc.measured_verify_costs() == {1: 1.1, 2: 1.3}


# --- storage and the find integration ---------------------------------------------------------------------

def _hand_made_measurement() -> M.Measurement:
    machine = M.MachineInfo("test-cpu-2c", "Test CPU", 2, 2, "linux", "3.11", "2.13", "5", "host")
    acc = M.AcceptanceResult(0.42, 0.35, 0.5, 0.42, 0.35, 0.5, positions=100, proposed_positions=100, coverage=1.0,
                             prompts=5, by_context=[M.ContextBucket(0, 64, 100, 5, 0.42, 0.42, 0.35, 0.5)])
    tc = M.TargetCost(context_tokens=40, pass_ms={1: 70.0, 5: 110.0}, verify_cost_by_k={1: 1.1, 2: 1.3},
                      interpolated_k=[2], repeats=3, warmup=1, step_ms=70.0)
    dc = M.DraftCost(step_ms=35.0, cost_ratio=0.5, basis="per token", samples=12, method="paired")
    by_k = {1: M.KResult(k=1, verify_cost=1.1, tokens_per_step_iid=1.42, speedup_iid=0.89,
                         tokens_per_step_simulated=1.4, tokens_per_step_low=1.3, tokens_per_step_high=1.5,
                         speedup_simulated=0.88, acceptance_simulated=0.42, accepted_per_drafted=0.42,
                         position_acceptance=[0.42], accepted_hist={0: 3, 1: 2}, steps=5, new_tokens=7)}
    m = M.Measurement(target_id="zoo:smollm2-135m", draft_id="layerskip:20", draft_kind="layerskip",
                      task="general", sampling={"processor": "greedy", "temperature": 1.0, "top_k": 50,
                                                "top_p": 0.9, "seed": 0},
                      machine=machine, prompts=5, prompt_ids=["general-01"], prompts_source="builtin",
                      max_new_tokens=32, generated_tokens=100, acceptance=acc, target_cost=tc, draft_cost=dc,
                      by_k=by_k, recommended_k=1, predicted_speedup=0.88, prediction_method="replay",
                      created_at="2026-11-24T00:00:00+00:00")
    m.provenance = {"acceptance.alpha": M.Provenance(MEASURED, "teacher-forced")}
    return m


def test_save_and_load_round_trip(tmp_path):
    m = _hand_made_measurement()
    path = M.save_measurement(m)
    assert path.parent == M.measurements_dir("test-cpu-2c") and path.name == \
        "zoo-smollm2-135m__layerskip-20__general.json"
    assert not list(path.parent.glob(".*"))                                    # no temporary file left
    loaded = M.load_measurement("zoo:smollm2-135m", "layerskip:20", "general", machine_id="test-cpu-2c")
    assert loaded.to_dict() == m.to_dict()
    assert loaded.by_k[1].accepted_hist == {0: 3, 1: 2} and loaded.target_cost.pass_ms[5] == 110.0
    assert M.load_measurement("zoo:smollm2-135m", "layerskip:20", "code", machine_id="test-cpu-2c") is None
    sampled = SamplingConfig("multinomial", temperature=0.7)
    assert M.load_measurement("zoo:smollm2-135m", "layerskip:20", "general", sampling=sampled,
                              machine_id="test-cpu-2c") is None
    path.write_text("{not json")
    assert M.load_measurement("zoo:smollm2-135m", "layerskip:20", "general", machine_id="test-cpu-2c") is None


def test_a_partial_measurement_is_saved_beside_the_complete_one_which_readers_prefer():
    """Issue 9 §1: saving an interrupted (partial) measurement replaced the complete one of the same pair."""
    complete = _hand_made_measurement()
    path = M.save_measurement(complete)
    before = path.read_bytes()
    partial = _hand_made_measurement()
    partial.partial, partial.recommended_k, partial.created_at = True, None, "2026-11-25T00:00:00+00:00"
    ppath = M.save_measurement(partial)
    assert ppath == path.with_name("zoo-smollm2-135m__layerskip-20__general.partial.json")
    assert path.read_bytes() == before
    got = M.load_measurement("zoo:smollm2-135m", "layerskip:20", "general", machine_id="test-cpu-2c")
    assert got.partial is False and got.recommended_k == 1 and got.path == str(path)
    assert M.store.complete_sibling(ppath) == path
    # a file an older version wrote: a partial run under the complete name; the newer partial wins
    legacy = _hand_made_measurement()
    legacy.partial, legacy.created_at = True, "2026-11-20T00:00:00+00:00"
    M.save_measurement(legacy, path)
    got = M.load_measurement("zoo:smollm2-135m", "layerskip:20", "general", machine_id="test-cpu-2c")
    assert got.partial is True and got.path == str(ppath)


def test_apply_measurement_replaces_the_prior_and_c_only_on_the_cpu_profile():
    m = _hand_made_measurement()
    prior = AcceptanceEstimate(0.6, 0.5, 0.7, ESTIMATED, "prior")
    acc, c, used = M.apply_measurement(prior, m.target_id, m.draft_id, "general", hardware="cpu", measurement=m)
    assert (acc.alpha, acc.low, acc.high, acc.source) == (0.42, 0.35, 0.5, MEASURED) and c == 0.5 and used is m
    assert "teacher-forced" in acc.method
    acc, c, _ = M.apply_measurement(prior, m.target_id, m.draft_id, "general", hardware="a100-80gb", measurement=m)
    assert acc.source == MEASURED and c is None                               # α is hardware-free, c is not
    # nothing saved for this pair: the prior passes through untouched
    assert M.apply_measurement(prior, "zoo:x", "zoo:y", "general", hardware="cpu") == (prior, None, None)


def test_measured_figures_flow_into_the_estimator():
    from draftfinder.predict.estimator import SpeedupEstimator
    from draftfinder.predict.latency import ModelShape

    m = _hand_made_measurement()
    acc, c, _ = M.apply_measurement(AcceptanceEstimate(0.6, 0.5, 0.7), m.target_id, m.draft_id, "general",
                                    hardware="cpu", measurement=m)
    est_ = SpeedupEstimator.evaluate(ModelShape.from_bits(134_515_008, 32, 30), ModelShape.from_bits(90e6, 32, 20), acc, "cpu",
                                     cost_ratio=c)
    assert est_.acceptance_rate == 0.42 and est_.cost_ratio == 0.5
    assert est_.provenance["acceptance_rate"].source == MEASURED
    assert est_.provenance["cost_ratio"].source == MEASURED


def test_find_uses_the_measured_verify_cost_where_one_exists():
    """Guards issue 9 §2 ("a measured v(K) is used wherever it exists"): find replaced α and c by a saved
    measurement but kept the latency model's v(K). On the cpu profile the measured v(K) now replace the model's
    (each labelled), the model fills the Ks the measurement lacks; on other hardware the model stays."""
    from draftfinder.predict import latency as hw
    from draftfinder.predict.estimator import SpeedupEstimator
    from draftfinder.predict.latency import ModelShape

    m = _hand_made_measurement()      # v(1) = 1.1 measured; v(2) = 1.3 unmeasured, past the last timed K
    target, draft = ModelShape.from_bits(134_515_008, 32, 30), ModelShape.from_bits(90e6, 32, 20)
    costs, sources, method = M.measured_verify_costs(m, hardware="cpu")
    assert costs == {1: 1.1, 2: 1.3} and sources == {1: "measured", 2: "extrapolated"} and m.created_at in method
    e = SpeedupEstimator.evaluate(target, draft, 0.42, "cpu", max_k=4, cost_ratio=0.5, verify_costs=costs,
                                  verify_cost_sources=sources, verify_cost_method=method)
    assert e.verify_cost_by_k[1] == 1.1 and e.verify_cost_by_k[2] == 1.3
    assert e.verify_cost_by_k[3] == pytest.approx(hw.verify_cost(target, 3, "cpu"))
    assert e.verify_cost_source_by_k == {1: "measured", 2: "extrapolated", 3: ESTIMATED, 4: ESTIMATED}
    assert e.speedup_by_k[1] == pytest.approx(est.expected_speedup(0.42, 1, 0.5, 1.1))
    assert e.provenance["verify_cost_by_k"].source == MEASURED
    assert "measured for K = 1" in e.provenance["verify_cost_by_k"].detail
    assert M.measured_verify_costs(m, hardware="a100-80gb") == (None, None, None)


# --- real model: teacher forcing against the engine's real speculative runs ----------------------------------

# one torch thread for the whole suite: tests/conftest.py



@pytest.mark.slow
def test_teacher_forced_acceptance_matches_real_speculative_runs(smollm2):
    """Issue requirement: the teacher-forced acceptance agrees with the acceptance observed in real engine runs
    within ±0.03, for a layer-skip and an n-gram drafter — here it is exact: the greedy replay reproduces every
    counter of each real run (steps, drafts, accepted, histogram, per-window-position acceptance).

    The token-level α (mean over *all* positions) is a different number from what a run at K observes (a run
    skips the position after each bonus token; acceptance is autocorrelated), so it is only bounded loosely
    here; the per-K run acceptance is what the measurement reports beside it (``KResult.acceptance_simulated``).
    """
    from draftfinder.engine.speculative import speculative_generate
    from draftfinder.measure.prompts import load_prompts

    greedy, new = SamplingConfig(), 24
    prompts = load_prompts("summarization", limit=1) + load_prompts("general", limit=1)
    conts = M.generate_continuations(smollm2, prompts, max_new_tokens=new, sampling=greedy)
    scorers = [M._Scorer("layerskip:24", smollm2), M._Scorer("ngram", smollm2)]
    traces = {s.spec: [] for s in scorers}
    for c in conts:
        for spec, tr in M.score_continuation(smollm2, scorers, c, sampling=greedy).items():
            traces[spec].append(tr)
    checked = 0
    for s, ks in ((scorers[0], (4,)), (scorers[1], (4,))):
        alpha = M.summarize_acceptance(traces[s.spec]).alpha
        for k in ks:
            reached = accepted = 0
            for c, tr in zip(conts, traces[s.spec]):
                real = speculative_generate(smollm2, s.fresh(smollm2), c.prompt_ids, max_new_tokens=new,
                                            sampling=greedy, k=k)
                assert real.token_ids == c.tokens                     # greedy speculative output = the target's
                sim, obs = tr.runs[k].stats, real.stats
                assert (sim.steps, sim.drafted, sim.accepted, sim.accepted_hist, sim.position_drafted,
                        sim.position_accepted) == (obs.steps, obs.drafted, obs.accepted, obs.accepted_hist,
                                                   obs.position_drafted, obs.position_accepted), (s.spec, k)
                reached += sum(obs.position_drafted)
                accepted += sum(obs.position_accepted)
                checked += obs.steps
            merged = M.merge_runs([tr.runs[k] for tr in traces[s.spec]]).stats
            replay_acceptance = sum(merged.position_accepted) / sum(merged.position_drafted)
            assert replay_acceptance == pytest.approx(accepted / reached, abs=0.03)
            assert alpha == pytest.approx(accepted / reached, abs=0.15), (s.spec, k, alpha, accepted / reached)
    assert checked > 20


@pytest.mark.slow
def test_layerskip_logits_from_the_target_pass_equal_the_drafters_own(smollm2):
    """The layer-skip 'forward pass' read from hidden_states[N] is the truncated model the engine drafts with."""
    from draftfinder.engine.drafters import truncated_model

    ids = torch.tensor([smollm2.tokenizer("The history of tea begins in China")["input_ids"]])
    with torch.inference_mode():
        res = smollm2.model.model(input_ids=ids, output_hidden_states=True, use_cache=False)
        mine = M._head(smollm2.model, res.hidden_states[12][0], normed=False)
        theirs = truncated_model(smollm2.model, 12)(input_ids=ids, use_cache=False).logits[0]
    assert torch.allclose(mine, theirs, atol=1e-4)


@pytest.mark.slow
def test_a_draft_identical_to_the_target_is_always_accepted(smollm2):
    """The model-draft path, greedy and sampled: q = p gives β = Σ min(p, p) = 1 and full agreement everywhere,
    and the replay then emits K+1 tokens per step."""
    from draftfinder.measure.prompts import load_prompts

    prompt = load_prompts("chat", limit=1)
    for sampling in (SamplingConfig(), SamplingConfig("topknucleus", temperature=0.8, top_k=20, top_p=0.9)):
        conts = M.generate_continuations(smollm2, prompt, max_new_tokens=12, sampling=sampling)
        scorer = M._Scorer("zoo:smollm2-135m", smollm2)
        assert scorer.kind == "model" and scorer.draft_id == "zoo:smollm2-135m"
        trace = M.score_continuation(smollm2, [scorer], conts[0], sampling=sampling)[scorer.spec]
        acc = M.summarize_acceptance([trace])
        assert acc.alpha == pytest.approx(1.0, abs=1e-4) and acc.greedy_agreement == 1.0
        if sampling.greedy:
            assert trace.runs[3].stats.tokens_per_step == 4.0            # 12 tokens in 3 steps of 3 + 1


def test_measurements_on_an_accelerator_get_their_own_machine_key():
    """A GPU measurement must not replace this host's CPU measurement of the same pair (same folder, same name)."""
    from draftfinder.engine.device import Accelerators, Gpu, Target
    from draftfinder.measure.results import machine_id, machine_info

    cpu = machine_info(Target(device="cpu", dtype="fp32"))
    assert (cpu.machine_id, cpu.device, cpu.dtype) == (machine_id(), "cpu", "fp32") and machine_info().device == "cpu"
    acc = Accelerators("2.13.0+cu128", "12.8", (Gpu(0, "NVIDIA L4", 1, 1, True), Gpu(1, "NVIDIA A100-SXM4-80GB", 1, 1, True)))
    gpu = machine_info(Target(device="cuda:1", dtype="bf16", accelerators=acc))
    assert gpu.machine_id == machine_id() + "-nvidia-a100-sxm4-80gb" and (gpu.device, gpu.dtype) == ("cuda:1", "bf16")
    assert machine_info(Target(device="mps", dtype="fp16")).machine_id == machine_id() + "-mps"
