"""Drafter specs and the checks that run before any weights load (engine/drafter_specs.py), through every command
that runs a model: generate, chat, measure and the sweep's engine backend.

Models: real config + tokenizer files of public models (../shared/fixtures; they hold no weights, so a command
that reached the weight loader fails there with "no weights"). Whether the loader was reached is observed by
recording the calls to ``engine.loading.load_model`` (the real function still runs): a refused drafter must
leave that list empty, however long loading would have taken.
"""

from __future__ import annotations

import pytest

from draftfinder.cli.main import main
from draftfinder.engine import loading
from draftfinder.engine.drafter_specs import check_drafter_spec, layer_count, parse_drafter_spec
from draftfinder.errors import EXIT_USAGE, UsageError
from draftfinder.models.resolver import Resolver
from tests.conftest import fixture_dir


@pytest.fixture()
def load_calls(monkeypatch):
    """Every name ``engine.loading.load_model`` is called with, in order; the loader itself still runs."""
    calls = []
    real = loading.load_model

    def recording(name, **kw):
        calls.append(name)
        return real(name, **kw)

    monkeypatch.setattr(loading, "load_model", recording)
    return calls


@pytest.fixture()
def qwen7b(fixtures):
    return str(fixture_dir("Qwen/Qwen2.5-7B"))            # 28 layers, Qwen2 tokenizer, no weights


@pytest.mark.parametrize("spec, kind, detail", [
    ("ngram", "ngram", ("basic", 3)),
    ("ngram:onelevel:4", "ngram", ("onelevel", 4)),
    ("layerskip:12", "layerskip", 12),
    ("zoo:smollm2-135m", "model", "zoo:smollm2-135m"),
    ("model:zoo:smollm2-135m", "model", "zoo:smollm2-135m"),
    ("Qwen/Qwen2.5-0.5B", "model", "Qwen/Qwen2.5-0.5B"),
    ("./models/a:b.gguf", "model", "./models/a:b.gguf"),
])
def test_parse_good_specs(spec, kind, detail):
    p = parse_drafter_spec(spec)
    assert p.kind == kind
    assert {"ngram": (p.storage, p.n), "layerskip": p.layers, "model": p.model}[kind] == detail


@pytest.mark.parametrize("spec, needle", [
    ("bogus:1", "unknown drafter 'bogus:1'"), ("ngram:trie:3", "ngram:trie:3"), ("ngram:basic:1", "N ≥ 2"),
    ("layerskip:x", "layerskip:x"), ("layerskip:0", "N ≥ 1"), ("model:", "no model"), ("  ", "empty"),
])
def test_parse_bad_specs_name_the_problem_and_the_forms(spec, needle):
    with pytest.raises(UsageError) as err:
        parse_drafter_spec(spec)
    assert needle in err.value.line()


def test_layer_count_reads_the_config_or_its_text_config():
    assert layer_count({"num_hidden_layers": 30}) == 30
    assert layer_count({"text_config": {"num_hidden_layers": 18}}) == 18
    assert layer_count({}) is None and layer_count(None) is None


def test_check_against_the_target_without_weights(qwen7b):
    resolver = Resolver(offline=True)
    assert check_drafter_spec("layerskip:27", qwen7b, resolver).layers == 27
    with pytest.raises(UsageError, match="between 1 and 27"):
        check_drafter_spec("layerskip:28", qwen7b, resolver)
    assert check_drafter_spec(str(fixture_dir("Qwen/Qwen2.5-0.5B")), qwen7b, resolver).kind == "model"
    with pytest.raises(UsageError, match="cannot draft for"):
        check_drafter_spec(str(fixture_dir("gpt2")), qwen7b, resolver)


def _gguf(path, model: str, n_tokens: int):
    """A GGUF file with only a tokenizer header (written by the gguf package, no tensors)."""
    import gguf

    from draftfinder.models.sources.base import ModelRecord

    w = gguf.GGUFWriter(str(path), "llama")
    w.add_tokenizer_model(model)
    w.add_token_list([f"t{i}" for i in range(n_tokens)])
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return ModelRecord(model_id=path.name, source="gguf", gguf_path=path)


def test_gguf_headers_decide_clear_mismatches_without_building_tokenizers(tmp_path):
    """Guards the ≤ 3 s refusal of zoo:gemma3-270m with zoo:smollm2-135m: building Gemma-3's 262,144-token
    tokenizer took 9–15 s here; the two headers already prove the mismatch."""
    from draftfinder.engine.drafter_specs import header_mismatch

    bpe = _gguf(tmp_path / "bpe.gguf", "gpt2", 3000)
    assert "tokenizer model is 'llama', the draft's 'gpt2'" in header_mismatch(_gguf(tmp_path / "spm.gguf", "llama", 3000), bpe)
    assert "2,000 extra token(s)" in header_mismatch(_gguf(tmp_path / "big.gguf", "gpt2", 5000), _gguf(tmp_path / "s.gguf", "gpt2", 3000))
    assert header_mismatch(_gguf(tmp_path / "near.gguf", "gpt2", 3100), bpe) is None      # within 1024: compat decides
    assert header_mismatch(bpe, fixture_record("Qwen/Qwen2.5-0.5B")) is None                # a folder: compat decides


def fixture_record(name):
    return Resolver(offline=True).resolve(str(fixture_dir(name)))


@pytest.mark.slow
def test_the_issue_pair_is_refused_before_loading(gemma_gguf, smollm2_gguf, load_calls, capsys):
    """The issue's own case: ``generate zoo:gemma3-270m --draft zoo:smollm2-135m`` (58–68 s before refusing)."""
    code = main(["generate", str(gemma_gguf), "--offline", "--draft", str(smollm2_gguf), "--prompt", "hi", "--quiet"])
    err = capsys.readouterr().err
    assert code == EXIT_USAGE and "cannot draft for" in err and "tokenizer model" in err
    assert load_calls == []


# --- every command refuses before the loader is reached ----------------------------------------------------------

BAD_DRAFTS = [("bogus:1", "unknown drafter 'bogus:1'"), ("layerskip:28", "between 1 and 27"),
              ("fixture:gpt2", "cannot draft for")]            # gpt2's tokenizer is not Qwen2's
IDS = ["unknown-kind", "layers", "tokenizer"]


def _draft(spec: str) -> str:
    return str(fixture_dir(spec.split(":", 1)[1])) if spec.startswith("fixture:") else spec


@pytest.mark.parametrize("draft, needle", BAD_DRAFTS, ids=IDS)
def test_generate_refuses_a_bad_drafter_before_loading_weights(qwen7b, load_calls, capsys, draft, needle):
    """Guards fail-fast: ``generate TARGET --draft bogus:1`` took 18 s (and an incompatible draft model 58–68 s)
    to load the target before refusing."""
    code = main(["generate", qwen7b, "--offline", "--draft", _draft(draft), "--prompt", "hi", "--quiet"])
    err = capsys.readouterr().err
    assert code == EXIT_USAGE and needle in err and "Traceback" not in err
    assert load_calls == []


def test_generate_reaches_the_loader_once_the_drafter_passes(qwen7b, load_calls, capsys):
    """The order of operations: a compatible draft passes the checks, then the target's load is attempted (and
    fails on this weightless fixture with its own message)."""
    code = main(["generate", qwen7b, "--offline", "--draft", str(fixture_dir("Qwen/Qwen2.5-0.5B")), "--prompt", "hi",
                 "--quiet"])
    err = capsys.readouterr().err
    assert code != 0 and "weights" in err and "cannot draft" not in err
    assert load_calls == [qwen7b]


@pytest.mark.parametrize("draft, needle", BAD_DRAFTS, ids=IDS)
def test_chat_refuses_a_bad_drafter_before_loading_weights(qwen7b, load_calls, capsys, draft, needle):
    code = main(["chat", "--target", qwen7b, "--offline", "--draft", _draft(draft)])
    err = capsys.readouterr().err
    assert code == EXIT_USAGE and needle in err and "Traceback" not in err
    assert load_calls == []


@pytest.mark.parametrize("draft, needle", BAD_DRAFTS, ids=IDS)
def test_measure_refuses_a_bad_drafter_before_loading_weights(qwen7b, load_calls, capsys, draft, needle):
    code = main(["measure", qwen7b, "--draft", "ngram", "--draft", _draft(draft), "--no-save", "--limit", "1"])
    err = capsys.readouterr().err
    assert code == EXIT_USAGE and needle in err and "Traceback" not in err
    assert load_calls == []


def test_the_sweep_engine_backend_fails_a_bad_draft_cell_before_loading_weights(qwen7b, load_calls):
    """The sweep records a failed cell and goes on (``--retry-failed`` reruns it); the cell now fails at its
    check, not after the target's (and the draft model's) weights loaded."""
    from draftfinder.sweep.backends.engine import EngineBackend
    from draftfinder.sweep.config import Entry, Settings, SweepConfig

    target = Entry(label="qwen", path=qwen7b)
    cfg = SweepConfig(name="t", targets=[target], drafts=[Entry(label="deep", type="layerskip", layers=28)])
    backend = EngineBackend(cfg, {"threads": 1})
    with pytest.raises(UsageError, match="between 1 and 27"):
        backend.open(target, cfg.drafts[0], 2, Settings())
    with pytest.raises(UsageError, match="cannot draft for"):
        backend.open(target, Entry(label="gpt2", path=str(fixture_dir("gpt2"))), 2, Settings())
    assert load_calls == []
