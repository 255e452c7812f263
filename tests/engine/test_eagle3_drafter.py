"""The EAGLE-3 drafter in the engine: the head's two forwards agree, the target's hidden states reach it through the
engine hook, its state follows accept/reject, output stays the target's (greedy: token for token; sampled: in
distribution), and ``--draft DIR`` recognises a speculators folder."""

from __future__ import annotations

import random

import pytest
import torch

from draftfinder.engine.base import SamplingConfig
from draftfinder.engine.drafter_specs import check_eagle3_head, parse_drafter_spec
from draftfinder.engine.drafters import make_drafter
from draftfinder.engine.eagle3_drafter import Eagle3Drafter
from draftfinder.engine.eagle3_head import Eagle3Head, HeadCache
from draftfinder.engine.speculative import speculative_generate
from draftfinder.errors import UsageError
from tests.enginekit import P_MIN, chi_square_p, hf_greedy, one_thread, pooled, tiny_gemma3, tiny_llama

GREEDY = SamplingConfig("greedy")


@pytest.fixture(autouse=True)
def _one_thread():
    with one_thread():
        yield


def random_head(target, *, vocab_ids=None, seed=1, layers=None):
    """An untrained head (HF init) over ``vocab_ids`` (default every third id)."""
    n = len(target.model.model.layers)
    v = target.vocab_size
    ids = torch.tensor(sorted(vocab_ids)) if vocab_ids is not None else torch.arange(0, v, 3)
    head = Eagle3Head.from_target(target.model, draft_vocab_size=len(ids), aux_layers=layers or (0, n // 2, n - 2),
                                  seed=seed)
    head.set_vocab(ids)
    return head.eval().requires_grad_(False)


@pytest.fixture(scope="module", params=["llama", "gemma3"])
def pair(request):
    """A tiny target (init 0.1: its greedy text repeats itself enough to be learnt) and a head trained briefly on
    its greedy continuations (held-out α ≈ 0.1, so drafts are both accepted and rejected)."""
    from draftfinder.train.eagle3 import Eagle3Student
    from tests.eagle3kit import greedy_sequences, teacher_data, train_student

    with one_thread():
        target = tiny_llama(0, layers=6, init=0.1) if request.param == "llama" else tiny_gemma3(0, init=0.1)
        rng = random.Random(0)
        seqs = greedy_sequences(target, [[rng.randrange(300) for _ in range(4)] for _ in range(24)], 40)
        data = teacher_data(target, seqs, [], layers=(0, 2, 3))
        student = Eagle3Student(target, data=data, draft_vocab=200, seed=0)
        train_student(student, data, 60, lr=1e-2)
    return target, student.head.eval().requires_grad_(False)


def test_ttt_forward_equals_the_incremental_cache(pair):
    """Training-time test's masked attention (step j at position i sees step-1 keys ≤ i and its own chain's keys)
    gives exactly what the head computes at inference, rolling one position at a time on its KV cache."""
    target, head = pair
    m, steps = 9, 4
    gen = torch.Generator().manual_seed(0)
    fused = torch.randn(1, m, head.config.hidden_size, generator=gen)
    tokens = torch.randint(0, target.vocab_size, (1, m + steps - 1), generator=gen)
    with torch.no_grad():
        outs = head.ttt_forward(fused, tokens, steps)
        for i in (0, 4, m - 1):
            cache = HeadCache()
            out = head.step(fused[:, : i + 1], tokens[:, : i + 1], cache)
            for j in range(1, steps + 1):
                if j > 1:
                    out = head.step(out.prenorm[:, -1:], tokens[:, i + j - 1: i + j], cache)
                torch.testing.assert_close(out.logits[0, -1], outs[j - 1].logits[0, i], atol=1e-4, rtol=1e-4)
                assert cache.length == i + j


class Recorder(Eagle3Drafter):
    """Records every (context, k, drafts) the engine asked for."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.log = []

    def draft(self, context_ids, k, sampling, generator):
        out = super().draft(context_ids, k, sampling, generator)
        self.log.append((list(context_ids), k, list(out.tokens)))
        return out


@pytest.mark.parametrize("k", [1, 3, 5])
def test_engine_drafts_equal_a_fresh_drafter_and_output_is_the_targets(pair, k):
    """The features the engine hands over (prefill + accepted verify positions) and the head's cache rollback
    leave the drafter exactly where a fresh drafter computing everything from the context alone would be; and
    greedy output equals transformers' generate. Guards: a hook that gives the wrong positions or layers, or a
    head cache that keeps rejected drafts' K/V, changes the drafts. Gemma-3 runs past its sliding window (6)."""
    target, head = pair
    prompt = [random.Random(3).randrange(target.vocab_size) for _ in range(9)]
    drafter = Recorder(head, target)
    res = speculative_generate(target, drafter, prompt, max_new_tokens=40, sampling=GREEDY, k=k)
    assert res.token_ids == hf_greedy(target, prompt, 40)
    assert drafter.target_hidden_layers == head.spec.aux_layers
    assert len(drafter.log) == sum(1 for kk in res.stats.k_history if kk > 0) > 0
    assert res.stats.accepted > 0                                            # the accept path ran too
    for ctx, kk, drafts in drafter.log[:: max(1, len(drafter.log) // 6)]:
        fresh = Eagle3Drafter(head, target)
        fresh.begin(ctx[:3])
        assert fresh.draft(ctx, kk, GREEDY, None).tokens == drafts
        fresh.end()


class FeatureLog(Eagle3Drafter):
    """Keeps every row of target features the engine hands over, by position."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.rows = {}

    def observe_target_hidden(self, context_ids, hidden):
        start = len(context_ids) - 1 - hidden.shape[0]
        for i in range(hidden.shape[0]):
            self.rows[start + i] = hidden[i].clone()
        super().observe_target_hidden(context_ids, hidden)


def test_engine_features_are_the_teacher_datas(pair):
    """The prefill and the verify passes hand the drafter, for every position the target keeps, the same layer
    outputs the teacher data trains on (``train.teacher.score_sequences``: HF ``hidden_states[l + 1]``). Guards
    an off-by-one layer (a layer's input instead of its output) or rows of rejected positions."""
    from draftfinder.train.teacher import score_sequences

    target, head = pair
    prompt = [random.Random(3).randrange(target.vocab_size) for _ in range(9)]
    drafter = FeatureLog(head, target)
    res = speculative_generate(target, drafter, prompt, max_new_tokens=40, sampling=GREEDY, k=3)
    assert res.stats.accepted > 0 and res.stats.accepted < res.stats.drafted
    seq = prompt + res.token_ids
    _, _, hidden = score_sequences(target, [seq], k=4, hidden_layers=head.spec.aux_layers)
    assert sorted(drafter.rows) == list(range(len(seq) - 1))                 # every position the target keeps
    got = torch.stack([drafter.rows[i] for i in range(len(seq) - 1)])
    torch.testing.assert_close(got, hidden[0][: len(seq) - 1].float(), atol=2e-2, rtol=2e-2)


def test_alone_the_drafter_follows_accept_and_reject(pair):
    """Without the engine (measure's replays): accept with a context that drops drafts and adds other tokens
    rolls the head back; the drafts then equal a fresh drafter's."""
    target, head = pair
    seq = [random.Random(5).randrange(target.vocab_size) for _ in range(30)]
    d = Eagle3Drafter(head, target)
    d.begin(seq[:6])
    ctx = seq[:6]
    for n_new in (1, 3, 0, 2, 1):
        d.draft(ctx, 4, GREEDY, None)
        ctx = seq[: len(ctx) + n_new + 1]
        d.accept(n_new, ctx)
        fresh = Eagle3Drafter(head, target)
        fresh.begin(ctx)
        assert d.draft(ctx, 4, GREEDY, None).tokens == fresh.draft(ctx, 4, GREEDY, None).tokens
    d.accept(0, seq[:8] + [seq[9]])                                           # diverges before the end
    fresh = Eagle3Drafter(head, target)
    fresh.begin(seq[:8] + [seq[9]])
    assert d.draft(seq[:8] + [seq[9]], 3, GREEDY, None).tokens == fresh.draft(seq[:8] + [seq[9]], 3, GREEDY, None).tokens


def test_drafts_come_from_the_draft_vocabulary(pair):
    target, head = pair
    d = Eagle3Drafter(head, target)
    prompt = list(range(1, 12))
    d.begin(prompt)
    tokens = d.draft(prompt, 6, GREEDY, None).tokens
    allowed = set(head.draft_ids.tolist())
    assert len(tokens) == 6 and set(tokens) <= allowed
    out = d.draft(prompt, 4, SamplingConfig("multinomial"), torch.Generator().manual_seed(0))
    assert out.probs.shape == (4, target.vocab_size)
    assert float(out.probs[:, ~head.t2d].sum()) == 0.0                        # q lives on the draft vocabulary
    torch.testing.assert_close(out.probs.sum(-1), torch.ones(4))


def test_one_token_prompt_drafts_nothing_first(pair):
    """With a one-token prompt the target has no features yet: the first step drafts nothing, later ones do."""
    target, head = pair
    drafter = Recorder(head, target)
    res = speculative_generate(target, drafter, [7], max_new_tokens=8, sampling=GREEDY, k=3)
    assert res.token_ids == hf_greedy(target, [7], 8)
    assert drafter.log[0][2] == [] and all(len(t) == 3 for _, k, t in drafter.log[1:] if k == 3)


@pytest.mark.slow
def test_sampled_output_follows_the_target_distribution():
    """Chi-square of the first two tokens (joint, one draft → verify step with k = 2) and the third against the
    exact target distribution: q is the head's distribution over the target's ids (0 off the draft vocabulary, 6 of
    8 ids), so the engine's verify keeps p (Leviathan et al. 2023, Thm 1)."""
    from draftfinder.engine.sampling import logits_to_probs

    cfg = SamplingConfig("multinomial", temperature=1.0)
    target = tiny_llama(11, layers=4, vocab=8, hidden=32, init=0.2)
    head = random_head(target, vocab_ids=[0, 1, 2, 4, 5, 7], seed=3, layers=(0, 1, 2))
    prompt = [1, 5, 2]
    with torch.no_grad():
        p1 = logits_to_probs(target.model(torch.tensor([prompt])).logits[0, -1], cfg)
        p2 = logits_to_probs(target.model(torch.tensor([prompt + [a] for a in range(8)])).logits[:, -1], cfg)
    joint = (p1[:, None] * p2).reshape(-1).tolist()
    c2 = [0] * 64
    accepted = drafted = 0
    runs = 800
    for seed in range(runs):
        out = speculative_generate(target, Eagle3Drafter(head, target), prompt, max_new_tokens=2,
                                   sampling=SamplingConfig("multinomial", seed=seed), k=2)
        t = out.token_ids
        c2[t[0] * 8 + t[1]] += 1
        accepted += out.stats.accepted
        drafted += out.stats.drafted
    assert 0.05 < accepted / drafted < 0.95, accepted / drafted
    cells = pooled(c2, joint)
    assert len(cells[0]) >= 6
    assert chi_square_p(*cells) > P_MIN, (c2, [round(e * runs, 1) for e in joint])


# --- --draft DIR ---------------------------------------------------------------------------------------------------

def test_a_speculators_folder_is_an_eagle3_drafter_spec(tmp_path):
    """A folder whose config.json says speculators_model_type eagle3 parses as kind eagle3 (with or without the
    ``eagle3:`` prefix) and make_drafter loads it for its target; a folder made for another target shape is
    refused in one line naming both."""
    from draftfinder.engine.eagle3_format import save_head

    target = tiny_llama(0, layers=6)
    head = random_head(target)
    (tmp_path / "head").mkdir()
    save_head(head, tmp_path / "head", verifier="tiny-llama")
    assert parse_drafter_spec(str(tmp_path / "head")).kind == "eagle3"
    assert parse_drafter_spec(f"eagle3:{tmp_path / 'head'}").model == str(tmp_path / "head")
    drafter = make_drafter(str(tmp_path / "head"), target)
    assert isinstance(drafter, Eagle3Drafter)
    drafter.begin([1, 2, 3])
    assert drafter.draft([1, 2, 3], 3, GREEDY, None).tokens == Eagle3Drafter(head, target).draft([1, 2, 3], 3, GREEDY, None).tokens
    with pytest.raises(UsageError, match="made for 'tiny-llama'.*hidden size 64.*hidden size 576"):
        check_eagle3_head(str(tmp_path / "head"), {"hidden_size": 576, "vocab_size": 300}, "zoo:smollm2-135m")
    with pytest.raises(UsageError, match="not an EAGLE-3 head folder"):
        check_eagle3_head(str(tmp_path), {}, "zoo:smollm2-135m")
    with pytest.raises(UsageError, match="made for 'tiny-llama'"):
        make_drafter(str(tmp_path / "head"), tiny_llama(0, layers=6, hidden=32))


def test_a_replay_of_the_same_text_reuses_the_target_features(pair):
    """``measure`` replays one continuation at every K through begin → draft → accept → end: alone, the drafter
    runs the target over the text once, and the second replay drafts the same tokens without a target pass."""
    from draftfinder.measure.scoring import Continuation, replay_drafter

    target, head = pair
    seq = [random.Random(6).randrange(target.vocab_size) for _ in range(26)]
    calls = []
    handle = target.model.register_forward_hook(lambda *a: calls.append(1))
    try:
        d = Eagle3Drafter(head, target)
        cont = Continuation(prompt_id="p", prompt_ids=seq[:6], tokens=seq[6:], decode_s=0.0, max_new_tokens=20)
        first = replay_drafter(d, cont, 3, sampling=GREEDY)
        n_first = len(calls)
        second = replay_drafter(d, cont, 3, sampling=GREEDY)
    finally:
        handle.remove()
    assert n_first > 0 and len(calls) == n_first
    assert second.step_accepted == first.step_accepted and second.step_drafted == first.step_drafted
