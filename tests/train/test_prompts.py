"""The seeded train / held-out split (train/prompts.py)."""

import pytest

from draftfinder.errors import PromptSetError
from draftfinder.measure.prompts import Prompt
from draftfinder.train.prompts import MIN_PROMPTS, load_split, split_prompts


def _prompts(n):
    return [Prompt(id=f"p{i}", task="custom", text=f"prompt {i}") for i in range(n)]


def test_human_eval_splits_134_30_disjoint_and_seeded():
    a = load_split("code", seed=0)
    assert len(a.train) == 134 and len(a.held_out) == 30
    assert not set(a.train_ids) & set(a.held_out_ids)
    assert len(set(a.train_ids) | set(a.held_out_ids)) == 164
    assert load_split("code", seed=0).held_out_ids == a.held_out_ids          # same seed, same split
    assert load_split("code", seed=1).held_out_ids != a.held_out_ids
    d = a.to_dict()
    assert d["train_prompts"] == 134 and d["held_out_prompts"] == 30 and d["held_out_ids"] == a.held_out_ids


def test_other_sets_hold_out_one_in_five():
    s = load_split("general", seed=0)
    assert (len(s.train), len(s.held_out)) == (20, 4)
    s = split_prompts(_prompts(10), seed=0, held_out=3)
    assert len(s.held_out) == 3 and len(s.train) == 7


def test_too_few_prompts_is_refused():
    """Guards: a 2-prompt set would train on 1 and hold out 1 (or crash): refused with the minimum named."""
    with pytest.raises(PromptSetError, match=f"at least {MIN_PROMPTS}"):
        split_prompts(_prompts(MIN_PROMPTS - 1))
    with pytest.raises(PromptSetError, match="appears more than once"):
        split_prompts(_prompts(5) + _prompts(1))
    with pytest.raises(PromptSetError, match="held-out"):
        split_prompts(_prompts(6), held_out=6)


def test_empty_prompts_file_is_a_prompt_set_error(tmp_path):
    f = tmp_path / "p.txt"
    f.write_text("\n\n")
    with pytest.raises(PromptSetError, match="0 prompts"):
        load_split(prompts_path=f)
