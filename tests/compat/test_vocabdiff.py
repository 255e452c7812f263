"""draftfinder.compat.vocabdiff: comparing real vocabularies, from full token lists and from stored facts.

Runs on ../shared/fixtures (real tokenizer files of public models); tokenizers are loaded through
``loading.load_tokenizer``, whose per-process cache they share with the other test modules.
"""

from __future__ import annotations

from tests.conftest import fixture_tokenizer as tok
from draftfinder.compat import facts as vocab
from draftfinder.compat import vocabdiff


def facts(name: str) -> vocab.TokenizerFacts:
    return vocab.facts_from_tokenizer(tok(name))


def test_exact_comparison_counts_mismatches(fixtures):
    cmp = vocabdiff.compare_token_lists(vocab.token_texts(tok("meta-llama/Llama-2-7b-hf")),
                                        vocab.token_texts(tok("mistralai/Mistral-7B-v0.1")))
    assert (cmp.size, cmp.mismatches, cmp.identical) == (32000, 31730, False)
    assert cmp.examples[0] == (260, "▁t", "▁▁▁▁")
    cmp = vocabdiff.compare_token_lists(vocab.token_texts(tok("gpt2")), vocab.token_texts(tok("Qwen/Qwen2.5-7B")))
    assert (cmp.size, cmp.mismatches) == (50257, 49998)


def test_facts_comparison_over_padded_range(fixtures):
    small, big = facts("Qwen/Qwen2.5-0.5B"), facts("Qwen/Qwen2.5-7B")
    cmp = vocabdiff.compare_facts(big, small, start=5, target_n_vocab=152064, draft_n_vocab=151936)
    assert (cmp.start, cmp.end, cmp.identical, cmp.mismatches) == (5, 151936, True, 0)


def test_facts_comparison_marks_what_it_cannot_see(fixtures):
    cmp = vocabdiff.compare_facts(facts("gpt2"), facts("Qwen/Qwen2.5-7B"))
    assert cmp.identical is False and cmp.mismatches is None            # known per block only
    assert cmp.differing_ranges[0] == (5, 49152)
    assert cmp.unverified_ranges == [(49152, 50257)]                    # gpt2's last, partial block


def test_pad_token_text_follows_the_converter():
    assert vocabdiff.pad_token_text(151700, 151665, "BPE") == "[PAD151700]"
    assert vocabdiff.pad_token_text(32000, 32000, "SPM") == "[PAD1]"
