"""The training loop (train/loop.py) on a tiny real Llama built in code: Ctrl-C leaves a checkpoint a rerun
resumes from (step counter continues), the kept weights are the best held-out acceptance's, batches respect
the token budget."""

import random

from draftfinder.train.loop import LoopConfig, epoch_batches, lr_factor, train_loop
from draftfinder.train.student import make_student
from draftfinder.train.teacher import TeacherData, TeacherSequence, score_sequences
from tests.enginekit import one_thread, tiny_llama


def _data():
    target = tiny_llama(0, layers=4, vocab=300)
    rng = random.Random(0)
    seqs = [TeacherSequence([rng.randrange(300) for _ in range(rng.randrange(12, 40))], 2, "corpus",
                            "held_out" if i < 3 else "train") for i in range(12)]
    ids, probs, _ = score_sequences(target, [s.ids for s in seqs], k=8)
    return target, TeacherData(seqs, ids, probs, None, (), 8, "tiny")


def test_interrupt_then_resume_continues_the_step_counter(tmp_path):
    with one_thread():
        target, data = _data()
        cfg = LoopConfig(steps=6, batch_tokens=128, eval_every=2, warmup_steps=2, lr=3e-3)
        st = make_student("independent", target, layers=2, draft_vocab=None, seed=0, data=data)
        calls = {"n": 0}

        def stop():
            calls["n"] += 1
            return calls["n"] > 3                              # after 3 steps

        first = train_loop(st, data, cfg, tmp_path, should_stop=stop)
        assert first.stopped_because == "interrupted" and first.steps == 3
        assert (tmp_path / "checkpoint.pt").is_file() and (tmp_path / "best.pt").is_file()
        st2 = make_student("independent", target, layers=2, draft_vocab=None, seed=0, data=data)
        second = train_loop(st2, data, cfg, tmp_path)
        assert second.resumed_from_step == 3 and second.steps == 6 and second.sessions == 2
        assert second.stopped_because == "steps"
        assert second.curves.step[:3] == [0, 2, 4] and second.curves.step[-1] == 6
        accs = second.curves.held_out_acceptance
        # the kept weights are those of the best held-out acceptance (ties: the later step), not the last ones
        best_i = max(range(len(accs)), key=lambda i: (accs[i], i))
        assert second.best_step == second.curves.step[best_i] and second.best.acceptance == accs[best_i]
        assert st2.evaluate(data, data.indices("held_out"), 4).acceptance == accs[best_i]


def test_batches_respect_the_token_budget_and_are_seeded():
    _, data = _data()
    cfg = LoopConfig(batch_tokens=100)
    train = data.indices("train")
    b = epoch_batches(data, train, 0, cfg)
    assert sorted(i for x in b for i in x) == sorted(train)
    assert all(len(x) * max(len(data.sequences[i].ids) for i in x) <= 100 or len(x) == 1 for x in b)
    assert epoch_batches(data, train, 0, cfg) == b and epoch_batches(data, train, 1, cfg) != b


def test_lr_schedule_warmup_then_cosine():
    cfg = LoopConfig(warmup_steps=4, min_lr_ratio=0.1)
    assert lr_factor(0, cfg, 0.0) == 0.25 and lr_factor(3, cfg, 0.0) == 1.0
    assert lr_factor(10, cfg, 0.0) == 1.0 and abs(lr_factor(10, cfg, 1.0) - 0.1) < 1e-9
    assert abs(lr_factor(10, cfg, 0.5) - 0.55) < 1e-9

def test_a_loss_that_is_not_finite_stops_with_one_line_and_keeps_the_best(tmp_path):
    """Float16 teacher hidden states of Gemma-3 overflowed to inf and 30 minutes trained on a NaN loss; now the
    first non-finite loss stops the run before its step, naming the step, the learning rate and the fix."""
    import pytest
    import torch

    from draftfinder.errors import TrainingDivergedError

    with one_thread():
        target, data = _data()
        data.topk_probs[5] = torch.full_like(data.topk_probs[5], float("nan"))     # a train sequence
        cfg = LoopConfig(steps=6, batch_tokens=4096, eval_every=2, warmup_steps=2, lr=3e-3)
        st = make_student("independent", target, layers=2, draft_vocab=None, seed=0, data=data)
        before = {k: v.clone() for k, v in st.state_dict().items()}
        with pytest.raises(TrainingDivergedError) as err:
            train_loop(st, data, cfg, tmp_path)
        line = str(err.value)
        assert "loss is nan at step 1" in line and "--lr" in line and "\n" not in line
        assert (tmp_path / "best.pt").is_file()                    # the step-0 evaluation's weights are kept
        assert all(torch.equal(before[k], v) for k, v in st.state_dict().items())   # the step was not taken
