"""Calibrated profiles: round trip through the writer, partial beside complete, corrupt and foreign files, and
the per-engine fit against a hand calculation."""

import json

import pytest

from draftfinder.errors import CalibrationNotFoundError, CalibrationProfileError, UsageError
from draftfinder.measure.calibrate import fit_engine
from draftfinder.predict.calibration import (CalibratedProfile, EngineCalibration, calibration_dir, load_profile,
                                             now_iso, profile_path, save_profile, this_machine)


def _cal(model="zoo:smollm2-135m", *, t=None, weight_bytes=96_576_768.0, params=134_515_008.0, engine="llama.cpp"):
    return EngineCalibration(engine=engine, model=model, weight_format="q4_1", params=params, layers=30,
                             t_ms_by_batch=t or {1: 23.0, 2: 30.5, 3: 39.2}, per_step_overhead_ms=1.9,
                             effective_bandwidth_gb_s=4.57, draft_step_ms=27.5, weight_bytes=weight_bytes,
                             hidden=576, vocab=49152, context_tokens=256, repeats=3,
                             t_ms_range_by_batch={1: (22.0, 24.0)}, source="/x/SmolLM2.gguf",
                             method={"t_ms_by_batch": "hand-made for the test"})


def _profile(name="local", *, partial=False, machine=None):
    return CalibratedProfile(name=name, machine_id=machine or this_machine(), created_at=now_iso(), cpu="test cpu",
                             threads=1, engines={"llama.cpp": [_cal()]}, partial=partial,
                             versions={"llama_server": "version: 1"}, command="draftfinder calibrate")


def test_round_trip_through_the_data_home():
    p = _profile()
    path = save_profile(p)
    assert path == calibration_dir() / "local.json" and p.path == str(path)
    q = load_profile("local")
    assert q.to_dict() == p.to_dict()
    cal = q.calibration("llama.cpp", "zoo:smollm2-135m")
    assert cal.t_ms_by_batch == {1: 23.0, 2: 30.5, 3: 39.2}
    assert cal.verify_cost(2) == pytest.approx(39.2 / 23.0)
    assert q.calibration("llama.cpp", "/elsewhere/SmolLM2.gguf") is cal        # matched by file name too
    assert load_profile(str(path)).to_dict() == p.to_dict()                     # a path works as well


def test_a_partial_profile_never_replaces_a_complete_one():
    """Like measure: an interrupted calibration goes beside the complete profile, and readers take the complete."""
    complete = _profile()
    save_profile(complete)
    before = profile_path("local").read_bytes()
    partial = _profile(partial=True)
    partial.engines["llama.cpp"][0].t_ms_by_batch = {1: 99.0}
    assert save_profile(partial) == calibration_dir() / "local.partial.json"
    assert profile_path("local").read_bytes() == before
    assert load_profile("local").partial is False
    profile_path("local").unlink()
    only = load_profile("local")
    assert only.partial is True and only.calibration("llama.cpp").t_ms_by_batch == {1: 99.0}


@pytest.mark.parametrize("text, says", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "not an object"),
    ('{"schema": "something-else"}', "schema"),
])
def test_a_corrupt_file_is_one_line_naming_it_and_the_fix(text, says):
    calibration_dir().mkdir(parents=True)
    profile_path("local").write_text(text)
    with pytest.raises(CalibrationProfileError) as e:
        load_profile("local")
    line = str(e.value)
    assert "\n" not in line and says in line and str(profile_path("local")) in line
    assert "draftfinder calibrate" in line and e.value.exit_code == 2


@pytest.mark.parametrize("field, value", [("t_ms_by_batch", {"1": "fast"}), ("t_ms_by_batch", {"1": -3.0}),
                                          ("t_ms_by_batch", {}), ("params", None), ("effective_bandwidth_gb_s", 0)])
def test_malformed_numbers_are_refused(field, value):
    d = _profile().to_dict()
    d["engines"]["llama.cpp"][0][field] = value
    calibration_dir().mkdir(parents=True)
    profile_path("local").write_text(json.dumps(d))
    with pytest.raises(CalibrationProfileError, match="not a calibration profile"):
        load_profile("local")


def test_a_profile_from_another_machine_is_refused():
    d = _profile().to_dict()
    d["machine_id"] = "amd-epyc-7763-64c"
    calibration_dir().mkdir(parents=True)
    profile_path("laptop").write_text(json.dumps(d))
    with pytest.raises(CalibrationProfileError) as e:
        load_profile("laptop")
    line = str(e.value)
    assert "another machine" in line and "amd-epyc-7763-64c" in line and this_machine() in line
    assert "name 'laptop'" in line and "preset" in line
    assert load_profile("laptop", check_machine=False).machine_id == "amd-epyc-7763-64c"


def test_a_missing_profile_names_the_saved_ones_and_the_command():
    save_profile(_profile("desk"))
    with pytest.raises(CalibrationNotFoundError) as e:
        load_profile("local")
    assert "saved: desk" in str(e.value) and "draftfinder calibrate" in str(e.value)
    assert e.value.hint_for("calibrate").endswith("draftfinder calibrate")
    with pytest.raises(CalibrationNotFoundError):
        load_profile("/nowhere/profile.json")
    with pytest.raises(UsageError):
        load_profile("bad name!")


def test_the_fit_recovers_the_constants_it_was_made_from():
    """Hand calculation: with o = 2 ms, 5 GB/s and 40 GFLOP/s, a 100 MB / 135 M-param model takes
    T(b) = 2 + 1e8 / 5e6 + (b−1)·2·1.35e8 / 4e7 = 22 + 6.75·(b−1) ms, a 250 MB / 270 M one 52 + 13.5·(b−1)."""
    def t(w, p):
        return {b: 2.0 + w / 5e6 + (b - 1) * 2 * p / 4e7 for b in range(1, 9)}

    small, large = _cal("a", t=t(1e8, 1.35e8), weight_bytes=1e8, params=1.35e8), \
        _cal("b", t=t(2.5e8, 2.7e8), weight_bytes=2.5e8, params=2.7e8)
    assert small.t_ms_by_batch[1] == pytest.approx(22.0) and small.t_ms_by_batch[2] == pytest.approx(28.75)
    fit = fit_engine("llama.cpp", [small, large])
    assert fit.per_step_overhead_ms == pytest.approx(2.0, rel=1e-6)
    assert fit.effective_bandwidth_gb_s == pytest.approx(5.0, rel=1e-6)
    assert fit.effective_tflops == pytest.approx(0.04, rel=1e-6)
    assert fit.in_sample_max_abs_error < 1e-9 and fit.points == 16
    assert fit.step_ms(2.5e8, 2.7e8, 3) == pytest.approx(52 + 27.0)
    one = fit_engine("llama.cpp", [small])            # one weight size: o is the measured overhead (1.9 here)
    assert one.per_step_overhead_ms == pytest.approx(1.9) and "not separable" in one.method
