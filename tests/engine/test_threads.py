"""torch thread count of the commands that run a model (engine/threads.py; --threads on generate, chat, measure).

Guards: the default never exceeds the idle physical cores (torch's own default, every core, ran the README's
generate example at 0.6 tok/s instead of 17.8 on a busy 2-core machine); ``--threads`` exists on every command
that runs a model and is validated before anything loads; the busy-machine hint names the flag.
"""

from __future__ import annotations

import pytest
import torch

from draftfinder.cli.main import build_parser, main
from draftfinder.engine import threads as th
from draftfinder.errors import EXIT_USAGE


@pytest.mark.parametrize("load, cpus, physical, want", [
    (0.0, 2, 2, 1),        # idle 2-core machine: one core left free
    (2.0, 2, 2, 1),        # busy 2-core machine (the issue's): never more than 1
    (5.3, 2, 2, 1),        # overloaded: still 1, never 0
    (0.2, 16, 8, 7),       # idle 8-core / 16-thread machine: physical cores, one free
    (6.0, 16, 8, 7),       # 10 idle logical CPUs, but only 8 physical cores
    (12.0, 16, 8, 3),      # 4 idle CPUs
    (0.0, 1, 1, 1),
])
def test_default_threads(load, cpus, physical, want):
    assert th.default_threads(load=load, cpus=cpus, physical=physical) == want


def test_default_threads_on_this_machine_stays_within_its_cores():
    n = th.default_threads()
    assert 1 <= n <= max(1, th.physical_cores())


def test_apply_threads_sets_torch():
    before = torch.get_num_threads()
    try:
        assert th.apply_threads(1) == 1 and torch.get_num_threads() == 1
        assert th.apply_threads(None) == th.default_threads() == torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


def test_busy_hint_names_the_flag(monkeypatch):
    monkeypatch.setattr(th, "load_average", lambda: 3.5)
    monkeypatch.setattr(th, "allowed_cpus", lambda: 2)
    hint = th.busy_machine_hint(1)
    assert "busy" in hint and "--threads N" in hint and "1 thread " in hint
    monkeypatch.setattr(th, "load_average", lambda: 0.1)
    assert th.busy_machine_hint(1) is None


@pytest.mark.parametrize("command", ["generate", "chat", "measure"])
def test_every_model_command_has_threads(command):
    parser = build_parser(command)
    assert any("--threads" in action.option_strings for action in parser._actions)
    assert "idle physical cores" in parser.format_help()


@pytest.mark.parametrize("argv", [
    ["generate", "zoo:smollm2-135m", "--draft", "ngram", "--prompt", "hi", "--threads", "0"],
    ["chat", "--target", "zoo:smollm2-135m", "--threads", "0"],
    ["measure", "zoo:smollm2-135m", "--draft", "ngram", "--threads", "0"],
])
def test_bad_thread_counts_are_refused_before_loading(argv, capsys):
    assert main(argv) == EXIT_USAGE
    assert "--threads must be a whole number ≥ 1, got 0" in capsys.readouterr().err
