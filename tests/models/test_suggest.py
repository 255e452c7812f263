"""Misspelled model ids get "did you mean …?" (models/suggest.py, hooked into Resolver.resolve).

Before issue 11 a typo such as ``Qwen/Qwen2.5-7B-Instrcut`` ended with "not available offline" and nothing
else: these tests fail on that behaviour (no ``suggestions``, no "did you mean" in the hint).
"""

from __future__ import annotations

import shutil

import pytest

from draftfinder.cli.main import main
from draftfinder.errors import EXIT_NOT_FOUND, ModelNotFoundError, OfflineUnavailableError
from draftfinder.models.resolver import Resolver
from draftfinder.models.suggest import close_names

from tests.conftest import fixture_dir


def test_the_issue_typo_offline_suggests_the_instruct_model():
    """Guards the issue's example: Qwen/Qwen2.5-7B-Instrcut → did you mean Qwen/Qwen2.5-7B-Instruct."""
    with pytest.raises(OfflineUnavailableError) as info:
        Resolver(offline=True).resolve("Qwen/Qwen2.5-7B-Instrcut")
    err = info.value
    assert err.suggestions[0] == "Qwen/Qwen2.5-7B-Instruct"
    assert err.hint_for("find").startswith("did you mean Qwen/Qwen2.5-7B-Instruct?")
    assert "--offline" in err.hint_for("find")            # the original fix is still offered after it


def test_cli_prints_one_line_with_the_suggestion(capsys):
    code = main(["find", "Qwen/Qwen2.5-7B-Instrcut", "--offline"])
    out, err = capsys.readouterr()
    assert code == EXIT_NOT_FOUND
    lines = [line for line in err.splitlines() if line.startswith("draftfinder:")]
    assert len(lines) == 1 and "Traceback" not in err
    assert "did you mean Qwen/Qwen2.5-7B-Instruct?" in lines[0]
    assert out == ""


def test_missing_owner_and_wrong_case_find_the_catalog_id():
    assert close_names("Qwen2.5-7B-Instruct", ["Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-7B"])[0] == \
        "Qwen/Qwen2.5-7B-Instruct"
    assert close_names("meta-llama/llama-3.1-8b-instrct", ["meta-llama/Llama-3.1-8B-Instruct"]) == \
        ["meta-llama/Llama-3.1-8B-Instruct"]


def test_unrelated_names_get_no_suggestion_and_the_hint_is_unchanged():
    with pytest.raises(OfflineUnavailableError) as info:
        Resolver(offline=True).resolve("totally/unrelated-model")
    assert info.value.suggestions == []
    assert "did you mean" not in (info.value.hint or "")


def test_paths_are_never_second_guessed(tmp_path):
    with pytest.raises(ModelNotFoundError) as info:
        Resolver(offline=True).resolve("./Qwen2.5-7B-Instrcut")
    assert "did you mean" not in (info.value.hint or "")


def test_offline_never_suggests_a_hub_only_name():
    """Known-good drafts that are not in the catalog cannot be resolved offline: not offered there."""
    r = Resolver(offline=True)
    assert all(r.catalog.has(name) or name.startswith("zoo:") for name in r.suggestions("Qwen/Qwen2.5-3B-Instruc"))


def test_zoo_and_models_dir_names_are_suggested(tmp_path):
    folder = tmp_path / "models" / "my-qwen-draft"
    shutil.copytree(fixture_dir("Qwen/Qwen2.5-0.5B"), folder)
    r = Resolver(offline=True, models_dirs=[str(tmp_path / "models")])
    assert "zoo:smollm2-135m" in r.suggestions("zoo:smollm2-135")
    local_id = r.local_records()[0].model_id
    assert local_id in r.suggestions(local_id[:-1] + "x")


def test_suggestions_are_typos_not_other_models():
    names = ["Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-72B-Instruct", "Qwen/Qwen2.5-3B-Instruct",
             "Qwen/Qwen2.5-0.5B-Instruct", "Qwen/Qwen2.5-7B", "meta-llama/Llama-2-7b-chat-hf",
             "mistralai/Mixtral-8x7B-v0.1"]
    assert close_names("Qwen/Qwen2.5-7B-Instrcut", names) == ["Qwen/Qwen2.5-7B-Instruct"]
    assert close_names("Qwen/Qwen2.5-7B-Instrcut", list(reversed(names))) == ["Qwen/Qwen2.5-7B-Instruct"]
    assert close_names("Qwen/Qwen2.5-Coder-32B-Instruct", names) == []       # another model, not a typo
    assert close_names("meta-llama/Llama-2-70b-chat-hf", names) == []       # sizes are chosen, not mistyped
    assert close_names("mistralai/Mixtral-8x7B-Instruct-v0.1", names) == []


def test_an_alias_offers_its_canonical_id_once():
    names = {"gpt2-large": "openai-community/gpt2-large", "openai-community/gpt2-large": "openai-community/gpt2-large"}
    assert close_names("gpt2-larg", names) == ["openai-community/gpt2-large"]
