"""``draftfinder sweep`` on the command line: --init, a run, --chart-only, --config-dir, errors, Ctrl-C."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from draftfinder.cli.main import main

REPO = Path(__file__).resolve().parents[2]


def tiny(tmp_path, name="tiny", drafts=None, **settings):
    s = {"runs": 1, "max_tokens": 8, "prompts": 1, "task": "summarization", "k": [2], "warmup": 0}
    s.update(settings)
    p = tmp_path / f"{name}.json"
    p.write_text(json.dumps({
        "name": name, "hardware": "cpu", "backend": "engine",
        "targets": [{"label": "SmolLM2", "path": "zoo:smollm2-135m"}],
        "drafts": drafts if drafts is not None else [{"label": "ngram", "type": "ngram", "storage": "onelevel"}],
        "settings": s}))
    return p


def test_init_then_bad_input_messages(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["sweep", "--init"]) == 0
    assert Path("sweep.json").exists() and "draftfinder sweep --config sweep.json" in capsys.readouterr().err
    assert main(["sweep", "--init"]) == 2                      # exists: not overwritten
    assert "already exists" in capsys.readouterr().err
    assert main(["sweep"]) == 2
    err = capsys.readouterr().err
    assert "no sweep config given" in err and "--init" in err and "Traceback" not in err
    Path("bad.json").write_text(json.dumps({"name": "b", "targets": [{"label": "t"}]}))
    assert main(["sweep", "--config", "bad.json"]) == 2
    err = capsys.readouterr().err.strip()
    assert "'targets[0].path'" in err and len(err.splitlines()) == 1
    assert main(["sweep", "--config", "sweep.json", "--k", "0,4"]) == 2
    assert "--k" in capsys.readouterr().err
    assert main(["sweep", "--chart-only"]) == 2
    assert "--results" in capsys.readouterr().err


@pytest.mark.slow
def test_run_table_chart_and_chart_only(tmp_path, capsys, monkeypatch):
    pytest.importorskip("plotly")
    monkeypatch.chdir(tmp_path)
    cfg = tiny(tmp_path)
    assert main(["sweep", "--config", str(cfg), "--quiet"]) == 0
    out, err = capsys.readouterr()
    results = Path("results/cpu_engine_tiny.json")               # draftbench's default name
    chart = results.with_suffix(".html")
    assert results.exists() and chart.exists()
    assert "Results saved to results/cpu_engine_tiny.json" in err and "Chart saved to" in err     # status: stderr
    assert "(baseline)" in out and "ngram" in out and "measured" in out
    html = chart.read_text()
    assert "Plotly" in html and "<script src" not in html and "<link " not in html
    chart.unlink()
    assert main(["sweep", "--results", str(results), "--chart", "c2.html", "--chart-only"]) == 0
    assert Path("c2.html").exists()
    # the same command again resumes: nothing to run, same cells
    before = json.loads(results.read_text())["results"]
    assert main(["sweep", "--config", str(cfg), "--quiet", "--no-chart"]) == 0
    after = json.loads(results.read_text())["results"]
    assert [c["started"] for c in after] == [c["started"] for c in before]


@pytest.mark.slow
def test_config_dir_skips_examples_and_failing_configs(tmp_path, capsys):
    d = tmp_path / "configs"
    d.mkdir()
    tiny(d, "good")
    (d / "example_sweep.json").write_text("{ not even json")    # templates are skipped, never parsed
    (d / "broken.json").write_text(json.dumps({"name": "broken"}))
    code = main(["sweep", "--config-dir", str(d), "--results-dir", str(tmp_path / "res"), "--quiet", "--no-chart"])
    out, err = capsys.readouterr()
    assert code == 1
    assert "good.json: ok" in out and "broken.json: failed" in out and "example_sweep" not in out
    assert "'targets'" in err
    assert (tmp_path / "res" / "cpu_engine_good.json").exists()


@pytest.mark.slow
def test_ctrl_c_keeps_finished_cells(tmp_path):
    cfg = tiny(tmp_path, "intr", max_tokens=24, prompts=2, k=[1, 2, 3, 4, 5, 6])
    results = tmp_path / "r.json"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "draftfinder", "sweep", "--config", str(cfg), "--results",
                             str(results), "--no-chart"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.time() + 900            # a bound on a hang, not a speed check: a loaded 2-core machine is slow
    while time.time() < deadline and proc.poll() is None:
        if results.exists() and len(json.loads(results.read_text())["results"]) >= 1:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "run the same command again to resume" in err and "Traceback" not in err
    data = json.loads(results.read_text())
    assert data["status"] == "interrupted" and 1 <= len(data["results"]) < 7
