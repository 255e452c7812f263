"""The command line as a user meets it: formats, exit codes, one-line errors, no token ever printed."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from draftfinder.cli.main import main
from draftfinder.errors import EXIT_AUTH, EXIT_NETWORK, EXIT_NOT_FOUND, EXIT_NO_RESULT, EXIT_USAGE
from draftfinder.version import __version__

from tests.conftest import REPO
from tests.hubserver import HubServer

SECRET = "hf_loopbacksecret0123456789"


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(err: str):
    lines = [line for line in err.strip().splitlines() if line.startswith("draftfinder:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert " — " in lines[0]          # problem — fix


def test_version_from_a_clone_and_as_module():
    for cmd in ([sys.executable, "draftfinder.py", "--version"], [sys.executable, "-m", "draftfinder", "--version"]):
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == f"DraftFinder v{__version__}"


def test_help_lists_commands_and_manual_flags(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--top-n", "--max-candidates", "--task", "--token", "--verbose", "--show-test-details",
                 "--export", "--lenient-tokenization", "--config", "--generate-config", "--version",
                 "--models-dir", "--hardware", "--format", "--offline"):
        assert flag in out
    assert "estimate" in out


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_generate_config_round_trips(capsys, tmp_path, fmt):
    code, out, _ = run(capsys, "--generate-config", fmt)
    assert code == 0
    path = tmp_path / f"c.{fmt}"
    path.write_text(out)
    code, out, err = run(capsys, "--config", str(path), "--offline", "-q", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["target_model"]["model_id"] == "Qwen/Qwen2.5-7B-Instruct"


def test_offline_main_job_table(capsys):
    code, out, err = run(capsys, "Qwen/Qwen2.5-7B-Instruct", "--top-n", "5", "--offline")
    assert code == 0, err
    assert "DRAFT MODEL RECOMMENDATIONS" in out
    assert "built-in catalog" in out
    assert "Qwen/Qwen2.5-0.5B" in out and "Qwen/Qwen2.5-1.5B" in out
    assert "Recommended K:" in out and "(estimated" in out
    assert "llama.cpp: accepts (shared-vocab)" in out     # captured stdout is no terminal: words, no symbols
    assert not any(sym in out for sym in ("✓", "✗", "🎯", "📊", "🏆", "⚠", "📈", "📝"))
    assert "[1/" in err                              # progress on stderr, not stdout


@pytest.mark.parametrize("fmt, parse", [("json", json.loads), ("yaml", yaml.safe_load)])
def test_machine_formats(capsys, fmt, parse, tmp_path):
    export = tmp_path / "out.json"
    code, out, err = run(capsys, "Qwen/Qwen2.5-7B", "--offline", "-q", "--format", fmt, "--export", str(export))
    assert code == 0, err
    data = parse(out)
    ids = [d["model_id"] for d in data["draft_models"]]
    assert ids[:2] == ["Qwen/Qwen2.5-0.5B", "Qwen/Qwen2.5-1.5B"]       # base drafts of its line first (base target)
    assert [d["model_id"] for d in json.loads(export.read_text())["draft_models"]] == ids


def test_hardware_changes_k_and_speedup(capsys):
    def best(hw):
        code, out, err = run(capsys, "Qwen/Qwen2.5-7B", "--offline", "-q", "--format", "json", "--hardware", hw)
        assert code == 0, err
        return json.loads(out)["draft_models"][0]
    cpu, h100 = best("cpu"), best("h100")
    assert cpu["hardware"] == "cpu" and h100["hardware"] == "h100"
    assert cpu["cost_ratio"] != h100["cost_ratio"]


@pytest.mark.parametrize("argv, code, needle", [
    (["gpt2-xl", "--offline"], EXIT_NOT_FOUND, "not available offline"),
    ([], EXIT_USAGE, "no target model"),
    (["Qwen/Qwen2.5-7B", "--offline", "--hardware", "tpu9"], EXIT_USAGE, "hardware"),
    (["Qwen/Qwen2.5-7B", "--offline", "--top-n", "0"], EXIT_USAGE, "top_n"),
    (["./no/such/folder"], EXIT_NOT_FOUND, "not found"),
])
def test_bad_input_is_one_line_and_nonzero(capsys, argv, code, needle):
    got, out, err = run(capsys, *argv, "-q")
    assert got == code, err
    assert needle in err
    assert_one_line_error(err)


def test_bad_config_names_the_key(capsys, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("target_model: gpt2\nsearch:\n  max_size_ratio: lots\n")
    code, _, err = run(capsys, "--config", str(path))
    assert code == EXIT_USAGE
    assert "search.max_size_ratio" in err and "a number" in err
    assert_one_line_error(err)


def test_unreadable_gguf(capsys, tmp_path):
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"not a gguf file at all" * 10)
    code, _, err = run(capsys, str(bad), "-q")
    assert code == EXIT_USAGE
    assert "broken.gguf" in err
    assert_one_line_error(err)


def test_debug_variable_shows_the_traceback(capsys, monkeypatch):
    monkeypatch.setenv("DRAFTFINDER_DEBUG", "1")
    code, _, err = run(capsys, "gpt2-xl", "--offline", "-q")
    assert code == EXIT_NOT_FOUND
    assert "Traceback" in err


def test_no_compatible_drafts_exits_6_and_keeps_the_export(capsys, tmp_path):
    export = tmp_path / "none.json"
    code, _, err = run(capsys, "mistralai/Mistral-7B-v0.1", "--offline", "-q", "--export", str(export))
    assert code == EXIT_NO_RESULT
    assert "no compatible draft models" in err
    data = json.loads(export.read_text())
    assert data["draft_models"] == [] and data["target_model"]["model_id"] == "mistralai/Mistral-7B-v0.1"


@pytest.fixture
def hub(monkeypatch):
    with HubServer() as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        yield server


@pytest.mark.slow
def test_gated_model_without_and_with_token(capsys, hub, monkeypatch, tmp_path):
    hub.gate("meta-llama/Llama-2-7b-hf", allowed_tokens=[SECRET])
    code, out, err = run(capsys, "meta-llama/Llama-2-7b-hf", "-q")
    assert code == EXIT_AUTH
    assert "gated" in err and "HF_TOKEN" in err
    assert_one_line_error(err)

    export = tmp_path / "llama.json"
    code, out, err = run(capsys, "meta-llama/Llama-2-7b-hf", "--token", SECRET, "--verbose", "--export", str(export))
    assert code in (0, EXIT_NO_RESULT), err
    for text in (out, err, export.read_text() if export.exists() else ""):
        assert SECRET not in text
    assert any(r.authorized for r in hub.requests)


def test_rate_limited(capsys, hub):
    hub.fail("/api/models/Qwen/Qwen2.5-7B", status=429, retry_after="7")
    code, _, err = run(capsys, "Qwen/Qwen2.5-7B", "-q")
    assert code == EXIT_NETWORK
    assert "429" in err
    assert_one_line_error(err)


@pytest.mark.slow
def test_online_find_through_the_console_script_process(hub, tmp_path):
    """The installed entry point in a separate process, against the loopback Hub."""
    env = {**os.environ, "HF_ENDPOINT": hub.url}
    proc = subprocess.run([sys.executable, "-m", "draftfinder", "Qwen/Qwen2.5-7B", "--top-n", "5", "--format", "json"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["target_model"]["source"] == "hub"
    assert {d["model_id"] for d in data["draft_models"]} == {"Qwen/Qwen2.5-0.5B", "Qwen/Qwen2.5-1.5B"}
    assert all(set(d["engines"]) == {"transformers", "vllm", "sglang", "llama.cpp"} for d in data["draft_models"])


@pytest.mark.slow
def test_show_test_details_prints_ids_and_tokens_of_failures(capsys, tmp_path):
    """Manual §7.8: the ids and tokens of the test strings that tokenize differently (Mistral vs TinyLlama)."""
    import shutil

    from tests.conftest import fixture_dir

    models = tmp_path / "models"
    for name in ("mistralai/Mistral-7B-v0.1", "TinyLlama/TinyLlama-1.1B-Chat-v1.0"):
        shutil.copytree(fixture_dir(name), models / name.split("/")[1])
    code, _, err = run(capsys, str(models / "Mistral-7B-v0.1"), "--models-dir", str(models), "--offline", "-q",
                       "--show-test-details")
    assert code == EXIT_NO_RESULT
    assert "Failed Test Details:" in err and "📋" not in err          # stderr is no terminal here: no symbols
    for needle in ("Target IDs:", "Draft IDs:", "Target tokens:", "Draft tokens:"):
        assert needle in err


# --- issue 9 §2: one document per --format, the right message for each mistake ----------------------------

@pytest.mark.parametrize("fmt, parse", [("json", json.loads), ("yaml", yaml.safe_load)])
def test_no_compatible_draft_is_still_one_document(capsys, tmp_path, fmt, parse):
    """Guards issue 9 §2: `draftfinder TARGET --models-dir DIR --format json` with no compatible draft printed
    nothing."""
    import shutil

    from tests.conftest import fixture_dir

    models = tmp_path / "models"
    shutil.copytree(fixture_dir("TinyLlama/TinyLlama-1.1B-Chat-v1.0"), models / "TinyLlama")
    code, out, err = run(capsys, "mistralai/Mistral-7B-v0.1", "--offline", "-q", "--models-dir", str(models),
                         "--format", fmt)
    assert code == EXIT_NO_RESULT
    data = parse(out)
    assert data["draft_models"] == [] and data["rejected_models"]
    assert data["error"]["exit_code"] == EXIT_NO_RESULT and "no compatible draft" in data["error"]["message"]
    assert_one_line_error(err)


@pytest.mark.parametrize("argv, code, kind", [
    (["gpt2-xl", "--offline"], EXIT_NOT_FOUND, "OfflineUnavailableError"),
    (["Qwen/Qwen2.5-7B", "--offline", "--top-n", "0"], EXIT_USAGE, "NumberError"),
    (["Qwen/Qwen2.5-7B", "--offline", "--no-such-flag"], EXIT_USAGE, "UsageError"),
    (["estimate", "--target-params", "1e30", "--target-layers", "32", "--draft-params", "1B", "--draft-layers", "8"],
     EXIT_USAGE, "NumberError"),
    (["measure", "zoo:smollm2-135m"], EXIT_USAGE, "UsageError"),
])
def test_errors_are_an_error_document_with_a_machine_format(capsys, argv, code, kind):
    got, out, err = run(capsys, *argv, "--format", "json")
    assert got == code, err
    doc = json.loads(out)
    assert set(doc) == {"error"}
    assert doc["error"]["exit_code"] == code and doc["error"]["type"] == kind and doc["error"]["message"]
    assert_one_line_error(err)


def test_error_document_from_the_config_format(capsys, tmp_path):
    """output.format: json in --config makes errors a JSON document too."""
    path = tmp_path / "c.yaml"
    path.write_text("target_model: gpt2-xl\noffline: true\noutput:\n  format: json\n")
    code, out, _ = run(capsys, "--config", str(path), "-q")
    assert code == EXIT_NOT_FOUND and json.loads(out)["error"]["type"] == "OfflineUnavailableError"


def test_help_command_shows_help(capsys):
    """Guards issue 9 §2: `draftfinder help` said "model 'help' is not available offline"."""
    code, out, err = run(capsys, "help")
    assert code == 0 and "usage: draftfinder" in out and "commands (" in out and "ranking:" in out
    code, out, _ = run(capsys, "help", "measure")
    assert code == 0 and out.startswith("usage: draftfinder measure")


def test_an_existing_folder_without_model_files_is_named_as_such(capsys, tmp_path, monkeypatch):
    """Guards issue 9 §2: `draftfinder bad/empty` (an existing folder) was treated as a Hub id."""
    (tmp_path / "bad" / "empty").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "bad/empty", "--offline", "-q")
    assert code == EXIT_USAGE
    assert "a folder without config.json, tokenizer files or a .gguf file" in err and "Hub" not in err
    assert_one_line_error(err)


def test_a_missing_models_dir_is_an_error(capsys, tmp_path):
    """Guards issue 9 §2: a nonexistent --models-dir was silently ignored."""
    code, _, err = run(capsys, "Qwen/Qwen2.5-7B", "--offline", "-q", "--models-dir", str(tmp_path / "nope"))
    assert code == EXIT_USAGE and "does not exist" in err and "--models-dir" in err
    assert_one_line_error(err)


@pytest.mark.parametrize("argv, wrong", [
    (["measure", "no-owner/no-model-xyz", "--draft", "ngram"], ("--models-dir", "--offline")),
    (["sweep", "--config", "CFG"], ("--generate-config",)),
])
def test_hints_name_only_flags_the_command_has(capsys, tmp_path, monkeypatch, argv, wrong):
    """Guards issue 9 §2: measure suggested --models-dir, sweep config errors pointed at find's
    --generate-config."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cfg = tmp_path / "s.json"
    cfg.write_text(json.dumps({"name": "x", "targets": [{"label": "t", "path": "zoo:smollm2-135m"}],
                               "settings": {"runs": "two"}}))
    code, _, err = run(capsys, *[str(cfg) if a == "CFG" else a for a in argv])
    assert code != 0 and " — " in err
    for flag in wrong:
        assert flag not in err, err
