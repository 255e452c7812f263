"""draftfinder lint through the CLI: exit codes 0/1/2, --format json, stdin and --file."""

import io
import json

from draftfinder.cli.main import main


def test_exit_codes_and_json(capsys):
    """Guards the documented exit codes: 1 with an error finding, 0 without, 2 for unreadable input."""
    assert main(["lint", "--format", "json", "llama-server -m t.gguf -md d.gguf"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["errors"] >= 1 and doc["commands"][0]["findings"][0]["enforced_at"]
    assert main(["lint", "llama-server -m t.gguf -md d.gguf --spec-type draft-simple -ngl 99 -ngld 99"]) == 0
    capsys.readouterr()
    assert main(["lint", "llama-server -m 'oops"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'oops" in err[0] and "Traceback" not in err[0]


def test_json_error_document(capsys):
    assert main(["lint", "--format", "json", "vllm serve x --speculative-config '{bad'"]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert doc["error"]["exit_code"] == 2 and "{bad" in doc["error"]["message"]


def test_stdin_and_file(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("llama-server -m t.gguf -md d.gguf\n"))
    assert main(["lint", "-"]) == 1
    assert "draft-model-without-spec-type" in capsys.readouterr().out
    f = tmp_path / "serve.sh"
    f.write_text("vllm serve facebook/opt-6.7b --speculative-config '{\"model\": \"facebook/opt-125m\", "
                 "\"num_speculative_tokens\": 5}'\n")
    assert main(["lint", "--file", str(f)]) == 0
    assert main(["lint", "--file", str(tmp_path / "missing.sh")]) == 2


def test_words_after_double_dash(capsys):
    assert main(["lint", "--", "llama-server", "-m", "t.gguf", "-md", "d.gguf"]) == 1
