"""The decoding loops (engine/speculative.py): greedy output identical to transformers' greedy ``generate``,
sampled output distributed as the target's, stats, EOS and budget.

Models: tiny random-weight Llama and Gemma-3 built in code (tests/tinymodels.py), and, once, the real SmolLM2
zoo GGUF with a layer-skip drafter. Statistical tests: chi-square, fixed seeds, p-value threshold ``P_MIN``.
"""

from __future__ import annotations

import random
from typing import Dict, List, Tuple

import pytest
import torch

from draftfinder.engine.base import Draft, SamplingConfig
from draftfinder.engine.drafters import LayerSkipDrafter, ModelDrafter
from draftfinder.engine.sampling import logits_to_probs
from draftfinder.engine.speculative import autoregressive_generate, speculative_generate
from draftfinder.errors import UsageError
from tests.enginekit import P_MIN, chi_square_p, hf_greedy, noisy_copy, one_thread, pooled, tiny_gemma3, tiny_llama

GREEDY = SamplingConfig("greedy")


@pytest.fixture(autouse=True)
def _one_thread():
    """One thread even for the real model: on a shared 2-core machine two threads made the SmolLM2 test ~25×
    slower (30 s vs 1.2 s, measured with one other busy process)."""
    with one_thread():
        yield


@pytest.fixture(scope="module")
def llama():
    target = tiny_llama(0)
    return {"target": target, "noisy": noisy_copy(target, 0.003), "small": tiny_llama(7, layers=2, hidden=32)}


@pytest.fixture(scope="module")
def gemma():
    target = tiny_gemma3(0)
    return {"target": target, "noisy": noisy_copy(target, 0.003)}


PROMPTS = [[17], [5, 17, 42, 99, 3], [random.Random(4).randrange(300) for _ in range(12)]]
_REFERENCE: Dict[Tuple[str, Tuple[int, ...], int], List[int]] = {}


def reference(loaded, prompt, n) -> List[int]:
    key = (loaded.name, tuple(prompt), n)
    if key not in _REFERENCE:
        _REFERENCE[key] = hf_greedy(loaded, prompt, n)
    return _REFERENCE[key]


class ReplayDrafter:
    """A deterministic drafter (q = one-hot, ``Draft.probs`` None), like prompt lookup: proposes what a fixed
    token list says comes next at this length, with every ``corrupt_every``-th proposal changed."""

    name = "replay"

    def __init__(self, prompt, continuation, corrupt_every=0, vocab=300):
        self.seq, self.start, self.every, self.vocab = list(prompt) + list(continuation), len(prompt), corrupt_every, vocab
        self.calls: List[str] = []

    def begin(self, prompt_ids):
        self.calls.append("begin")

    def draft(self, context_ids, k, sampling, generator):
        pos = len(context_ids)
        out = []
        for i in range(pos, min(pos + k, len(self.seq))):
            t = self.seq[i]
            if self.every and (i - self.start) % self.every == self.every - 1:
                t = (t + 1) % self.vocab
            out.append(t)
        return Draft(tokens=out)

    def accept(self, n_accepted, context_ids):
        self.calls.append(f"accept:{n_accepted}")

    def end(self):
        self.calls.append("end")


# --- greedy: token for token --------------------------------------------------------------------------------------

@pytest.mark.parametrize("k", range(1, 9))
def test_greedy_equals_transformers_generate_for_every_k(llama, k):
    prompt = PROMPTS[k % 3]
    n = 24
    want = reference(llama["target"], prompt, n)
    assert len(set(want)) > 5                                     # a varied continuation, not one repeated token
    drafters = [ModelDrafter(llama["noisy"]), ModelDrafter(llama["small"]), LayerSkipDrafter(llama["target"], 2),
                ReplayDrafter(prompt, want, corrupt_every=3)]
    for drafter in drafters:
        got = speculative_generate(llama["target"], drafter, prompt, max_new_tokens=n, sampling=GREEDY, k=k)
        assert got.token_ids == want, (drafter.name, k)
    assert autoregressive_generate(llama["target"], prompt, max_new_tokens=n, sampling=GREEDY).token_ids == want


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_greedy_equality_over_model_seeds(seed):
    target = tiny_llama(seed, layers=3)
    draft = noisy_copy(target, 0.002, seed=seed)
    rng = random.Random(seed)
    for k in (2, 5):
        prompt = [rng.randrange(300) for _ in range(rng.randrange(1, 10))]
        want = hf_greedy(target, prompt, 20)
        got = speculative_generate(target, ModelDrafter(draft), prompt, max_new_tokens=20, sampling=GREEDY, k=k)
        assert got.token_ids == want
        assert got.stats.accepted > 0                              # the accept path ran, not only corrections


@pytest.mark.slow
def test_greedy_equality_gemma3_past_the_sliding_window(gemma):
    """Guards the sliding-window rollback: window 6, prompt 9, 40 new tokens, drafts rejected all along."""
    target = gemma["target"]
    prompt = PROMPTS[2][:9]
    want = reference(target, prompt, 40)
    assert len(set(want)) > 5
    for k in (1, 3, 6):
        for drafter in (ModelDrafter(gemma["noisy"]), LayerSkipDrafter(target, 3)):
            got = speculative_generate(target, drafter, prompt, max_new_tokens=40, sampling=GREEDY, k=k)
            assert got.token_ids == want, (drafter.name, k)
            assert got.stats.drafted > got.stats.accepted                # rollbacks happened


def test_ngram_drafter_and_its_top_k_filler_hook(llama):
    """The n-gram drafter (engine/ngram.py) through the engine; with top_k_filler > 1 the engine hands it the
    target's top ids per emitted position — under greedy the first of them is the emitted token itself."""
    from draftfinder.engine import ngram

    class Watched(ngram.NGramDrafter):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.seen = []

        def observe_target_topk(self, context_ids, start, topk_ids):
            self.seen.append((list(context_ids), start, topk_ids))
            super().observe_target_topk(context_ids, start, topk_ids)

    target = llama["target"]
    prompt = PROMPTS[1] * 3
    want = reference(target, prompt, 24)
    for filler in (1, 3):
        drafter = Watched(storage="basic", n=3, top_k_filler=filler)
        res = speculative_generate(target, drafter, prompt, max_new_tokens=24, sampling=GREEDY, k=4)
        assert res.token_ids == want
        if filler == 1:
            assert drafter.seen == []
            continue
        assert len(drafter.seen) == res.stats.steps
        for ctx, start, rows in drafter.seen:
            assert all(len(r) == 3 for r in rows)
            assert [r[0] for r in rows] == ctx[start: start + len(rows)]


def test_draft_ids_outside_the_target_vocabulary_end_the_draft(llama):
    """Guards the target's embedding lookup: a drafter proposing id ≥ V must not crash the verify pass; the id
    ends the draft and counts as drafted and rejected (the target's token follows it)."""
    prompt = PROMPTS[1]
    want = reference(llama["target"], prompt, 24)

    class OutOfRange(ReplayDrafter):
        def draft(self, context_ids, k, sampling, generator):
            tokens = super().draft(context_ids, k, sampling, generator).tokens
            return Draft(tokens=tokens[:1] + [10_000] + tokens[1:])

    res = speculative_generate(llama["target"], OutOfRange(prompt, want), prompt, max_new_tokens=12,
                               sampling=GREEDY, k=4, trace=True)
    assert res.token_ids == want[:12]
    s = res.stats
    assert s.drafted_history == [min(k, 2) for k in s.k_history]             # the valid id, then the one ≥ V
    assert s.accepted == sum(1 for k in s.k_history if k > 0)                 # the valid one is always kept
    assert all(st["rejected"] == [10_000] for st in res.trace if st["k"] >= 2)


class PaddedHeadDrafter:
    """A draft with a head padded past the target's vocabulary (10 rows for an 8-id target): it samples one
    token from a fixed q that puts half its mass on id 9, which the target does not have, and half on ``top``."""

    name = "padded-head"

    def __init__(self, top: int, width: int = 10):
        self.q = torch.zeros(width)
        self.q[top], self.q[width - 1] = 0.5, 0.5

    def begin(self, prompt_ids):
        pass

    def draft(self, context_ids, k, sampling, generator):
        token = int(torch.multinomial(self.q, 1, generator=generator))
        return Draft(tokens=[token], probs=self.q[None].clone())

    def accept(self, n_accepted, context_ids):
        pass

    def end(self):
        pass


def test_sampled_draft_ids_beyond_the_vocabulary_keep_the_target_distribution():
    """Guards the rule for ids ≥ V under sampling: such a draft is rejected and the replacement drawn from
    norm(max(0, p − q)). Ending the draft and drawing a bonus from p instead (the old rule) biased the first
    token towards ``top``: P(top) = p + Q·p = 1.5 p here (p ≈ 0.38 → 0.57), which this chi-square rejects."""
    target = tiny_llama(11, layers=2, vocab=8, hidden=32, init=0.2)
    prompt = [1, 5, 2]
    cfg = SamplingConfig("multinomial", temperature=1.0)
    p1, _, _ = exact_distributions(target, prompt, cfg)
    top = max(range(8), key=lambda i: p1[i])
    counts, outside = [0] * 8, 0
    runs = 800
    for seed in range(runs):
        out = speculative_generate(target, PaddedHeadDrafter(top), prompt, max_new_tokens=2, k=1, trace=True,
                                   sampling=SamplingConfig("multinomial", seed=seed))
        counts[out.token_ids[0]] += 1
        outside += out.trace[0]["rejected"] == [9]
    cells = pooled(counts, p1)
    assert len(cells[0]) >= 4
    assert chi_square_p(*cells) > P_MIN, (counts, [round(e * runs, 1) for e in p1])
    assert 0.4 < outside / runs < 0.6                      # the id ≥ V was drafted (and rejected) half the time


class DoublingK:
    """transformers' heuristic schedule (+2 after a fully accepted step, −1 otherwise), written here so the test
    does not depend on engine/adaptive.py."""

    def next_k(self, current_k, n_drafted, n_accepted):
        return current_k + 2 if n_drafted and n_accepted == n_drafted else max(1, current_k - 1)


def test_adaptive_k_changes_k_and_keeps_output(llama):
    prompt = PROMPTS[1]
    want = reference(llama["target"], prompt, 30)
    got = speculative_generate(llama["target"], ReplayDrafter(prompt, want, corrupt_every=6), prompt,
                               max_new_tokens=30, sampling=GREEDY, k=2, adaptive=DoublingK())
    assert got.token_ids == want
    ks = got.stats.k_history
    assert len(set(ks)) > 2 and max(ks) > 2, ks


# --- sampling: the target's distribution -----------------------------------------------------------------------------

def exact_distributions(target, prompt, cfg: SamplingConfig):
    """P(t1), P(t1, t2) and P(t3) of the target under ``cfg``, computed from its logits (batched forwards)."""
    model = target.model
    with torch.no_grad():
        p1 = logits_to_probs(model(torch.tensor([prompt])).logits[0, -1], cfg)                    # [V]
        V = p1.shape[0]
        two = torch.tensor([prompt + [a] for a in range(V)])                                        # [V, S+1]
        p2 = logits_to_probs(model(two).logits[:, -1], cfg)                                         # [V, V]
        joint2 = p1[:, None] * p2                                                                   # [V, V]
        three = torch.tensor([prompt + [a, b] for a in range(V) for b in range(V)])                # [V², S+2]
        p3 = logits_to_probs(model(three).logits[:, -1], cfg)                                       # [V², V]
        marg3 = (joint2.reshape(-1, 1) * p3).sum(0)                                                 # [V]
    return p1.tolist(), joint2.reshape(-1).tolist(), marg3.tolist()


@pytest.mark.parametrize("cfg, runs, drafter_kind", [
    (SamplingConfig("multinomial", temperature=1.0), 1000, "model"),
    (SamplingConfig("topknucleus", temperature=0.8, top_k=5, top_p=0.9), 600, "model"),
    (SamplingConfig("multinomial", temperature=1.0), 600, "replay"),
])
@pytest.mark.slow
def test_sampled_output_follows_the_target_distribution(cfg, runs, drafter_kind):
    """Chi-square of the first token, the first two tokens (joint) and the third token against the exact target
    distribution, over seeds 0..runs−1; k = 2 so the first two tokens come from one draft → verify step."""
    target = tiny_llama(11, layers=2, vocab=8, hidden=32, init=0.2)      # P(t1) from 0.03 to 0.38
    draft = noisy_copy(target, 0.1, seed=5)
    prompt = [1, 5, 2]
    p1, joint2, marg3 = exact_distributions(target, prompt, cfg)
    c1, c2, c3 = [0] * 8, [0] * 64, [0] * 8
    accepted = drafted = 0
    for seed in range(runs):
        drafter = ModelDrafter(draft) if drafter_kind == "model" else ReplayDrafter(prompt, [0, 1, 0], vocab=8)
        out = speculative_generate(target, drafter, prompt, max_new_tokens=3, sampling=SamplingConfig(
            cfg.processor, cfg.temperature, cfg.top_k, cfg.top_p, seed=seed), k=2)
        t = out.token_ids
        c1[t[0]] += 1
        c2[t[0] * 8 + t[1]] += 1
        c3[t[2]] += 1
        accepted += out.stats.accepted
        drafted += out.stats.drafted
    assert 0.1 < accepted / drafted < 0.9                          # both the accept and the reject paths ran
    for observed, expected in ((c1, p1), (c2, joint2), (c3, marg3)):
        cells = pooled(observed, expected)
        assert len(cells[0]) >= 4                                    # enough outcomes for the test to bite
        assert chi_square_p(*cells) > P_MIN, (observed, [round(e * runs, 1) for e in expected])


def test_sampling_is_reproducible_per_seed(llama):
    cfg = SamplingConfig("multinomial", seed=42)
    runs = [speculative_generate(llama["target"], ModelDrafter(llama["noisy"]), PROMPTS[1], max_new_tokens=15,
                                 sampling=cfg, k=3).token_ids for _ in range(2)]
    assert runs[0] == runs[1]
    other = speculative_generate(llama["target"], ModelDrafter(llama["noisy"]), PROMPTS[1], max_new_tokens=15,
                                 sampling=SamplingConfig("multinomial", seed=43), k=3).token_ids
    assert other != runs[0]


# --- stats, trace, stopping ----------------------------------------------------------------------------------------

def test_stats_are_consistent(llama):
    prompt = PROMPTS[2]
    res = speculative_generate(llama["target"], ModelDrafter(llama["noisy"]), prompt, max_new_tokens=30,
                               sampling=SamplingConfig("multinomial", seed=3), k=4, trace=True)
    s = res.stats
    assert s.new_tokens == len(res.token_ids) == 30
    assert 0 < s.accepted <= s.drafted
    assert sum(s.accepted_hist.values()) == s.steps == len(s.k_history)
    assert sum(n * c for n, c in s.accepted_hist.items()) == s.accepted
    assert s.drafted == sum(s.k_history)                            # a model drafter always fills its window
    assert s.accepted + s.steps >= s.new_tokens                     # each step: accepted + 1 (last may be cut)
    assert s.position_drafted[0] == sum(1 for k in s.k_history if k > 0)   # the last step may draft nothing
    assert all(a <= d for a, d in zip(s.position_accepted, s.position_drafted))
    assert all(t >= 0 for t in (s.prefill_s, s.draft_s, s.verify_s))
    assert s.prefill_s + s.draft_s + s.verify_s <= s.total_s
    assert 0 < s.ttft_s <= s.total_s
    assert s.tokens_per_s > 0
    # the trace tells the same story
    assert len(res.trace) == s.steps
    assert [t for st in res.trace for t in st["accepted"] + ([st["next"]] if st["next"] is not None else [])] \
        == res.token_ids
    assert sum(len(st["accepted"]) for st in res.trace) == s.accepted
    assert sum(len(st["accepted"]) + len(st["rejected"]) for st in res.trace) == s.drafted
    assert {st["kind"] for st in res.trace} <= {"bonus", "correction"}
    assert res.to_dict()["stats"]["new_tokens"] == 30


def test_drafter_lifecycle_is_followed(llama):
    prompt = PROMPTS[1]
    want = reference(llama["target"], prompt, 24)
    drafter = ReplayDrafter(prompt, want, corrupt_every=4)
    res = speculative_generate(llama["target"], drafter, prompt, max_new_tokens=10, sampling=GREEDY, k=3)
    assert drafter.calls[0] == "begin" and drafter.calls[-1] == "end"
    accepts = [c for c in drafter.calls if c.startswith("accept:")]
    assert len(accepts) == res.stats.steps
    assert sum(int(c.split(":")[1]) for c in accepts) == res.stats.accepted


@pytest.mark.parametrize("budget", range(0, 8))
def test_never_more_than_max_new_tokens(llama, budget):
    prompt = PROMPTS[1]
    want = reference(llama["target"], prompt, 24)
    res = speculative_generate(llama["target"], ReplayDrafter(prompt, want), prompt, max_new_tokens=budget,
                               sampling=GREEDY, k=4)
    assert res.token_ids == want[:budget]
    assert res.stats.new_tokens == budget
    assert all(k <= max(0, budget - 1) for k in res.stats.k_history)   # the window shrinks at the end
    base = autoregressive_generate(llama["target"], prompt, max_new_tokens=budget, sampling=GREEDY)
    assert base.token_ids == want[:budget] and base.stats.steps == budget


def test_stops_at_eos_like_transformers(llama):
    prompt = PROMPTS[1]
    want = reference(llama["target"], prompt, 24)
    eos = want[9]
    cut = want[: want.index(eos) + 1]
    assert cut == hf_greedy(llama["target"], prompt, 24, eos_token_id=eos)
    for drafter in (ModelDrafter(llama["noisy"]), ReplayDrafter(prompt, want)):     # eos inside accepted drafts
        res = speculative_generate(llama["target"], drafter, prompt, max_new_tokens=24, sampling=GREEDY, k=6,
                                   eos_token_id=eos, trace=True)
        assert res.token_ids == cut
        assert res.stats.new_tokens == len(cut)
    base = autoregressive_generate(llama["target"], prompt, max_new_tokens=24, sampling=GREEDY, eos_token_id=[eos])
    assert base.token_ids == cut


def test_should_stop_is_polled_between_steps(llama):
    polls = []

    def stop():
        polls.append(1)
        return len(polls) > 3

    res = speculative_generate(llama["target"], ModelDrafter(llama["noisy"]), PROMPTS[1], max_new_tokens=50,
                               sampling=GREEDY, k=2, should_stop=stop)
    assert res.stats.steps == 3 and 3 <= len(res.token_ids) <= 9 and res.cancelled
    polls.clear()
    base = autoregressive_generate(llama["target"], PROMPTS[1], max_new_tokens=50, sampling=GREEDY, should_stop=stop)
    assert base.token_ids == reference(llama["target"], PROMPTS[1], 24)[:3] and base.cancelled
    full = autoregressive_generate(llama["target"], PROMPTS[1], max_new_tokens=5, sampling=GREEDY)
    assert not full.cancelled and full.to_dict()["cancelled"] is False


def test_bad_arguments_are_usage_errors(llama):
    t = llama["target"]
    with pytest.raises(UsageError, match="prompt"):
        speculative_generate(t, ModelDrafter(llama["noisy"]), [], max_new_tokens=5, sampling=GREEDY)
    with pytest.raises(UsageError, match="k "):
        speculative_generate(t, ModelDrafter(llama["noisy"]), [1], max_new_tokens=5, sampling=GREEDY, k=0)
    with pytest.raises(UsageError, match="temperature"):
        autoregressive_generate(t, [1], max_new_tokens=5, sampling=SamplingConfig("multinomial", temperature=-1))


def test_baseline_labels_and_stats(llama):
    res = autoregressive_generate(llama["small"], PROMPTS[1], max_new_tokens=12, sampling=GREEDY, strategy="draft")
    assert res.strategy == "draft" and res.stats.steps == 12 == res.stats.new_tokens
    assert res.stats.drafted == 0 and res.stats.accepted_hist == {0: 12}
    assert speculative_generate(llama["target"], ModelDrafter(llama["noisy"]), PROMPTS[1], max_new_tokens=4,
                                sampling=GREEDY).strategy == "speculative"


# --- a real model --------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_smollm2_layerskip_greedy_equals_generate(smollm2_gguf):
    """Real weights (SmolLM2-135M-Instruct Q4_1, dequantized): layer-skip self-drafting (24 of 30 layers) gives
    transformers' greedy output exactly. ~12 s to load (shared with test_loading), ~3 s to generate."""
    from draftfinder.engine.loading import load_model

    target = load_model(str(smollm2_gguf))
    prompt = target.tokenizer.encode("1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,")
    n = 16
    want = hf_greedy(target, prompt, n, eos_token_id=target.eos_token_ids)
    res = speculative_generate(target, LayerSkipDrafter(target, 24), prompt, max_new_tokens=n, sampling=GREEDY,
                               k=4, trace=True)
    assert res.token_ids == want
    assert res.stats.accepted / res.stats.drafted > 0.3             # measured 0.73: counting is easy
    assert res.text.startswith(" 13, 14, 15")
