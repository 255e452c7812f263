"""Helpers of the EAGLE-3 tests (tests/train/test_eagle3.py, tests/engine/test_eagle3_drafter.py): teacher data
scored by a real target (``train.teacher.score_sequences``), a briefly trained head, greedy continuations."""

from __future__ import annotations

import inspect
from typing import List, Sequence, Tuple

import torch

from draftfinder.engine.base import SamplingConfig
from draftfinder.engine.speculative import autoregressive_generate
from draftfinder.train.eagle3 import Eagle3Student
from draftfinder.train.teacher import TeacherData, TeacherSequence, eagle3_layers, score_sequences


def teacher_data(target, train: Sequence[List[int]], held_out: Sequence[List[int]], *, k: int = 16,
                 layers: Tuple[int, ...] = ()) -> TeacherData:
    """TeacherData of corpus-like sequences, scored teacher-forced by ``target`` (hidden states of ``layers``,
    default the EAGLE-3 layers of the target)."""
    layers = tuple(layers) or eagle3_layers(len(target.model.model.layers))
    seqs = [list(s) for s in train] + [list(s) for s in held_out]
    ids, probs, hidden = score_sequences(target, seqs, k=k, hidden_layers=layers)
    meta = [TeacherSequence(ids=s, loss_from=0, source="corpus", split="train" if i < len(train) else "held_out")
            for i, s in enumerate(seqs)]
    return TeacherData(sequences=meta, topk_ids=ids, topk_probs=probs, hidden=hidden, hidden_layers=layers, k=k,
                       target=target.name)


def greedy_sequences(target, prompts: Sequence[List[int]], n: int) -> List[List[int]]:
    """prompt + the target's greedy continuation of ``n`` tokens (EOS ignored), per prompt."""
    out = []
    for p in prompts:
        res = autoregressive_generate(target, p, max_new_tokens=n, sampling=SamplingConfig(), eos_token_id=[])
        out.append(list(p) + res.token_ids)
    return out


def train_student(student: Eagle3Student, data: TeacherData, steps: int, *, lr: float = 3e-3, batch: int = 4,
                  seed: int = 0) -> List[float]:
    """``steps`` AdamW steps on random train batches; the losses."""
    train = data.indices("train")
    opt = torch.optim.AdamW(list(student.parameters()), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(steps):
        b = [train[i] for i in torch.randperm(len(train), generator=gen)[:batch].tolist()]
        loss = student.loss(data, b, "fkl")
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return losses


def stdlib_chunks(tokenizer, modules, size: int, limit: int) -> List[List[int]]:
    """Up to ``limit`` chunks of ``size`` tokens of the source of Python stdlib ``modules`` (real code text)."""
    out: List[List[int]] = []
    for m in modules:
        ids = tokenizer.encode(inspect.getsource(m))
        out += [ids[i: i + size] for i in range(0, len(ids) - size, size)]
    return out[:limit]
