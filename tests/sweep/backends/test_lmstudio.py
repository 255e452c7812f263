"""The ``lmstudio`` sweep backend against the LM Studio stand-ins (tests/standins/lms_standin.py: the ``lms``
CLI; lmstudio_standin.py: REST API v0 with ``draft_model`` and ``stats``). Nothing here ran against a real
LM Studio."""

from __future__ import annotations

import json
import socket

import pytest

from draftfinder.errors import EndpointError, UsageError
from draftfinder.sweep.backends import make_backend
from draftfinder.sweep.backends.lmstudio import model_key
from draftfinder.sweep.config import Entry, sweep_config_from_dict
from tests.sweep.backends.standin_env import processes_mentioning, run_sweep_cli, standin_env

IDS = ["qwen2.5-7b-instruct", "qwen2.5-0.5b-instruct", "lmstudio-community/gemma-3-1b-it"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_model_key_from_model_or_path():
    """``model`` is the key; a GGUF path matches an id by file stem (case-insensitive) or its last part."""
    assert model_key(Entry("a", model="my-key"), IDS) == "my-key"
    assert model_key(Entry("b", path="/models/Qwen2.5-7B-Instruct.gguf"), IDS) == "qwen2.5-7b-instruct"
    assert model_key(Entry("c", path="gemma-3-1b-it"), IDS) == "lmstudio-community/gemma-3-1b-it"
    with pytest.raises(UsageError) as err:
        model_key(Entry("d", path="/models/llama-70b.gguf"), IDS)
    assert "its models: qwen2.5-7b-instruct" in err.value.line() and "set \"model\"" in err.value.line()


def test_not_reachable_without_lms_is_one_line(tmp_path, monkeypatch):
    """No server and no `lms`: one line naming the address and how to start LM Studio's server."""
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    c = sweep_config_from_dict({"name": "t", "backend": "lmstudio", "targets": [{"label": "T", "model": "x"}],
                                "settings": {"server_url": f"http://127.0.0.1:{free_port()}"}})
    with pytest.raises(EndpointError) as err:
        make_backend(c)
    line = err.value.line()
    assert "LM Studio is not reachable at http://127.0.0.1:" in line and "lms server start" in line


@pytest.mark.slow
def test_sweep_cli_end_to_end(tmp_path, monkeypatch):
    """`draftfinder sweep --config` with backend lmstudio (draftbench keys; a GGUF path as target): `lms server
    start`, `lms load`, the draft per request, LM Studio's stats as drafted/accepted (28/12 per 20 tokens), a
    draft LM Studio does not have failed with its message, then the model unloaded and the server stopped."""
    standin_env(tmp_path, monkeypatch)
    port = free_port()
    config = {"name": "qwen25", "hardware": "m4-max", "backend": "lmstudio", "model_family": "Qwen2.5",
              "targets": [{"label": "7B", "path": "/models/Qwen2.5-7B-Instruct.gguf"}],
              "drafts": [{"label": "0.5B", "path": "/models/qwen2.5-0.5b-instruct.gguf"},
                         {"label": "ghost", "model": "no-such-draft"}],
              "settings": {"runs": 1, "max_tokens": 20, "temperature": 0.0, "gpu_layers": 99, "ctx_size": 4096,
                           "port": 8080, "server_url": f"http://127.0.0.1:{port}"}}
    out = run_sweep_cli(config, tmp_path)
    assert out.returncode == 1, out.stderr
    res = json.loads((tmp_path / "results.json").read_text())
    cells = {c["draft"]: c for c in res["results"]}
    assert cells[None]["status"] == "ok" and cells["0.5B"]["status"] == "ok"
    assert cells["0.5B"]["k"] is None and cells["0.5B"]["acceptance_rate"] == pytest.approx(12 / 28)
    assert cells["0.5B"]["runs"][0]["tps_source"] == "server"
    assert any(part.endswith("lms load qwen2.5-7b-instruct --context-length 4096 -y") for part in cells[None]["command"])
    assert "draft_model=qwen2.5-0.5b-instruct" in cells["0.5B"]["command"]
    assert cells["ghost"]["status"] == "failed" and 'Could not find draft model "no-such-draft"' in cells["ghost"]["error"]
    assert not processes_mentioning("tests.standins.lmstudio_standin")       # lms server stop ran
    log = (tmp_path / "lms-home" / "server.log").read_text()
    assert "/standin/load" in log and "/standin/unload" in log
