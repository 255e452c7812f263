"""draftfinder.compat.checks and draftfinder.compat.teststrings: the checker's verdicts on real tokenizers.

The expected verdicts come from what the fixture files are (../shared/fixtures/README.md): Qwen2.5 sizes
share one tokenizer despite padded config vocab sizes; Mistral-7B-v0.1 has Llama-2's size (32000) but a
different vocabulary; TinyLlama ships Llama-2's tokenizer.model; distilgpt2 ships gpt2's files.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import fixture_dir, fixture_record as record, fixture_tokenizer as tok
from draftfinder.compat import teststrings
from draftfinder.compat import facts as vocab
from draftfinder.compat import tokenizer as loading
from draftfinder.compat.checks import LENIENT_MIN_MATCH_RATE, EnhancedTokenizerChecker
from draftfinder.compat.stringrun import MAX_FAILED_EXAMPLES
from draftfinder.models.sources.base import ModelRecord

CHECK_NAMES = ["vocabulary", "tokenizer_size", "special_tokens", "tokenization", "decode", "fingerprint",
               "added_tokens", "add_special_tokens", "embedding_size", "architecture"]

# (target, draft, compatible in strict mode)
PAIRS = [
    ("Qwen/Qwen2.5-7B", "Qwen/Qwen2.5-0.5B", True),                      # 152064 vs 151936: padding only
    ("Qwen/Qwen2.5-7B", "Qwen/Qwen2.5-1.5B", True),
    ("meta-llama/Llama-2-7b-hf", "TinyLlama/TinyLlama-1.1B-Chat-v1.0", True),
    ("gpt2", "distilgpt2", True),
    ("meta-llama/Llama-2-7b-hf", "mistralai/Mistral-7B-v0.1", False),     # equal size 32000, other vocab
    ("gpt2", "Qwen/Qwen2.5-0.5B", False),
    ("Qwen/Qwen2.5-7B", "gpt2", False),
    ("Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-0.5B", True),              # EOS differs, ids identical (warning)
]


def config(name):
    return record(name).config


def check(target, draft, **kw):
    return EnhancedTokenizerChecker.verify_compatibility(tok(target), tok(draft), target, draft,
                                                         target_config=config(target), draft_config=config(draft), **kw)


def by_name(result):
    return {c.name: c for c in result.checks}


@pytest.fixture
def test_strings(monkeypatch):
    """A private copy of the class-level list, so extending it in a test does not leak."""
    monkeypatch.setattr(EnhancedTokenizerChecker, "TEST_STRINGS", list(EnhancedTokenizerChecker.TEST_STRINGS))
    return EnhancedTokenizerChecker.TEST_STRINGS


# --- test strings -----------------------------------------------------------------------------------

def test_the_manuals_23_test_strings():
    assert len(teststrings.DEFAULT_TEST_STRINGS) == 23                   # manual §4.1, §13.2
    counts = {c: sum(1 for cat, _ in teststrings.DEFAULT_TEST_STRINGS if cat == c) for c in teststrings.CATEGORIES}
    assert counts == {"basic": 3, "numbers_punctuation": 4, "special_characters": 4, "code": 4,
                      "unicode_emoji": 4, "edge_cases": 4}
    edge = [text for cat, text in teststrings.DEFAULT_TEST_STRINGS if cat == "edge_cases"]
    assert "" in edge and any(t and not t.strip() for t in edge) and max(map(len, edge)) > 2000
    assert EnhancedTokenizerChecker.TEST_STRINGS == teststrings.default_texts()


def test_user_strings_are_tagged(tmp_path):
    assert teststrings.categorize(["Hello, world!", "mine"]) == [("basic", "Hello, world!"), ("user", "mine")]
    combined = teststrings.with_user_strings(["x", ("code", "y = 1")])
    assert combined[-2:] == [("user", "x"), ("code", "y = 1")] and len(combined) == 25
    lines = tmp_path / "tests.txt"
    lines.write_text("first\n\nsecond\\nline\n")
    assert teststrings.read_user_strings(lines) == ["first", "second\nline"]
    js = tmp_path / "tests.json"
    js.write_text(json.dumps(["a", "b"]))
    assert teststrings.read_user_strings(js) == ["a", "b"]


def test_bad_user_strings_file(tmp_path):
    from draftfinder.errors import ModelFileError

    js = tmp_path / "tests.json"
    js.write_text('{"not": "a list"}')
    with pytest.raises(ModelFileError, match="JSON list of strings"):
        teststrings.read_user_strings(js)
    with pytest.raises(ModelFileError, match="cannot read"):
        teststrings.read_user_strings(tmp_path / "missing.txt")


# --- verdicts on the fixture pairs ------------------------------------------------------------------

@pytest.mark.parametrize("target, draft, compatible", PAIRS)
def test_verdicts(fixtures, target, draft, compatible):
    result = check(target, draft)
    assert result.is_compatible is compatible
    assert [c.name for c in result.checks] == CHECK_NAMES
    assert result.is_compatible == all(c.passed for c in result.checks if c.required)
    assert result.num_test_strings == 23
    assert result.num_passed_tests + result.num_failed_tests == 23
    assert result.tokenization_match_rate == pytest.approx(result.num_passed_tests / 23)
    assert result.method == "tokenizers"
    assert set(result.engines) == {"transformers", "vllm", "llama.cpp", "sglang"}
    assert bool(result.incompatibility_reasons) is not compatible
    json.dumps(result.to_dict())                                          # renders


def test_padded_qwen_vocab_is_compatible(fixtures):
    result = check("Qwen/Qwen2.5-7B", "Qwen/Qwen2.5-0.5B")
    checks = by_name(result)
    assert (result.shared_vocab_size, result.vocab_mismatches) == (151665, 0)
    assert result.vocab_size_match and result.tokenizer_match and result.special_tokens_match
    assert (checks["embedding_size"].target_value, checks["embedding_size"].draft_value) == (152064, 151936)
    assert "+399 padding" in checks["embedding_size"].reason and checks["embedding_size"].required is False
    assert result.compatibility_score == 100.0 and result.warnings == []


def test_same_size_different_vocabulary_is_rejected(fixtures):
    result = check("meta-llama/Llama-2-7b-hf", "mistralai/Mistral-7B-v0.1")
    checks = by_name(result)
    assert (result.shared_vocab_size, result.vocab_mismatches) == (32000, 31730)
    assert result.vocab_size_match is True and result.tokenizer_match is False     # size alone proves nothing
    assert not checks["vocabulary"].passed and "31,730 of 32,000" in checks["vocabulary"].reason
    assert (result.num_passed_tests, result.num_failed_tests) == (1, 22)          # only "" agrees
    assert len(result.failed_test_examples) == MAX_FAILED_EXAMPLES
    # The real property, whatever a transformers version does with SentencePiece's dummy prefix (5.23 cut
    # Mistral's "Hello" without it, 5.24 gives "▁Hello" as the original model does): each tokenizer
    # round-trips the text with its own ids, and the draft's ids read with the target's vocabulary are
    # other text — so Mistral cannot draft for Llama-2.
    llama, mistral = tok("meta-llama/Llama-2-7b-hf"), tok("mistralai/Mistral-7B-v0.1")
    first = result.failed_test_examples[0]
    assert (first["index"], first["category"], first["text"]) == (1, "basic", "Hello, world!")
    assert first["target_ids"] != first["draft_ids"]
    assert first["target_tokens"] == llama.convert_ids_to_tokens(first["target_ids"])
    assert first["draft_tokens"] == mistral.convert_ids_to_tokens(first["draft_ids"])
    assert llama.decode(first["target_ids"]) == mistral.decode(first["draft_ids"]) == "Hello, world!"
    assert llama.decode(first["draft_ids"]).strip() != "Hello, world!"
    assert not result.decode_match


def test_failed_examples_have_the_manuals_fields(fixtures):
    result = check("gpt2", "Qwen/Qwen2.5-0.5B")
    gpt2, qwen = tok("gpt2"), tok("Qwen/Qwen2.5-0.5B")
    for example in result.failed_test_examples:
        assert {"text", "target_ids", "draft_ids", "target_tokens", "draft_tokens"} <= set(example)
        assert example["target_ids"] == gpt2(example["text"], add_special_tokens=False)["input_ids"]
        assert example["draft_tokens"] == qwen.convert_ids_to_tokens(example["draft_ids"])


def test_tinyllama_pad_difference_is_a_warning(fixtures):
    result = check("meta-llama/Llama-2-7b-hf", "TinyLlama/TinyLlama-1.1B-Chat-v1.0")
    checks = by_name(result)
    assert result.is_compatible and checks["special_tokens"].passed
    assert "PAD differs" in checks["special_tokens"].reason
    assert not checks["add_special_tokens"].passed and not checks["add_special_tokens"].required
    assert any(w.startswith("add_special_tokens:") for w in result.warnings)
    assert result.compatibility_score == 95.0            # PAD role (2.5) + add_bos default (2.5)


# --- strict vs lenient ------------------------------------------------------------------------------

def test_special_token_roles_are_required_only_when_configured(fixtures):
    """A base draft for an instruct target: same ids, different EOS. By default (manual §6.3
    ``require_special_tokens: false``) compatible with a warning that speaks for no engine (llama.cpp's own
    checks decide for llama.cpp);
    with ``require_special_tokens=True`` it is incompatible, in strict and lenient mode alike."""
    default = check("Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-0.5B")
    assert default.is_compatible
    assert not default.special_tokens_match
    assert any("EOS differs: '<|im_end|>' (151645) vs '<|endoftext|>' (151643)" in w for w in default.warnings)
    special = by_name(default)["special_tokens"].reason
    assert "refuses" not in special and "each engine's verdict says" in special
    required = check("Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-0.5B", require_special_tokens=True)
    assert not required.is_compatible
    assert required.incompatibility_reasons == [by_name(required)["special_tokens"].name + ": "
                                                + by_name(required)["special_tokens"].reason]
    assert "EOS differs: '<|im_end|>' (151645) vs '<|endoftext|>' (151643)" in required.incompatibility_reasons[0]
    assert not check("Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-0.5B", lenient=True,
                     require_special_tokens=True).is_compatible


@pytest.mark.parametrize("target, draft", [("meta-llama/Llama-2-7b-hf", "mistralai/Mistral-7B-v0.1"),
                                           ("gpt2", "Qwen/Qwen2.5-0.5B")])
def test_lenient_never_accepts_a_different_vocabulary(fixtures, target, draft):
    result = check(target, draft, lenient=True, min_match_rate=0.0)
    assert not result.is_compatible
    assert by_name(result)["vocabulary"].required and not by_name(result)["vocabulary"].passed


def test_lenient_accepts_extra_tokens_at_the_end(fixtures):
    from transformers import AutoTokenizer

    target = tok("gpt2")
    draft = AutoTokenizer.from_pretrained(str(fixture_dir("gpt2")))          # a fresh, private copy
    draft.add_special_tokens({"additional_special_tokens": ["<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>"]})
    strict = EnhancedTokenizerChecker.verify_compatibility(target, draft, "gpt2", "gpt2+fim")
    assert not strict.is_compatible and not by_name(strict)["tokenizer_size"].passed
    assert by_name(strict)["vocabulary"].passed and strict.vocab_mismatches == 0
    lenient = EnhancedTokenizerChecker.verify_compatibility(target, draft, "gpt2", "gpt2+fim", lenient=True)
    assert lenient.is_compatible
    assert any("3 extra token(s)" in w and "lenient" in w for w in lenient.warnings)
    assert "only the draft has ids [50257, 50258, 50259]" in by_name(lenient)["added_tokens"].reason


def test_match_rate_thresholds(fixtures):
    result = check("meta-llama/Llama-2-7b-hf", "mistralai/Mistral-7B-v0.1", min_match_rate=0.0)
    assert by_name(result)["tokenization"].passed and not result.is_compatible      # vocabulary still fails
    lenient = check("meta-llama/Llama-2-7b-hf", "TinyLlama/TinyLlama-1.1B-Chat-v1.0", lenient=True)
    assert f"needs ≥ {LENIENT_MIN_MATCH_RATE:.0%}, lenient" in by_name(lenient)["tokenization"].reason


# --- user strings -----------------------------------------------------------------------------------

def test_user_added_strings_run(fixtures, test_strings):
    test_strings.extend(["Your domain-specific text here", "Another test case"])      # manual §8.7
    result = check("gpt2", "distilgpt2")
    assert (result.num_test_strings, result.num_passed_tests) == (25, 25)
    result = check("gpt2", "distilgpt2", extra_test_strings=["one more"])
    assert result.num_test_strings == 26


def test_user_strings_show_in_failures(fixtures, test_strings):
    test_strings[:] = ["Hello there", "Mistral differs here"]
    result = check("meta-llama/Llama-2-7b-hf", "mistralai/Mistral-7B-v0.1",
                   extra_test_strings=[("code", "x = 1")])
    assert result.num_test_strings == 3
    assert [e["category"] for e in result.failed_test_examples] == ["user", "user", "code"]


# --- offline facts ----------------------------------------------------------------------------------

@pytest.mark.parametrize("target, draft, compatible", PAIRS)
@pytest.mark.parametrize("lenient", [False, True])
def test_verify_facts_agrees_with_the_tokenizers(fixtures, target, draft, compatible, lenient):
    live = check(target, draft, lenient=lenient)
    stored = [vocab.TokenizerFacts.from_dict(json.loads(json.dumps(vocab.facts_from_tokenizer(tok(n)).to_dict())))
              for n in (target, draft)]                                     # as the catalog stores them
    offline = EnhancedTokenizerChecker.verify_facts(*stored, target, draft, target_config=config(target),
                                                    draft_config=config(draft), lenient=lenient)
    assert offline.method == "fingerprint"
    assert offline.is_compatible == live.is_compatible
    assert [c.name for c in offline.checks] == CHECK_NAMES
    for name in ("vocabulary", "tokenizer_size", "special_tokens", "tokenization", "decode"):
        assert by_name(offline)[name].passed == by_name(live)[name].passed, name
    if by_name(live)["vocabulary"].passed:         # same ids: the stored encodings give the live match rate
        assert offline.tokenization_match_rate == live.tokenization_match_rate
    assert {k: (v.compatible, v.mode) for k, v in offline.engines.items()} == \
           {k: (v.compatible, v.mode) for k, v in live.engines.items()}
    assert offline.num_test_strings == 0


def test_identical_tokenizers_pass_offline(fixtures):
    f = [vocab.facts_from_tokenizer(tok(n)) for n in ("Qwen/Qwen2.5-7B", "Qwen/Qwen2.5-0.5B")]
    result = EnhancedTokenizerChecker.verify_facts(*f, "Qwen/Qwen2.5-7B", "Qwen/Qwen2.5-0.5B")
    tokenization = by_name(result)["tokenization"]
    assert tokenization.passed and tokenization.reason.startswith("23/23 built-in test strings tokenize identically")
    assert by_name(result)["fingerprint"].passed and by_name(result)["decode"].passed
    assert result.tokenization_match_rate == 1.0 and result.compatibility_score == 100.0
    assert result.engines == {}                                                  # no configs given


def test_same_vocabulary_other_pre_tokenizer_is_decided_offline(fixtures):
    """Same vocabulary, other behaviour (a prefix space): the stored test-string encodings decide offline
    what the files decide live (was: skipped as "cannot be verified offline")."""
    from transformers import AutoTokenizer

    plain = tok("gpt2")
    spaced = AutoTokenizer.from_pretrained(str(fixture_dir("gpt2")), add_prefix_space=True)
    live = EnhancedTokenizerChecker.verify_compatibility(plain, spaced, "gpt2", "gpt2", lenient=True)
    assert not live.is_compatible and live.num_passed_tests == 3
    for lenient in (False, True):
        offline = EnhancedTokenizerChecker.verify_facts(vocab.facts_from_tokenizer(plain),
                                                        vocab.facts_from_tokenizer(spaced), "gpt2", "gpt2",
                                                        lenient=lenient)
        tokenization = by_name(offline)["tokenization"]
        assert by_name(offline)["vocabulary"].passed
        assert not tokenization.skipped and not tokenization.passed and not offline.is_compatible
        assert tokenization.reason.startswith("3/23 built-in test strings tokenize identically")
        assert offline.tokenization_match_rate == live.tokenization_match_rate
        assert "encodings of 20/23 test strings" in by_name(offline)["fingerprint"].reason


def test_gguf_pair_is_incompatible(smollm2_gguf, gemma_gguf):
    smol = loading.load_tokenizer(ModelRecord(model_id="smol", source="gguf", gguf_path=smollm2_gguf))
    gemma = loading.load_tokenizer(ModelRecord(model_id="gemma", source="gguf", gguf_path=gemma_gguf))
    for lenient in (False, True):
        result = EnhancedTokenizerChecker.verify_compatibility(gemma, smol, "gemma-3-270m", "SmolLM2-135M",
                                                               lenient=lenient)
        assert not result.is_compatible
        assert (result.shared_vocab_size, result.vocab_mismatches) == (49152, 49150)
        assert result.num_passed_tests == 1
        offline = EnhancedTokenizerChecker.verify_facts(vocab.facts_from_tokenizer(gemma),
                                                        vocab.facts_from_tokenizer(smol), "g", "s", lenient=lenient)
        assert not offline.is_compatible
    same = EnhancedTokenizerChecker.verify_compatibility(smol, smol, "SmolLM2-135M", "SmolLM2-135M")
    assert same.is_compatible and same.compatibility_score == 100.0


def test_facts_of_other_test_strings_are_not_compared(fixtures):
    """Facts whose encodings cover another list of test strings cannot stand in for running them."""
    f = [vocab.facts_from_tokenizer(tok(n)) for n in ("gpt2", "distilgpt2")]
    data = f[1].to_dict()
    data["test_strings_hash"] = "0" * 16
    other = vocab.TokenizerFacts.from_dict(data)
    result = EnhancedTokenizerChecker.verify_facts(f[0], other, "gpt2", "distilgpt2", lenient=True)
    assert by_name(result)["tokenization"].skipped and not result.is_compatible
    assert "cover different test strings" in by_name(result)["tokenization"].reason
