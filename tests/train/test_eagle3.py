"""Eagle3Student: draft vocabulary and id maps, the draft-vocabulary losses, evaluation by rolling the head, the
speculators format (checked against the rules read from speculators and vLLM), and a short real training run."""

from __future__ import annotations

import json
import math
import random

import pytest
import torch

from draftfinder.engine.eagle3_head import HeadCache
from draftfinder.errors import UsageError
from draftfinder.train import losses
from draftfinder.train.eagle3 import Eagle3Student, make_eagle3_student, select_draft_vocab, topk_loss
from draftfinder.train.student import make_student
from tests.eagle3kit import greedy_sequences, stdlib_chunks, teacher_data, train_student
from tests.enginekit import one_thread, tiny_llama


@pytest.fixture(autouse=True)
def _one_thread():
    with one_thread():
        yield


@pytest.fixture(scope="module")
def tiny():
    """A tiny Llama target (6 layers, init 0.1), 24 greedy continuations of 40 tokens (20 train, 4 held out)."""
    with one_thread():
        target = tiny_llama(0, layers=6, init=0.1)
        rng = random.Random(0)
        seqs = greedy_sequences(target, [[rng.randrange(300) for _ in range(4)] for _ in range(24)], 40)
        data = teacher_data(target, seqs[:20], seqs[20:], layers=(0, 2, 3))
    return target, data


# --- draft vocabulary ------------------------------------------------------------------------------------------------

def test_draft_vocabulary_is_the_most_frequent_target_argmax_sorted(tiny):
    target, data = tiny
    counts = {}
    for i in data.indices("train"):
        for t in data.topk_ids[i][:, 0].tolist():
            counts[t] = counts.get(t, 0) + 1
    top = sorted(counts, key=lambda t: (-counts[t], t))[:10]
    ids = select_draft_vocab(data, 10, 300)
    assert ids.tolist() == sorted(top)
    more = select_draft_vocab(data, len(counts) + 5, 300)                    # filled from the top-k mass
    assert len(set(more.tolist())) == len(counts) + 5 and set(counts) <= set(more.tolist())


def test_d2t_and_t2d_follow_speculators(tiny):
    """d2t[d] = target id − d (int64 [V_d]); t2d bool [V_t] marks the draft vocabulary (speculators
    ``Eagle3Speculator.map_draft_to_target_tokens`` / ``check_target_token_availability``)."""
    target, data = tiny
    st = Eagle3Student(target, data=data, draft_vocab=50, seed=0)
    ids = select_draft_vocab(data, 50, 300)
    head = st.head
    assert head.d2t.dtype == torch.int64 and head.d2t.shape == (50,)
    assert head.t2d.dtype == torch.bool and head.t2d.shape == (300,) and int(head.t2d.sum()) == 50
    assert (torch.arange(50) + head.d2t).tolist() == ids.tolist()
    assert head.t2d[ids].all()
    torch.testing.assert_close(head.lm_head.weight, target.model.lm_head.weight[ids])


# --- losses ----------------------------------------------------------------------------------------------------------

def test_draft_vocabulary_losses_equal_the_train_losses_on_the_kept_support():
    """With every top-k id inside V_d the three losses are exactly ``train/losses.py``'s on full logits whose
    off-vocabulary entries are −inf; ids outside V_d lose their mass (renormalised); rows with none are unusable."""
    gen = torch.Generator().manual_seed(0)
    vocab = torch.tensor([1, 4, 5, 8, 9, 12])                              # V_d = 6 of V_t = 16
    logits = torch.randn(5, 6, generator=gen)
    full = torch.full((5, 16), float("-inf"))
    full[:, vocab] = logits
    index = torch.full((16,), -1, dtype=torch.long)
    index[vocab] = torch.arange(6)
    tids = torch.stack([vocab[torch.randperm(6, generator=gen)[:3]] for _ in range(5)])          # [5, 3] inside V_d
    probs = torch.rand(5, 3, generator=gen)
    for kind in losses.LOSSES:
        ours, usable = topk_loss(logits, index[tids], probs, kind)
        assert usable.all()
        torch.testing.assert_close(ours.mean(), losses.distillation_loss(kind, full, tids, probs), rtol=1e-5, atol=1e-5)
    outside = tids.clone()
    outside[:, 2] = 2                                                        # not in V_d: its mass dropped
    outside[4] = torch.tensor([0, 2, 3])                                     # no mass inside V_d at all
    ours, usable = topk_loss(logits, index[outside], probs, "fkl")
    assert usable.tolist() == [True] * 4 + [False] and float(ours[4]) == 0.0
    ref = losses.forward_kl(full[:4], tids[:4, :2], probs[:4, :2])
    torch.testing.assert_close(ours[:4].mean(), ref, rtol=1e-5, atol=1e-5)
    with pytest.raises(UsageError, match="unknown loss"):
        topk_loss(logits, index[tids], probs, "kl")


# --- evaluation ------------------------------------------------------------------------------------------------------

def test_evaluate_rolls_the_head_like_the_engine(tiny):
    """α and the chain acceptance per position equal a literal roll of the head on its KV cache (as the engine
    drafts): from each start i, draft 1 from the target's features, drafts 2.. from the head's own outputs and
    tokens, counted while every earlier draft was the target's argmax and the greedy text went on with it."""
    target, data = tiny
    st = Eagle3Student(target, data=data, draft_vocab=120, seed=0)
    train_student(st, data, 25, lr=1e-2)
    k_max = 3
    result = st.evaluate(data, data.indices("held_out"), k_max)
    head = st.head.eval()
    reached, accepted = [0] * k_max, [0] * k_max
    with torch.no_grad():
        for s in data.indices("held_out"):
            ids = data.sequences[s].ids
            argmax = data.topk_ids[s][:, 0].long().tolist()
            feats = head.fuse(data.hidden[s].float())                        # [N, H]
            for i in range(len(ids) - 1):
                cache = HeadCache()
                out = head.step(feats[None, : i + 1], torch.tensor([ids[1: i + 2]]), cache)
                for j in range(1, k_max + 1):
                    if i + j >= len(ids):
                        break
                    draft = int(head.draft_ids[int(out.logits[0, -1].argmax())])
                    reached[j - 1] += 1
                    if draft != argmax[i + j]:
                        break
                    accepted[j - 1] += 1
                    if i + j + 1 >= len(ids) or ids[i + j + 1] != draft:
                        break
                    out = head.step(out.prenorm[:, -1:], torch.tensor([[draft]]), cache)
    assert result.tokens == reached[0] > 0
    assert result.per_position == pytest.approx([a / r if r else 0.0 for a, r in zip(accepted, reached)])
    assert result.acceptance == pytest.approx(accepted[0] / reached[0])
    assert accepted[0] > 0 and reached[1] > 0                               # the roll went past draft 1


def test_protocol_checks(tiny):
    target, data = tiny
    with pytest.raises(UsageError, match="exactly one decoder layer"):
        make_eagle3_student(target, layers=2, data=data)
    no_hidden = type(data)(sequences=data.sequences, topk_ids=data.topk_ids, topk_probs=data.topk_probs, hidden=None,
                           hidden_layers=(), k=data.k, target=data.target)
    with pytest.raises(UsageError, match="no hidden states"):
        make_eagle3_student(target, data=no_hidden)
    overflowed = [h.clone() for h in data.hidden]          # what float16 teacher data of Gemma-3 held
    overflowed[1][0, 1, 0] = float("inf")
    inf_hidden = type(data)(sequences=data.sequences, topk_ids=data.topk_ids, topk_probs=data.topk_probs,
                            hidden=overflowed, hidden_layers=data.hidden_layers, k=data.k, target=data.target)
    with pytest.raises(UsageError, match="not finite in 1 sequences .*delete the .work folder's teacher.pt"):
        make_eagle3_student(target, data=inf_hidden)
    st = make_student("eagle3", target, layers=None, draft_vocab=64, seed=0, data=data)     # the registry
    assert st.method == "eagle3" and st.cost_hint()["head_vocab"] == 64 and st.cost_hint()["layers"] == 1
    sd = st.state_dict()
    train_student(st, data, 2, lr=1e-2)
    assert not torch.equal(st.state_dict()["fc.weight"], sd["fc.weight"])
    st.load_state_dict(sd)
    assert torch.equal(st.state_dict()["fc.weight"], sd["fc.weight"])
    assert all(p.requires_grad for p in st.parameters())
    assert not any(p is target.model.get_input_embeddings().weight for p in st.parameters())     # frozen, shared


# --- the speculators format ------------------------------------------------------------------------------------------

def test_speculators_format_is_what_vllm_reads(tiny, tmp_path):
    """config.json and tensor names follow the rules read from the sources cited in ``engine/eagle3_format.py``:
    vLLM's ``SpeculatorsConfig.validate_speculators_config`` (speculators_config.proposal_methods[0]
    .speculative_tokens, speculators_config.verifier.name_or_path, speculators_model_type, transformer_layer_config
    a dict), ``algos.update_eagle3`` (draft_vocab_size, target_hidden_size, norm_before_residual — default True
    when absent, so it must be written —, eagle_aux_hidden_state_layer_ids = vLLM's input-of-layer ids = our
    output-of-layer ids + 1), ``llama_eagle3.py`` weights (fc [H, 3H_t], layers.0.self_attn.{q,k,v}_proj over 2H,
    layers.0.hidden_norm, norm, lm_head [V_d, H], d2t int64) and speculators' ``Eagle3Speculator`` buffers (t2d
    bool [V_t]). A round trip through ``load_head`` gives the same logits."""
    from safetensors import safe_open

    from draftfinder.engine.eagle3_format import load_head

    target, data = tiny
    st = Eagle3Student(target, data=data, draft_vocab=64, seed=0)
    train_student(st, data, 2, lr=1e-2)
    st.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    spec = config["speculators_config"]
    assert config["speculators_model_type"] == "eagle3" and config["architectures"] == ["Eagle3Speculator"]
    assert spec["proposal_methods"][0]["speculative_tokens"] >= 1 and spec["proposal_methods"][0]["proposal_type"] == "greedy"
    assert spec["default_proposal_method"] == "greedy" and spec["algorithm"] == "eagle3"
    assert spec["verifier"]["name_or_path"] == target.name and spec["verifier"]["architectures"] == ["LlamaForCausalLM"]
    layer = config["transformer_layer_config"]
    assert isinstance(layer, dict) and layer["model_type"] == "llama" and layer["num_hidden_layers"] == 1
    assert layer["vocab_size"] == 300 and layer["hidden_size"] == 64 and layer["tie_word_embeddings"] is False
    assert config["draft_vocab_size"] == 64 and config["target_hidden_size"] == 64
    assert config["norm_before_residual"] is False
    assert config["eagle_aux_hidden_state_layer_ids"] == [1, 3, 4] and config["draftfinder_aux_layer_outputs"] == [0, 2, 3]
    with safe_open(str(tmp_path / "model.safetensors"), "pt") as f:
        shapes = {name: tuple(f.get_slice(name).get_shape()) for name in f.keys()}
        assert f.get_tensor("d2t").dtype == torch.int64 and f.get_tensor("t2d").dtype == torch.bool
    q_out = target.model.config.num_attention_heads * (64 // target.model.config.num_attention_heads)
    assert shapes["fc.weight"] == (64, 3 * 64)
    assert shapes["layers.0.self_attn.q_proj.weight"] == (q_out, 2 * 64)
    assert shapes["layers.0.self_attn.k_proj.weight"][1] == 2 * 64 and shapes["layers.0.self_attn.v_proj.weight"][1] == 2 * 64
    assert shapes["layers.0.self_attn.o_proj.weight"] == (64, q_out)
    for name in ("layers.0.input_layernorm.weight", "layers.0.hidden_norm.weight",
                 "layers.0.post_attention_layernorm.weight", "norm.weight"):
        assert shapes[name] == (64,)
    for name in ("gate_proj", "up_proj", "down_proj"):
        assert f"layers.0.mlp.{name}.weight" in shapes
    assert shapes["lm_head.weight"] == (64, 64) and shapes["d2t"] == (64,) and shapes["t2d"] == (300,)
    assert not any(n.startswith("embed_tokens") or "rotary" in n for n in shapes)     # shared with the target
    head, _ = load_head(tmp_path, target)
    fused = torch.randn(1, 5, 64)
    tokens = torch.randint(0, 300, (1, 5))
    with torch.no_grad():
        torch.testing.assert_close(head.step(fused, tokens, HeadCache()).logits,
                                   st.head.eval().step(fused, tokens, HeadCache()).logits)


def test_norm_before_residual_is_on_for_gemma_type_heads_and_travels_in_config_json(tmp_path):
    """Gemma-3 heads trained without it never had draft position 2 accepted (0.002 after 100 steps; with it
    0.33): a sandwich-norm target gets it, a Llama-type keeps it off, and config.json carries it both ways."""
    from draftfinder.engine.eagle3_format import load_head, save_head
    from draftfinder.engine.eagle3_head import Eagle3Head
    from tests.enginekit import tiny_gemma3, tiny_llama

    gemma = tiny_gemma3(0)
    llama = tiny_llama(0, layers=6)
    g = Eagle3Head.from_target(gemma.model, draft_vocab_size=64, aux_layers=(0, 1, 2))
    assert g.spec.norm_before_residual and g.layers[0].norm_before_residual
    assert not Eagle3Head.from_target(llama.model, draft_vocab_size=64, aux_layers=(0, 2, 3)).spec.norm_before_residual
    forced = Eagle3Head.from_target(gemma.model, draft_vocab_size=64, aux_layers=(0, 1, 2), norm_before_residual=False)
    assert not forced.layers[0].norm_before_residual
    fused, tokens = torch.randn(1, 5, g.fc.out_features), torch.randint(0, 300, (1, 5))
    with torch.no_grad():                         # the flag changes what the layer computes
        assert not torch.allclose(g.step(fused, tokens, HeadCache()).logits,
                                  forced.step(fused, tokens, HeadCache()).logits)
    for head, name in ((g, "on"), (forced, "off")):
        head.set_vocab(torch.arange(64))
        (tmp_path / name).mkdir()
        save_head(head, tmp_path / name, verifier="tiny-gemma3")
        assert json.loads((tmp_path / name / "config.json").read_text())["norm_before_residual"] is (name == "on")
        back, _ = load_head(tmp_path / name, gemma)
        assert back.layers[0].norm_before_residual is (name == "on")
        with torch.no_grad():
            torch.testing.assert_close(back.step(fused, tokens, HeadCache()).logits,
                                       head.eval().step(fused, tokens, HeadCache()).logits)


# --- a real training run ---------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_short_training_on_smollm2_raises_held_out_acceptance(smollm2_gguf, tmp_path):
    """SmolLM2-135M target, 14 chunks × 128 tokens of stdlib source (1,792 train tokens) scored teacher-forced,
    held-out chunks from another module; 30 AdamW steps of 4 chunks, 3 training-time-test steps. Held-out α
    (out of sample) rises from its initial value (measured: 0.001 → 0.05 at lr 1e-3 in one trial). Then the
    briefly trained head drafts in the engine with output identical to target-only decoding, as does an
    untrained one. ~60-120 s on a shared 2-core CPU."""
    import argparse
    import csv
    import json as json_module

    from draftfinder.engine.base import SamplingConfig
    from draftfinder.engine.eagle3_drafter import Eagle3Drafter
    from draftfinder.engine.loading import load_model
    from draftfinder.engine.speculative import autoregressive_generate, speculative_generate

    target = load_model(str(smollm2_gguf))
    tok = target.tokenizer
    train = stdlib_chunks(tok, [json_module.decoder, json_module.encoder, csv], 128, 14)
    held = stdlib_chunks(tok, [argparse], 128, 4)
    data = teacher_data(target, train, held, k=32)
    assert data.hidden_layers == (2, 15, 27) and data.tokens("train") <= 2000
    st = Eagle3Student(target, data=data, draft_vocab=2048, seed=0)
    before = st.evaluate(data, data.indices("held_out"), 3)
    untrained = Eagle3Drafter(st.head.eval(), target)
    losses_ = train_student(st, data, 30, lr=3e-3)
    after = st.evaluate(data, data.indices("held_out"), 3)
    assert math.isfinite(losses_[-1]) and losses_[-1] < losses_[0]
    assert after.acceptance > before.acceptance + 0.01, (before, after)
    st.save_pretrained(tmp_path)
    trained = Eagle3Drafter.from_folder(tmp_path, target)
    prompt = tok.encode("def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n")
    want = autoregressive_generate(target, prompt, max_new_tokens=32, sampling=SamplingConfig()).token_ids
    for drafter in (untrained, trained):
        got = speculative_generate(target, drafter, prompt, max_new_tokens=32, sampling=SamplingConfig(), k=3)
        assert got.token_ids == want
