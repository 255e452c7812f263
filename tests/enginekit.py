"""Helpers of the engine tests (test_speculative.py, test_drafters.py): tiny models and a chi-square test.

Tiny random-weight causal LMs: 
real transformers models (Llama, Gemma-3), built in code in milliseconds. ``initializer_range=0.3`` makes their
next-token distributions peaked enough that greedy outputs vary and top-2 logit gaps are far above float
rounding (the default 0.02 gives near-uniform logits and one repeated token). No BOS/EOS/PAD ids, so
``generate`` runs to ``max_new_tokens`` unless a test passes an EOS.
"""

from __future__ import annotations

import contextlib
import copy
from typing import Iterator, Optional

import torch

from draftfinder.engine.loading import LoadedModel

@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Tiny models run ~1 ms per forward on one thread; with two OpenMP threads on a busy 2-core machine the
    same forward can take 100+ ms (threads spin-waiting for a core). Tests of tiny models use one thread."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


NO_SPECIAL = dict(bos_token_id=None, eos_token_id=None, pad_token_id=None)


def _finish(model, name: str) -> LoadedModel:
    model.eval()
    model.requires_grad_(False)
    model.generation_config.eos_token_id = None
    model.generation_config.pad_token_id = None
    model.generation_config.bos_token_id = None
    return LoadedModel(name=name, model=model)


def tiny_llama(seed: int = 0, *, layers: int = 4, vocab: int = 300, hidden: int = 64,
               init: float = 0.3) -> LoadedModel:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=vocab, hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                         initializer_range=init, **NO_SPECIAL)
    return _finish(LlamaForCausalLM(config), f"tiny-llama-{layers}L-s{seed}")


def tiny_gemma3(seed: int = 0, *, vocab: int = 300, sliding_window: int = 6, init: float = 0.3) -> LoadedModel:
    """Gemma-3 text model, 6 layers (sliding, sliding, full) × 2, window ``sliding_window`` (real one: 512)."""
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    torch.manual_seed(seed)
    config = Gemma3TextConfig(
        vocab_size=vocab, hidden_size=64, intermediate_size=128, num_hidden_layers=6, num_attention_heads=4,
        num_key_value_heads=2, head_dim=16, sliding_window=sliding_window, max_position_embeddings=256,
        initializer_range=init, tie_word_embeddings=False,      # tied + sqrt(hidden) scaling just echoes the input
        layer_types=["sliding_attention", "sliding_attention", "full_attention"] * 2, **NO_SPECIAL)
    return _finish(Gemma3ForCausalLM(config), f"tiny-gemma3-s{seed}")


def noisy_copy(loaded: LoadedModel, sigma: float, seed: int = 1, name: Optional[str] = None) -> LoadedModel:
    """The same model with N(0, sigma²) added to every weight: a draft that agrees often, not always
    (tiny_llama, sigma 0.003: greedy acceptance ≈ 0.4)."""
    model = copy.deepcopy(loaded.model)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=generator) * sigma)
    return LoadedModel(name=name or f"{loaded.name}+noise{sigma}", model=model)


def hf_greedy(loaded: LoadedModel, prompt, max_new_tokens: int, eos_token_id=None):
    """transformers' own greedy decoding: the reference our engine must reproduce token for token."""
    out = loaded.model.generate(torch.tensor([list(prompt)]), max_new_tokens=max_new_tokens, do_sample=False,
                                eos_token_id=eos_token_id, pad_token_id=0)
    return out[0, len(prompt):].tolist()


P_MIN = 1e-3     # p-value threshold of every statistical test (fixed seeds: the outcome is deterministic)


def chi_square_p(observed, expected_probs) -> float:
    """p-value of Pearson's chi-square test (survival of chi2 with df = cells − 1, via the regularized Γ)."""
    total = sum(observed)
    assert all(o == 0 for o, e in zip(observed, expected_probs) if e == 0), "a zero-probability outcome occurred"
    cells = [(o, total * e) for o, e in zip(observed, expected_probs) if e > 0]
    stat = sum((o - e) ** 2 / e for o, e in cells)
    df = len(cells) - 1
    return float(torch.special.gammaincc(torch.tensor(df / 2, dtype=torch.float64),
                                         torch.tensor(stat / 2, dtype=torch.float64)))


def pooled(observed, expected, min_expected=5.0):
    """Merge the cells with expected count < min_expected into one, so the chi-square approximation holds."""
    total = sum(observed)
    keep_o, keep_e, rest_o, rest_e = [], [], 0, 0.0
    for o, e in zip(observed, expected):
        if e * total >= min_expected:
            keep_o.append(o)
            keep_e.append(e)
        else:
            rest_o += o
            rest_e += e
    if rest_e > 0:
        keep_o.append(rest_o)
        keep_e.append(rest_e)
    return keep_o, keep_e
