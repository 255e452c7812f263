"""draftfinder.train.server_generate: the target's continuations written by llama-server on its GGUF."""

from __future__ import annotations

import torch

from draftfinder.measure.prompts import Prompt, encode_prompt
from draftfinder.train import server_generate
from draftfinder.train.teacher import build_teacher_data

PROMPTS = [Prompt("a", "code", "def add(a, b):\n    "), Prompt("b", "code", "import os\n\ndef list_files(path):\n"),
           Prompt("c", "code", "class Stack:\n    def __init__(self):\n")]


def _servers() -> int:
    """llama-server processes started by this test process (not another xdist worker's)."""
    import psutil

    return sum(1 for p in psutil.Process().children(recursive=True) if "llama-server" in p.name())


def test_llama_server_writes_the_targets_greedy_text_and_is_stopped(smollm2, llama_server):
    """The fast path of the teacher data: llama-server's greedy continuation starts with the PyTorch target's
    argmax wherever that argmax is clear (a margin of 0.5 logits), and with one of its top 3 on a near tie
    (prompt b: 31.19 vs 31.06 — llama.cpp's arithmetic on the Q4_1 weights picks the runner-up); it stays
    within the budget, and no server outlives the call."""
    assert server_generate.server_available(smollm2)
    before = _servers()
    ids = [encode_prompt(smollm2.tokenizer, p) for p in PROMPTS]
    conts = server_generate.generate_with_server(smollm2, ids, max_new_tokens=6, threads=1)
    assert _servers() == before
    assert [len(c) for c in conts] == [6, 6, 6]
    for prompt_ids, cont in zip(ids, conts):
        with torch.inference_mode():
            logits = smollm2.model(input_ids=torch.tensor([prompt_ids])).logits[0, -1]
        top = logits.topk(3)
        assert cont[0] in top.indices.tolist()
        if float(top.values[0] - top.values[1]) > 0.5:
            assert cont[0] == int(top.indices[0])


def test_auto_picks_llama_server_for_a_gguf_target_and_says_so(smollm2, llama_server):
    data = build_teacher_data(smollm2, PROMPTS[:2], PROMPTS[2:], corpus=None, max_new_tokens=4, k=4)
    assert data.stats.generator == "llama-server" and data.summary()["generator"] == "llama-server"
    assert [len(s.ids) - len(encode_prompt(smollm2.tokenizer, p)) for s, p in zip(data.sequences, PROMPTS)] == [4] * 3


def test_a_run_stopped_while_generating_keeps_its_continuations_and_resumes(smollm2, llama_server, tmp_path):
    """Guards train/continuations.py: a run stopped after its first continuation (Ctrl-C here; a timed-out request
    or a killed process lost all of them before — 36 of 164 Gemma prompts, 28 minutes, on 2026-11-30) keeps it in
    the file, and the rerun generates only the other prompts, with the same result as an uninterrupted run."""
    from draftfinder.train.continuations import ContinuationCache
    from draftfinder.train.teacher import TeacherInterrupted

    keep = tmp_path / "continuations.json"
    asked = []

    def stop_after_first() -> bool:
        asked.append(1)
        return len(asked) > 1                      # polled before each prompt: the first one runs

    try:
        build_teacher_data(smollm2, PROMPTS[:2], PROMPTS[2:], corpus=None, max_new_tokens=4, k=4,
                           should_stop=stop_after_first, continuations=keep)
        raise AssertionError("not interrupted")
    except TeacherInterrupted as err:
        assert "kept" in err.message
    assert len(ContinuationCache(keep).entries) == 1
    seen = []
    resumed = build_teacher_data(smollm2, PROMPTS[:2], PROMPTS[2:], corpus=None, max_new_tokens=4, k=4,
                                 continuations=keep, progress=lambda phase, i, n, label: seen.append((i, n)))
    assert (0, 2) in seen and not any(n == 3 for _, n in seen)          # 2 prompts generated, not 3
    assert resumed.stats.reused_tokens == 4 and len(ContinuationCache(keep).entries) == 3
    whole = build_teacher_data(smollm2, PROMPTS[:2], PROMPTS[2:], corpus=None, max_new_tokens=4, k=4)
    assert [s.ids for s in resumed.sequences] == [s.ids for s in whole.sequences]
