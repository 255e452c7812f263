"""Real sweeps on the zoo model: engine and hf backends end to end, failures recorded, resume after a kill."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from draftfinder.errors import ZooModelMissingError
from draftfinder.sweep.config import sweep_config_from_dict
from draftfinder.sweep.runner import plan_cells, run_sweep

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def zoo():
    from draftfinder.engine.loading import load_model

    try:
        load_model("zoo:smollm2-135m")
    except ZooModelMissingError as err:
        pytest.skip(f"zoo model not installed: {err}")
    return "zoo:smollm2-135m"


def config(backend="engine", drafts=None, **settings):
    base = {"runs": 1, "max_tokens": 10, "prompts": 1, "task": "summarization", "k": [3], "warmup": 0}
    base.update(settings)
    return sweep_config_from_dict({
        "name": "t", "hardware": "cpu", "backend": backend,
        "targets": [{"label": "SmolLM2", "path": "zoo:smollm2-135m"}],
        "drafts": drafts if drafts is not None else [{"label": "ngram", "type": "ngram", "storage": "onelevel", "n": 3}],
        "settings": base})


def test_engine_sweep_end_to_end(zoo, tmp_path):
    cfg = config(drafts=[{"label": "ngram", "type": "ngram", "storage": "onelevel", "n": 3, "adaptive": True},
                         {"label": "skip", "type": "layerskip", "layers": 20},
                         {"label": "broken", "path": str(tmp_path / "no-such-model.gguf")}], k=[2, 4], runs=2)
    lines = []
    res = run_sweep(cfg, tmp_path / "r.json", log=lines.append)
    on_disk = json.loads((tmp_path / "r.json").read_text())
    assert on_disk["status"] == "complete" and len(on_disk["results"]) == 1 + 3 * 2
    assert on_disk["backend_info"]["backend"] == "engine" and on_disk["prompts"]
    base = res.find("SmolLM2", None, None)
    assert base["status"] == "ok" and base["mean_tps"] > 0 and base["acceptance_rate"] is None
    assert base["requests"] == 2 and len(base["runs"]) == 2 and base["runs"][0]["tokens"] == 10
    for k in (2, 4):
        c = res.find("SmolLM2", "ngram", k)
        assert c["status"] == "ok" and c["k"] == k and c["draft_type"] == "ngram" and c["adaptive"] is True
        assert "adaptive=HeuristicK()" in c["command"][0]
        assert c["drafted"] >= c["accepted"] >= 0 and c["drafted"] > 0
        assert c["speedup"] == pytest.approx(c["mean_tps"] / base["mean_tps"])
        assert c["outputs_match_baseline"] == 1.0           # greedy: speculative == target-only, token for token
        assert c["prediction"] is not None and "speedup" in c["prediction"]
        s = res.find("SmolLM2", "skip", k)
        assert s["status"] == "ok" and s["outputs_match_baseline"] == 1.0
    bad = res.find("SmolLM2", "broken", 2)
    assert bad["status"] == "failed" and "no-such-model" in bad["error"] and bad["mean_tps"] is None
    assert any("failed" in line for line in lines)
    # --retry-failed reruns only the failed cells
    before = {(c["draft"], c["k"]): c["started"] for c in res.cells}
    res2 = run_sweep(cfg, tmp_path / "r.json", retry_failed=True)
    after = {(c["draft"], c["k"]): c["started"] for c in res2.cells}
    assert [key for key in before if before[key] != after[key]] == [("broken", 2), ("broken", 4)]


def test_hf_backend_sweep(zoo, tmp_path):
    cfg = config("hf", drafts=[{"label": "lookup", "type": "ngram", "n": 3}])
    res = run_sweep(cfg, tmp_path / "hf.json")
    c = res.find("SmolLM2", "lookup", 3)
    assert c["status"] == "ok", c.get("error")
    assert "prompt_lookup_num_tokens=3" in c["command"][0]
    assert c["acceptance_rate"] is None and "not exposed" in c["acceptance_definition"]
    assert c["outputs_match_baseline"] == 1.0 and c["mean_ttft"] is not None


def test_other_sweep_results_are_not_overwritten(zoo, tmp_path):
    from draftfinder.errors import UsageError

    path = tmp_path / "r.json"
    path.write_text(json.dumps({"name": "someone-else", "backend": "llamacpp", "results": []}))
    with pytest.raises(UsageError, match="someone-else"):
        run_sweep(config(), path)
    assert json.loads(path.read_text())["name"] == "someone-else"


def test_resume_after_kill(zoo, tmp_path):
    """SIGKILL the sweep process after two cells; the file is intact and a rerun does only the rest."""
    cfg_path = tmp_path / "s.json"
    cfg_path.write_text(json.dumps({
        "name": "resume", "hardware": "cpu", "backend": "engine",
        "targets": [{"label": "SmolLM2", "path": "zoo:smollm2-135m"}],
        "drafts": [{"label": "ngram", "type": "ngram"}],
        "settings": {"runs": 1, "max_tokens": 24, "prompts": 2, "task": "summarization", "k": [1, 2, 3, 4, 5, 6],
                     "warmup": 0}}))
    results = tmp_path / "r.json"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "draftfinder", "sweep", "--config", str(cfg_path), "--results",
                             str(results), "--no-chart", "--quiet"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.time() + 900            # a bound on a hang, not a speed check: a loaded 2-core machine is slow
    cells = []
    try:
        while time.time() < deadline and proc.poll() is None:
            if results.exists():
                try:
                    cells = json.loads(results.read_text())["results"]
                except ValueError:                     # never: writes are atomic
                    pytest.fail("results file was caught half-written")
                if len(cells) >= 2:
                    break
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert 2 <= len(cells) < 7, f"kill did not land mid-sweep ({len(cells)} cells; stderr {proc.stderr.read()!r})"
    killed = json.loads(results.read_text())
    assert killed["status"] == "running"
    done_before = {(c["draft"], c["k"]): c["started"] for c in killed["results"]}

    from draftfinder.sweep.config import load_sweep_config

    res = run_sweep(load_sweep_config(str(cfg_path)), results)
    assert res.meta["status"] == "complete" and len(res.cells) == 7
    for c in res.cells:
        key = (c["draft"], c["k"])
        if key in done_before:
            assert c["started"] == done_before[key]          # not rerun: nothing lost, nothing redone
    assert [c["k"] for c in res.cells] == [None, 1, 2, 3, 4, 5, 6]
    assert all(c["status"] == "ok" for c in res.cells)


def test_plan_counts():
    cfg = config(drafts=[{"label": "a", "type": "ngram"}, {"label": "b", "type": "ngram", "n": 2}], k=[1, 2, 3])
    assert len(plan_cells(cfg)) == 1 + 2 * 3


def test_rerun_with_other_settings_is_refused_and_keeps_the_file(zoo, tmp_path, capsys):
    """Issue 9 §1: rerunning with `--max-tokens 999 --task code --prompts 1` printed "resuming: 10 of 10 cells"
    and rewrote the header, so cells measured at 24 tokens on summarization claimed 999 tokens on code. Each
    cell now records its settings; a mismatch is refused naming the keys, and the file is left as it was."""
    from draftfinder.cli.main import main
    from draftfinder.errors import UsageError

    path = tmp_path / "r.json"
    res = run_sweep(config(max_tokens=4), path)
    assert len(res.cells) == 2
    for c in res.cells:
        assert c["settings"]["max_tokens"] == 4 and c["settings"]["task"] == "summarization"
        assert c["settings"]["prompts"] == 1 and c["settings"]["prompts_sha1"]
    before = path.read_bytes()

    cfg_file = tmp_path / "t.json"
    cfg_file.write_text(json.dumps(config(max_tokens=4).to_dict()))
    code = main(["sweep", "--config", str(cfg_file), "--results", str(path), "--max-tokens", "999", "--task", "code",
                 "--prompts", "1", "--no-chart"])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("draftfinder:")]
    assert code == 2 and len(lines) == 1, err
    assert "max_tokens 4 → 999" in lines[0] and "task summarization → code" in lines[0]
    assert "--fresh" in lines[0] and "--results" in lines[0] and "resuming" not in err
    assert path.read_bytes() == before

    # a setting that does not change what is measured (timeout_s): resumed, nothing rerun
    res = run_sweep(config(max_tokens=4, timeout_s=30), path)
    assert [c["started"] for c in res.cells] == [c["started"] for c in json.loads(before)["results"]]

    # another drafter under the same label is another measurement too
    onelevel = [{"label": "ngram", "type": "ngram", "storage": "basic", "n": 3}]
    with pytest.raises(UsageError, match="draft_spec of 'SmolLM2 \\+ ngram K=3' ngram:onelevel:3 → ngram:basic:3"):
        run_sweep(config(max_tokens=4, drafts=onelevel), path)

    # a file written before cells carried settings: the header's settings are the cells' settings
    data = json.loads(path.read_text())
    for c in data["results"]:
        del c["settings"]
    path.write_text(json.dumps(data))
    with pytest.raises(UsageError, match="max_tokens 4 → 5"):
        run_sweep(config(max_tokens=5), path)

    # --fresh starts over: every cell and the header say what the cells were measured with
    run_sweep(config(max_tokens=5), path, fresh=True)
    on_disk = json.loads(path.read_text())
    assert on_disk["settings"]["max_tokens"] == 5 and on_disk["status"] == "complete"
    assert all(c["settings"]["max_tokens"] == 5 and c["runs"][0]["tokens"] == 5 for c in on_disk["results"])
