"""Reading a server's options from its argparse ``--help`` (sweep/backends/server_help.py)."""

from __future__ import annotations

import pytest

from draftfinder.sweep.backends.server_help import find_vllm, parse_help
from tests.sweep.backends.standin_env import standin_env

HELP = """usage: launch_server.py [-h] --model-path MODEL_PATH
                        [--speculative-algorithm {EAGLE,EAGLE3,NEXTN}]

options:
  -h, --help            show this help message and exit
  --model-path MODEL_PATH, --model MODEL_PATH
                        The path of the model weights.
  --speculative-algorithm {EAGLE,EAGLE3,NEXTN}
                        Speculative algorithm.
  --tensor-parallel-size TENSOR_PARALLEL_SIZE, --tp-size TENSOR_PARALLEL_SIZE
                        The tensor parallelism size. --not-an-option here
"""


def test_parse_help_rows_spellings_and_choices():
    opts = parse_help(HELP)
    assert {"--model-path", "--model", "--tensor-parallel-size", "--tp-size", "-h", "--help"} <= set(opts)
    assert opts["--speculative-algorithm"] == ["EAGLE", "EAGLE3", "NEXTN"]
    assert "--not-an-option" not in opts                  # words inside a description are not options


@pytest.mark.slow
@pytest.mark.parametrize("legacy", [False, True])
def test_probe_current_and_legacy_vllm(tmp_path, monkeypatch, legacy):
    """Current vLLM lists its options only with --help=all; a legacy one refuses =all and is read from --help."""
    standin_env(tmp_path, monkeypatch)
    if legacy:
        monkeypatch.setenv("STANDIN_VLLM_LEGACY", "1")
    h = find_vllm(None)
    assert h.source == "PATH" and h.program[1] == "serve"
    assert h.has("--speculative-config") is (not legacy)
    assert h.has("--speculative-model") is legacy
    assert h.version == ("0.6.3.post1" if legacy else "0.11.0")
