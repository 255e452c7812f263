"""IndependentStudent (train/independent.py) on the real zoo:smollm2-135m: at step 0 it is the target's layer-skip
self-draft (same logits), a few real steps lower the loss, and the saved folder reloads with the same logits."""

import pytest
import torch

from draftfinder.errors import UsageError


@pytest.fixture(scope="module")
def data(smollm2):
    from draftfinder.measure.prompts import Prompt
    from draftfinder.train.teacher import build_teacher_data

    ps = [Prompt(f"p{i}", "code", t) for i, t in enumerate(
        ["def add(a, b):\n", "import os\n\ndef list_files(path):\n", "class Stack:\n    def __init__(self):\n",
         "def reverse(s):\n"])]
    return build_teacher_data(smollm2, ps[:3], ps[3:], corpus=None, max_new_tokens=24, k=16)


@pytest.mark.slow
def test_step_zero_is_the_layerskip_draft_and_training_helps_and_saves(smollm2, data, tmp_path):
    from transformers import AutoModelForCausalLM

    from draftfinder.measure.scoring import _head
    from draftfinder.train.student import make_student

    st = make_student("independent", smollm2, layers=2, draft_vocab=None, seed=0, data=data)
    seq = torch.tensor([data.sequences[0].ids])
    with torch.inference_mode():
        hs = smollm2.model(input_ids=seq, output_hidden_states=True).hidden_states[2][0]       # after layer 1
        layerskip = _head(smollm2.model, hs, normed=False)
        mine = st.model(input_ids=seq).logits[0]
    assert torch.allclose(layerskip, mine, atol=1e-3)
    train = data.indices("train")
    opt = torch.optim.AdamW(st.parameters(), lr=5e-4)
    losses = []
    for _ in range(4):
        loss = st.loss(data, train, "fkl")
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]                                   # in-sample: the fit itself
    r = st.evaluate(data, data.indices("held_out"), 4)
    assert r.tokens == data.tokens("held_out") and 0 <= r.acceptance <= 1 and len(r.per_position) == 4
    st.save_pretrained(tmp_path)
    back = AutoModelForCausalLM.from_pretrained(str(tmp_path))
    with torch.inference_mode():
        assert torch.allclose(back(input_ids=seq).logits, st.model(input_ids=seq).logits, atol=1e-5)
    assert (tmp_path / "tokenizer.json").is_file() and st.cost_hint()["head_vocab"] == 49152


@pytest.mark.slow
def test_layers_bounds_and_draft_vocab_refused(smollm2, data):
    from draftfinder.train.student import make_student

    with pytest.raises(UsageError, match="30 decoder layers"):
        make_student("independent", smollm2, layers=30, draft_vocab=None, seed=0, data=data)
    with pytest.raises(UsageError, match="eagle3 only"):
        make_student("independent", smollm2, layers=2, draft_vocab=100, seed=0, data=data)
