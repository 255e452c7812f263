"""Concurrency levels of a sweep (``sweep/concurrency.py``): config validation, the wave plan and TPOT, speedup per
level vs the baseline at the same N, the chart's speedup-vs-concurrency trace, the CLI table, and — with a real
llama-server (slow) — N = 1 and N = 2 through the runner, resume per (cell, N), and the server stopped on every
exit path of a level."""

from __future__ import annotations

import copy
import dataclasses
import json
import threading
from pathlib import Path

import pytest

from draftfinder.cli.main import main
from draftfinder.errors import ConfigError
from draftfinder.measure.prompts import Prompt
from draftfinder.sweep.concurrency import (concurrency_table, find_level, pending_levels, refresh_levels,
                                           run_level, summarize_level, tpot_ms, wave_plan)
from draftfinder.sweep.config import Settings, sweep_config_from_dict

TARGET = [{"label": "t", "path": "zoo:smollm2-135m"}]


# --- config ---------------------------------------------------------------------------------------------

def test_concurrency_setting_is_validated():
    """Guards: settings.concurrency parsed as int or list (1 always included), out-of-range values and the
    in-process backends refused with one line naming the key and the server backends."""
    def cfg(value, backend="llamacpp"):
        return sweep_config_from_dict({"name": "x", "backend": backend, "targets": TARGET,
                                       "settings": {"concurrency": value}})

    assert cfg(4).settings.concurrency == [1, 4]
    assert cfg([16, 4, 4, 1]).settings.concurrency == [1, 4, 16]
    assert cfg(1, backend="engine").settings.concurrency == [1]
    assert Settings().concurrency == [1]
    for bad in (0, 257, "4", [], [2, None], 2.5, True):
        with pytest.raises(ConfigError, match=r"'settings\.concurrency'"):
            cfg(bad)
    for backend in ("engine", "hf"):
        with pytest.raises(ConfigError) as err:
            cfg([1, 4], backend=backend)
        assert f"1 with backend {backend}" in str(err.value) and "llamacpp" in err.value.hint
        assert len(err.value.line().splitlines()) == 1


def test_cli_concurrency_override_is_checked(tmp_path, capsys):
    """Guards: --concurrency on an engine config exits 2 with one line, before anything runs or is written."""
    p = tmp_path / "c.json"
    p.write_text(json.dumps({"name": "c", "backend": "engine", "targets": TARGET}))
    out = tmp_path / "r.json"
    assert main(["sweep", "--config", str(p), "--concurrency", "1,4", "--results", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "settings.concurrency" in err and "llamacpp" in err and len(err.splitlines()) == 1
    assert not out.exists()
    assert main(["sweep", "--config", str(p), "--concurrency", "0", "--results", str(out)]) == 2
    assert "--concurrency" in capsys.readouterr().err


# --- pure figures -----------------------------------------------------------------------------------------

def test_wave_plan_covers_every_prompt_in_waves_of_n():
    assert wave_plan(3, 1) == [[0], [1], [2]]                  # N = 1: the single-stream loop
    assert wave_plan(3, 2) == [[0, 1], [2, 0]]
    assert wave_plan(3, 4) == [[0, 1, 2, 0]]
    assert wave_plan(2, 16) == [[i % 2 for i in range(16)]]
    assert wave_plan(0, 4) == []


def test_tpot_and_level_summary():
    assert tpot_ms(11, 2.0, 1.0) == pytest.approx(100.0)       # 10 tokens after the first in 1 s
    assert tpot_ms(1, 2.0, 1.0) is None and tpot_ms(5, 2.0, None) is None
    rows = [{"tokens": 11, "total_s": 2.0, "ttft_s": 1.0, "tps": 10.0, "drafted": 8, "accepted": 6},
            {"tokens": 21, "total_s": 3.0, "ttft_s": 1.0, "tps": 10.0, "drafted": 12, "accepted": 4}]
    s = summarize_level(rows, wall_s=4.0)
    assert s["aggregate_tokens_per_s"] == pytest.approx(32 / 4.0)
    assert s["median_tpot_ms"] == pytest.approx((100.0 + 100.0) / 2) and s["acceptance_rate"] == pytest.approx(0.5)


def _runs(prompts, tokens, total_s, digest="a"):
    return [{"run": 1, "prompt_id": p, "tokens": tokens, "total_s": total_s, "ttft_s": 0.1, "tps": tokens / total_s,
             "output_sha1": f"{digest}-{p}"} for p in prompts]


def _level(n, prompts, tokens, wall_s, digest="a"):
    rows = []
    for w, idx in enumerate(wave_plan(len(prompts), n)):
        for slot, i in enumerate(idx):
            rows.append({"run": 1, "wave": w + 1, "slot": slot, "index": w * n + slot, "prompt_id": prompts[i],
                         "tokens": tokens, "total_s": wall_s, "ttft_s": 0.2, "output_sha1": f"{digest}-{prompts[i]}"})
    waves = len(wave_plan(len(prompts), n))
    return {"n": n, "status": "ok", **summarize_level(rows, wall_s * waves), "requests_detail": rows}


def levels_sweep(label_a="smol", label_b="ngram"):
    """A results dict of one target: baseline and one draft cell at N = 1 (runs) and N = 4 (levels)."""
    prompts = ["p1", "p2"]
    base = {"target": label_a, "draft": None, "k": None, "status": "ok", "mean_tps": 20.0,
            "runs": _runs(prompts, 20, 1.0), "concurrency": [_level(4, prompts, 20, 2.0)]}
    draft = {"target": label_a, "draft": label_b, "k": 4, "status": "ok", "mean_tps": 30.0, "acceptance_rate": 0.6,
             "runs": _runs(prompts, 20, 0.5),
             "concurrency": [_level(4, prompts, 20, 1.6, digest="a")]}
    draft["concurrency"][0]["requests_detail"][3]["output_sha1"] = "changed-by-batching"
    return {"name": "levels", "backend": "llamacpp", "settings": {"temperature": 0.0}, "results": [base, draft]}


def test_speedup_per_level_and_output_identity():
    """Guards: speedup at N is the draft's aggregate tok/s over the baseline's at the SAME N (not N = 1), level 1
    comes from the cell's runs, and outputs are compared with the baseline at N and with the cell at N = 1."""
    data = levels_sweep()
    base, draft = data["results"]
    refresh_levels(data["results"], greedy=True)
    one, four = find_level(draft, 1), find_level(draft, 4)
    assert one["aggregate_tokens_per_s"] == pytest.approx(40 / 1.0)          # 2 × 20 tokens in 2 × 0.5 s
    assert find_level(base, 1)["aggregate_tokens_per_s"] == pytest.approx(40 / 2.0)
    assert one["speedup"] == pytest.approx(2.0)
    assert four["aggregate_tokens_per_s"] == pytest.approx(80 / 1.6)
    assert four["speedup"] == pytest.approx((80 / 1.6) / (80 / 2.0))
    assert four["outputs_match_baseline"] == pytest.approx(3 / 4)
    assert four["outputs_match_single_stream"] == pytest.approx(3 / 4)
    assert find_level(base, 4)["outputs_match_single_stream"] == 1.0


def test_old_results_without_levels_are_left_as_they_were():
    """Guards: a results file from before concurrency loads, refreshes and charts with no `concurrency` key."""
    data = levels_sweep()
    for c in data["results"]:
        del c["concurrency"]
    before = copy.deepcopy(data)
    refresh_levels(data["results"], greedy=True)
    assert data == before
    assert pending_levels(data["results"][1], Settings(concurrency=[1, 4])) == [4]
    assert pending_levels(data["results"][1], Settings()) == []


def test_pending_levels_resume_per_level():
    data = levels_sweep()
    draft = data["results"][1]
    s = Settings(concurrency=[1, 4, 16])
    assert pending_levels(draft, s) == [16]
    draft["concurrency"][0]["status"] = "failed"
    assert pending_levels(draft, s) == [16] and pending_levels(draft, s, retry_failed=True) == [4, 16]
    assert pending_levels({**draft, "status": "failed"}, s) == []


def test_chart_has_the_speedup_vs_concurrency_trace():
    """Guards: the sweep page draws speedup against concurrency, one line per draft/K, x = the levels."""
    from draftfinder.sweep.charts import build_chart_html, concurrency_figure

    data = levels_sweep()
    refresh_levels(data["results"], greedy=True)
    fig = concurrency_figure(data["results"])
    speed = [t for t in fig["data"] if t.get("meta") == "speedup-vs-concurrency"]
    assert len(speed) == 1 and speed[0]["x"] == [1, 4] and speed[0]["name"] == "smol + ngram K=4"
    assert speed[0]["y"] == [pytest.approx(2.0), pytest.approx(1.25)]
    page = build_chart_html(data)
    assert 'id="plot-concurrency"' in page and "speedup-vs-concurrency" in page
    for c in data["results"]:
        del c["concurrency"]
    assert concurrency_figure(data["results"]) is None
    assert 'data-skipped="f"' in build_chart_html(data)


def test_cli_table_shows_each_level():
    data = levels_sweep()
    refresh_levels(data["results"], greedy=True)
    table = concurrency_table(data["results"])
    rows = [ln.split() for ln in table.splitlines()[2:-1]]
    assert [(r[0], r[-9]) for r in rows] == [("smol", "1"), ("smol", "4"), ("smol", "1"), ("smol", "4")]
    assert "1.25×" in table and "75%" in table
    assert concurrency_table([{"target": "t", "draft": None, "status": "ok"}]) is None


# --- a real llama-server (slow) -------------------------------------------------------------------------------

# repeats give ngram-simple something to copy (a prompt with no earlier match makes the draft cell "flagged")
TINY = [Prompt(id="a", task="code", text="x = 1; y = 2; x = 1; y = 2; x = 1; y ="),
        Prompt(id="b", task="code", text="red green blue, red green blue, red green blue, red")]


@pytest.fixture(scope="module")
def llama(llama_server, smollm2_gguf):
    return llama_server


def _cfg(llama_server, tmp_path, **settings):
    from draftfinder.sweep.backends.llama_command import free_port

    prompts = tmp_path / "prompts.txt"
    prompts.write_text("\n".join(p.text for p in TINY) + "\n")
    s = {"runs": 1, "prompts": 2, "max_tokens": 8, "k": [3], "gpu_layers": 0, "ctx_size": 256, "threads": 1,
         "warmup": 0, "prompts_file": str(prompts), "port": free_port(), "concurrency": [1, 2],
         "llama_bin": str(Path(llama_server.path).parent)}
    s.update(settings)
    return sweep_config_from_dict({"name": "cc", "backend": "llamacpp", "targets": TARGET,
                                   "drafts": [{"label": "ngram", "type": "ngram", "n": 3}], "settings": s})


class Recording:
    """The real llamacpp backend, keeping every session it opened (to check the servers were stopped)."""

    def __init__(self, cfg):
        from draftfinder.sweep.backends.llamacpp import LlamaCppBackend

        self.real, self.sessions, self.pids, self.procs = LlamaCppBackend(cfg, {}), [], [], []
        self.name = "llamacpp"

    def open(self, *a):
        s = self.real.open(*a)
        self.sessions.append(s)
        self.pids.append(s.pid)
        self.procs.append(s.proc)
        return s

    def describe(self):
        return self.real.describe()


def _dead(pid):
    from tests.sweep.test_llamacpp import _alive

    return not _alive(pid)


@pytest.fixture(scope="module")
def swept(llama, tmp_path_factory):
    folder = tmp_path_factory.mktemp("cc")
    cfg = _cfg(llama, folder)
    backend = Recording(cfg)
    path = folder / "r.json"
    from draftfinder.sweep.runner import run_sweep

    return cfg, path, backend, run_sweep(cfg, path, backend=backend)


def test_levels_through_the_runner_with_llama_server(swept):
    """N = 1 and N = 2 with a real llama-server: -np 2 with ctx per slot kept, both streams measured, figures and
    speedup per level, every server stopped."""
    from draftfinder.sweep.backends import llamacpp

    cfg, path, backend, res = swept
    assert len(backend.sessions) == 4                              # (baseline, ngram) × (N = 1, N = 2)
    for c in (res.find("t", None, None), res.find("t", "ngram", 3)):
        assert c["status"] == "ok", c.get("error")
        one, two = find_level(c, 1), find_level(c, 2)
        assert one and two and two["status"] == "ok", two.get("error")
        argv = two["command"]
        assert argv[argv.index("-np") + 1] == "2" and argv[argv.index("-c") + 1] == "512"
        assert "--no-kv-unified" in argv and c["command"][c["command"].index("-np") + 1] == "1"
        assert two["requests"] == 2 and len(two["waves"]) == 1 and two["tokens"] > 0
        assert two["aggregate_tokens_per_s"] > 0 and two["median_tpot_ms"] > 0 and two["mean_ttft_s"] > 0
        assert len({r["prompt_id"] for r in two["requests_detail"]}) == 2
        assert 0.0 <= two["outputs_match_single_stream"] <= 1.0
    draft2 = find_level(res.find("t", "ngram", 3), 2)
    assert draft2["speedup"] is not None and draft2["baseline_aggregate_tokens_per_s"] > 0
    assert draft2["drafted"] is not None and draft2["acceptance_source"] == "per-request counts"
    assert all(s.proc is None for s in backend.sessions) and all(map(_dead, backend.pids)) and not llamacpp._LIVE
    assert res.meta["status"] == "complete"
    from draftfinder.sweep.charts import concurrency_figure

    assert concurrency_figure(res.cells) is not None


def test_resume_keeps_finished_levels(swept, llama):
    """Guards: resume per (cell, N): a rerun measures nothing done, and only a level that is missing."""
    from draftfinder.sweep.results import SweepResults
    from draftfinder.sweep.runner import run_sweep

    cfg, path, _, _ = swept
    again = Recording(cfg)
    res = run_sweep(cfg, path, backend=again)
    assert again.sessions == []
    stored = SweepResults.load(path)
    kept = {(c["target"], c.get("draft"), lvl["n"]): lvl.get("started") for c in stored.cells
            for lvl in c["concurrency"]}
    draft = stored.find("t", "ngram", 3)
    draft["concurrency"] = [lvl for lvl in draft["concurrency"] if lvl["n"] != 2]    # as if killed in level 2
    stored.save()
    again = Recording(cfg)
    res = run_sweep(cfg, path, backend=again)
    assert len(again.sessions) == 1 and again.sessions[0].command[again.sessions[0].command.index("-np") + 1] == "2"
    after = {(c["target"], c.get("draft"), lvl["n"]): lvl.get("started") for c in res.cells for lvl in c["concurrency"]}
    assert after.keys() == kept.keys()
    changed = [k for k in kept if kept[k] != after[k]]
    assert changed == [("t", "ngram", 2)]
    assert res.find("t", None, None)["started"] == SweepResults.load(path).find("t", None, None)["started"]


def _after_open(backend, seconds, action):
    """Run ``action(session)`` on a timer ``seconds`` after the backend opened a session (mid-level)."""
    opened = backend.open

    def open_then(*a):
        s = opened(*a)
        threading.Timer(seconds, action, args=(s,)).start()
        return s

    backend.open = open_then


def test_server_stopped_when_a_level_fails_or_is_interrupted(llama, tmp_path):
    """Guards: a level whose server dies mid-wave is a failed level (one line, the sweep goes on), and the
    level's server is stopped on Ctrl-C in the middle of a wave (runs=100: far longer than the 0.5 s) by its
    SIGTERM — the streams other threads still read are shut first; before, llama-server waited for those
    clients and was SIGKILLed after STOP_WAIT_S."""
    import os
    import signal

    from draftfinder.sweep.backends import llamacpp
    from draftfinder.sweep.runner import Cell

    cfg = _cfg(llama, tmp_path, runs=100)
    backend = Recording(cfg)
    _after_open(backend, 0.5, lambda s: os.kill(s.pid, signal.SIGKILL))
    level = run_level(backend, Cell(cfg.targets[0]), TINY, cfg.settings, 2)
    assert level["status"] == "failed" and "SIGKILL" in level["error"], level.get("error")
    assert backend.sessions[0].proc is None and _dead(backend.pids[0]) and not llamacpp._LIVE

    backend = Recording(cfg)
    _after_open(backend, 0.5, lambda s: os.kill(os.getpid(), signal.SIGINT))
    with pytest.raises(KeyboardInterrupt):
        run_level(backend, Cell(cfg.targets[0]), TINY, cfg.settings, 2)
    assert backend.sessions[0].proc is None and _dead(backend.pids[0]) and not llamacpp._LIVE
    assert backend.procs[0].returncode != -signal.SIGKILL, "llama-server ignored SIGTERM with streams in flight"


def test_openai_backend_serves_a_level_through_the_same_driver(llama, tmp_path):
    """The driver is backend-generic: two simultaneous streams through the openai backend's session (the path
    vLLM / SGLang / LM Studio sessions take), here against a real llama-server started with -np 2."""
    from draftfinder.sweep.backends.openai import OpenAIBackend
    from draftfinder.sweep.config import Entry, SweepConfig
    from draftfinder.sweep.runner import Cell

    cfg = _cfg(llama, tmp_path)
    server = Recording(cfg).real.open(cfg.targets[0], None, None, dataclasses.replace(cfg.settings, concurrency=[2]))
    try:
        entry = Entry(label="srv", url=f"http://127.0.0.1:{server.port}/v1")
        ocfg = SweepConfig(name="o", targets=[entry], backend="openai", settings=cfg.settings)
        level = run_level(OpenAIBackend(ocfg, {}), Cell(entry), TINY, cfg.settings, 2)
    finally:
        server.close()
    assert level["status"] == "ok", level.get("error")
    assert level["requests"] == 2 and level["tokens"] > 0 and level["aggregate_tokens_per_s"] > 0
    assert {r["slot"] for r in level["requests_detail"]} == {0, 1} and level["mean_ttft_s"] > 0
    ends = sorted(r["end_s"] for r in level["requests_detail"])
    starts = [r["end_s"] - r["total_s"] for r in level["requests_detail"]]
    assert max(starts) < ends[0]                      # the two requests were in flight at the same time
