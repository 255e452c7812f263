"""--device / --dtype on generate, chat, measure, train, and settings.device / settings.dtype of sweep.

This machine has no GPU (a CPU build of torch): every CUDA request must be one line naming what was found,
exit 2, before any weights load, and nothing written.
"""

import argparse
import json

import pytest

from draftfinder.cli.main import command_flags, main
from draftfinder.errors import EXIT_USAGE

COMMANDS = {
    "generate": ["generate", "zoo:smollm2-135m", "--offline", "--quiet", "--draft", "ngram", "--prompt", "hi"],
    "chat": ["chat", "--target", "zoo:smollm2-135m", "--offline"],
    "measure": ["measure", "zoo:smollm2-135m", "--draft", "ngram", "--no-save", "--limit", "1"],
    "train": ["train", "zoo:smollm2-135m", "--out", "{tmp}/draft", "--steps", "1", "--no-measure"],
}


def _argv(name, tmp_path, *extra):
    return [a.replace("{tmp}", str(tmp_path)) for a in COMMANDS[name]] + list(extra)


def _one_line(err):
    lines = [l for l in err.strip().splitlines() if l.strip()]
    assert "Traceback" not in err
    return lines[-1]


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_command_has_both_flags(name):
    assert {"--device", "--dtype"} <= command_flags(name)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_cuda_here_is_one_line_before_anything_loads(name, tmp_path, capsys):
    """Guards issue 13: chat refused every device but the CPU ("the engine runs on the CPU only"), train said
    only "no CUDA device here"; generate and measure had no --device at all."""
    import torch

    assert not torch.cuda.is_available()
    assert main(_argv(name, tmp_path, "--device", "cuda")) == EXIT_USAGE
    out, err = capsys.readouterr()
    line = _one_line(err)
    assert "--device cuda: no CUDA device (torch " in line and "found: cpu)" in line
    assert "— use --device cpu" in line and out == ""
    assert not (tmp_path / "draft").exists() and not (tmp_path / "draft.work").exists()


@pytest.mark.parametrize("name", sorted(COMMANDS))
@pytest.mark.parametrize("flag, value, needle", [("--device", "tpu", "--device: unknown device 'tpu'"),
                                                 ("--dtype", "int8", "--dtype: unknown dtype 'int8'")])
def test_misspelt_values_are_refused(name, flag, value, needle, tmp_path, capsys):
    assert main(_argv(name, tmp_path, flag, value)) == EXIT_USAGE
    assert needle in _one_line(capsys.readouterr().err)


def test_chat_accepts_devices_now():
    """The old check_args refused anything but cpu; now cpu, auto and cuda:N pass the spelling check (the device
    itself is resolved when the command runs)."""
    from draftfinder.cli import chat_cmd

    p = argparse.ArgumentParser()
    chat_cmd.configure(p)
    for device in ("cpu", "auto", "cuda:1", "mps"):
        chat_cmd.check_args(p.parse_args(["--target", "x", "--device", device, "--dtype", "bf16"]))


def _sweep_config(tmp_path, **settings):
    p = tmp_path / "s.json"
    p.write_text(json.dumps({"name": "s", "backend": "engine", "targets": [{"label": "T", "path": "zoo:smollm2-135m"}],
                             "drafts": ["ngram"], "settings": {"max_tokens": 4, "prompts": 1, **settings}}))
    return p


def test_sweep_settings_are_checked_in_the_config(tmp_path, capsys):
    from draftfinder.errors import ConfigError
    from draftfinder.sweep.config import load_sweep_config

    cfg = load_sweep_config(_sweep_config(tmp_path, device="CUDA:1", dtype="bfloat16"))
    assert (cfg.settings.device, cfg.settings.dtype) == ("cuda:1", "bf16")
    with pytest.raises(ConfigError, match="settings.device"):
        load_sweep_config(_sweep_config(tmp_path, device="tpu"))
    with pytest.raises(ConfigError, match="settings.dtype"):
        load_sweep_config(_sweep_config(tmp_path, dtype="int4"))


def test_sweep_on_cuda_here_fails_in_one_line_and_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = _sweep_config(tmp_path, device="cuda")
    assert main(["sweep", "--config", str(cfg), "--quiet", "--no-chart"]) == EXIT_USAGE
    line = _one_line(capsys.readouterr().err)
    assert "settings.device cuda: no CUDA device" in line and "set settings.device: cpu" in line
    assert not (tmp_path / "results").exists()
