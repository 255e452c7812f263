"""draftfinder.compat.engine_rules: each engine's own acceptance rule, applied to real tokenizer facts and configs."""

from __future__ import annotations

import inspect

import pytest

from tests.conftest import fixture_record as record
from draftfinder.compat import engine_rules as engines
from draftfinder.compat import facts as vocab
from draftfinder.compat import tokenizer as loading
from draftfinder.models.sources.base import ModelRecord


def facts(name):
    return vocab.facts_from_tokenizer(loading.load_tokenizer(record(name)))


def verdicts(target, draft, target_config=None, draft_config=None):
    return engines.engine_verdicts(facts(target), facts(draft),
                                   target_config or record(target).config, draft_config or record(draft).config)


def modes(result):
    return {name: (v.compatible, v.mode) for name, v in result.items()}


DIRECT = {"transformers": (True, "same-tokenizer"), "vllm": (True, "draft-model"),
          "llama.cpp": (True, "shared-vocab"), "sglang": (True, "shared-ids")}


@pytest.mark.parametrize("target, draft", [
    ("gpt2", "distilgpt2"),
    ("meta-llama/Llama-2-7b-hf", "TinyLlama/TinyLlama-1.1B-Chat-v1.0"),
])
def test_identical_tokenizers_and_sizes_share_ids_everywhere(fixtures, target, draft):
    assert modes(verdicts(target, draft)) == DIRECT


@pytest.mark.parametrize("draft", ["Qwen/Qwen2.5-0.5B", "Qwen/Qwen2.5-1.5B"])
def test_qwen_padded_vocab(fixtures, draft):
    result = verdicts("Qwen/Qwen2.5-7B", draft)
    assert modes(result) == {"transformers": (True, "universal-assisted-decoding"),
                             "vllm": (True, "heterogeneous-vocab"),
                             "llama.cpp": (True, "shared-vocab"), "sglang": (True, "shared-ids")}
    hf = " ".join(result["transformers"].reasons)
    assert "assistant_tokenizer=draft_tokenizer" in result["transformers"].reasons[0]
    assert "identical tokenizers" in hf and "resize_token_embeddings(152064)" in hf
    vllm = " ".join(result["vllm"].reasons)
    assert "use_heterogeneous_vocab" in result["vllm"].reasons[0]
    assert "ValueError (config vocab_size 152064 vs 151936)" in vllm
    assert "n_vocab 152064 vs 151936 (diff 128, max 128)" in " ".join(result["llama.cpp"].reasons)


def test_same_size_different_vocabulary(fixtures):
    result = verdicts("meta-llama/Llama-2-7b-hf", "mistralai/Mistral-7B-v0.1")
    assert modes(result) == {"transformers": (False, "rejected"), "vllm": (True, "heterogeneous-vocab"),
                             "llama.cpp": (False, "refused"), "sglang": (False, "mismatched")}
    assert "equal (32000)" in result["transformers"].reasons[0]
    assert "ValueError" in result["transformers"].reasons[1]
    failed = [c.name for c in result["llama.cpp"].checks if not c.passed]
    assert failed == ["llama.cpp.token_text"]
    assert "token text differs within ids 5–31999" in result["llama.cpp"].reasons[0]


def test_llamacpp_token_text_reason_names_no_id_it_does_not_know(fixtures):
    """Guards the token-text reason: it said "token text differs from id 5" for Llama-2 vs Mistral, whose id 5
    is '<0x02>' on both sides (the first differing id is 260). Facts know only that the hashes of the blocks
    over ids 5–31999 differ, so the reason says that; an id is named only when it was compared text by text."""
    from draftfinder.compat.facts import token_texts

    t, d = "meta-llama/Llama-2-7b-hf", "mistralai/Mistral-7B-v0.1"
    reason = {c.name: c for c in verdicts(t, d)["llama.cpp"].checks}["llama.cpp.token_text"].reason
    a, b = token_texts(loading.load_tokenizer(record(t))), token_texts(loading.load_tokenizer(record(d)))
    assert a[5] == b[5] == "<0x02>" and min(i for i in range(5, 32000) if a[i] != b[i]) == 260
    assert "from id 5" not in reason and "within ids 5–31999" in reason


def test_sglang_standalone_needs_shared_ids(fixtures):
    """SGLang STANDALONE checks nothing (sgl-project/sglang@08dae28 standalone_worker.py): the verdict is whether
    the target can read the draft's ids as its own. Qwen2.5's padded sizes share ids (draft rows ≤ target
    rows); Llama-2 vs Mistral (32000 both) would start and draft tokens the target reads as others."""
    padded = verdicts("Qwen/Qwen2.5-7B", "Qwen/Qwen2.5-0.5B")["sglang"]
    assert (padded.compatible, padded.mode) == (True, "shared-ids")
    assert "--speculative-algorithm STANDALONE --speculative-draft-model-path DRAFT" in padded.reasons[0]
    size = {c.name: c for c in padded.checks}["config_vocab_size"]
    assert size.passed and (size.target_value, size.draft_value) == (152064, 151936)
    reverse = verdicts("Qwen/Qwen2.5-0.5B", "Qwen/Qwen2.5-7B")["sglang"]
    rsize = {c.name: c for c in reverse.checks}["config_vocab_size"]
    assert reverse.compatible and not rsize.passed and not rsize.required and "outside" in rsize.reason
    other = verdicts("meta-llama/Llama-2-7b-hf", "mistralai/Mistral-7B-v0.1")["sglang"]
    assert (other.compatible, other.mode) == (False, "mismatched")
    assert other.reasons[0].startswith("mismatched:") and "checks nothing" in other.reasons[0]
    assert "08dae28" in other.version and "standalone_worker.py" in other.rule


def test_base_draft_for_instruct_target_passes_current_llamacpp(fixtures):
    """Guards issue 9 §2: "llama.cpp ✓ (retokenize)" was printed beside a warning that llama.cpp refuses the
    pair. Current llama.cpp (ggml-org/llama.cpp#22358) compares EOS ids only when EOS is added, and neither Qwen
    tokenizer adds it: shared vocabulary. Builds before #22358 compared the ids and translated through text."""
    result = verdicts("Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-0.5B")
    v = result["llama.cpp"]
    assert (v.compatible, v.mode) == (True, "shared-vocab")
    eos = {c.name: c for c in v.checks}["llama.cpp.add_eos"]
    assert eos.passed and eos.target_value == {"add_eos": False, "eos_id": 151645}
    assert "ids differ, 151645 vs 151643, but are not compared" in eos.reason
    assert "#22358" in v.version and "before #22358" in v.reasons[-1] and "translate" in v.reasons[-1]


def test_cross_family_is_refused(fixtures):
    result = verdicts("gpt2", "Qwen/Qwen2.5-0.5B")
    assert modes(result) == {"transformers": (True, "universal-assisted-decoding"),
                             "vllm": (True, "heterogeneous-vocab"), "llama.cpp": (False, "refused"),
                             "sglang": (False, "mismatched")}
    assert "n_vocab differs by 101679 > 128" in result["llama.cpp"].reasons[0]
    assert "translated such a pair's drafts through text" in result["llama.cpp"].reasons[-1]


def test_gguf_pair(smollm2_gguf, gemma_gguf):
    smol = vocab.facts_from_tokenizer(loading.load_tokenizer(ModelRecord(model_id="s", source="gguf",
                                                                       gguf_path=smollm2_gguf)))
    gemma = vocab.facts_from_tokenizer(loading.load_tokenizer(ModelRecord(model_id="g", source="gguf",
                                                                        gguf_path=gemma_gguf)))
    result = engines.engine_verdicts(gemma, smol, {"vocab_size": 262144}, {"vocab_size": 49152})
    assert modes(result) == {"transformers": (True, "universal-assisted-decoding"),
                             "vllm": (True, "heterogeneous-vocab"), "llama.cpp": (False, "refused"),
                             "sglang": (False, "mismatched")}
    reason = result["llama.cpp"].reasons[0]
    assert "vocab type differs (SPM vs BPE)" in reason
    assert "add_bos differs (True vs False)" in reason and "n_vocab differs by 212992" in reason
    assert "vocab type SPM/BPE" in result["llama.cpp"].reasons[1]
    same = engines.engine_verdicts(smol, smol, {"vocab_size": 49152}, {"vocab_size": 49152})
    assert modes(same) == DIRECT


# --- the llama.cpp rule in detail -------------------------------------------------------------------

def test_llamacpp_size_tolerance_is_128(fixtures):
    big, small = facts("Qwen/Qwen2.5-7B"), facts("Qwen/Qwen2.5-0.5B")
    assert engines.SPEC_VOCAB_MAX_SIZE_DIFFERENCE == 128 and engines.SPEC_VOCAB_CHECK_START_TOKEN_ID == 5
    ok = engines.llama_cpp_verdict(big, small, {"vocab_size": 152064}, {"vocab_size": 151936})
    too_far = engines.llama_cpp_verdict(big, small, {"vocab_size": 152064}, {"vocab_size": 151935})
    assert (ok.mode, too_far.mode) == ("shared-vocab", "refused")
    assert "n_vocab differs by 129 > 128" in too_far.reasons[0]


def test_llamacpp_add_bos_is_judged_on_its_own_view(fixtures):
    """Guards issue 9 §2: "llama.cpp ✓ (shared-vocab)" was printed beside a failed add_special_tokens check
    whose reason said llama.cpp requires it. The HF tokenizers differ (Llama-2 adds BOS explicitly, TinyLlama's
    files do not say), but llama.cpp's SentencePiece default adds BOS for both: its own add_bos check passes,
    and the generic check no longer speaks for llama.cpp."""
    from draftfinder.compat.checks import EnhancedTokenizerChecker

    t, d = "meta-llama/Llama-2-7b-hf", "TinyLlama/TinyLlama-1.1B-Chat-v1.0"
    result = EnhancedTokenizerChecker.verify_compatibility(
        loading.load_tokenizer(record(t)), loading.load_tokenizer(record(d)), t, d,
        target_config=record(t).config, draft_config=record(d).config)
    generic = {c.name: c for c in result.checks}["add_special_tokens"]
    llama = result.engines["llama.cpp"]
    assert not generic.passed and llama.compatible and llama.mode == "shared-vocab"
    add_bos = {c.name: c for c in llama.checks}["llama.cpp.add_bos"]
    assert add_bos.passed and add_bos.target_value == add_bos.draft_value == {"add_bos": True, "bos_id": 1}
    assert "requires" not in generic.reason and "llama.cpp.add_bos" in generic.reason


@pytest.mark.parametrize("target, draft", [
    ("gpt2", "distilgpt2"), ("Qwen/Qwen2.5-7B", "Qwen/Qwen2.5-0.5B"), ("Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-1.5B"),
    ("meta-llama/Llama-2-7b-hf", "mistralai/Mistral-7B-v0.1"), ("meta-llama/Llama-2-7b-hf", "TinyLlama/TinyLlama-1.1B-Chat-v1.0"),
    ("gpt2", "Qwen/Qwen2.5-0.5B"),
])
def test_every_verdict_is_its_checks(fixtures, target, draft):
    """compatible == every required check passed, for each engine; the verdict names its engine version."""
    for name, v in verdicts(target, draft).items():
        assert v.checks, name
        assert v.compatible == all(c.passed for c in v.checks if c.required), (name, v.mode)
        assert v.version and v.rule
        assert (v.mode in ("refused", "rejected", "mismatched", "unknown")) == (not v.compatible), (name, v.mode)


def test_llamacpp_view_uses_padded_size_and_spm_bos_default(fixtures):
    view = engines.llama_cpp_view(facts("Qwen/Qwen2.5-0.5B"), record("Qwen/Qwen2.5-0.5B").config)
    # BOS from config.json (gguf-py SpecialVocab), the tokenizer has none; n_vocab = padded config size.
    assert view == {"vocab_type": "BPE", "n_vocab": 151936, "bos": 151643, "eos": 151643,
                    "add_bos": False, "add_eos": False}
    tiny = engines.llama_cpp_view(facts("TinyLlama/TinyLlama-1.1B-Chat-v1.0"), {"vocab_size": 32000})
    assert tiny["add_bos"] is True                   # no explicit flag + SentencePiece -> llama.cpp adds BOS


def test_verdicts_from_stored_facts_match(fixtures):
    stored = [vocab.TokenizerFacts.from_dict(facts(n).to_dict()) for n in ("Qwen/Qwen2.5-7B", "Qwen/Qwen2.5-0.5B")]
    cfgs = (record("Qwen/Qwen2.5-7B").config, record("Qwen/Qwen2.5-0.5B").config)
    assert modes(engines.engine_verdicts(*stored, *cfgs)) == modes(verdicts("Qwen/Qwen2.5-7B", "Qwen/Qwen2.5-0.5B"))


# --- configs and missing facts ----------------------------------------------------------------------

def test_config_vocab_size_reads_the_text_config():
    assert engines.config_vocab_size({"vocab_size": 32000}) == 32000
    assert engines.config_vocab_size({"model_type": "gemma3", "text_config": {"vocab_size": 262208}}) == 262208
    assert engines.config_vocab_size({}) is None and engines.config_vocab_size(None) is None


def test_unknown_without_config_or_facts(fixtures):
    result = engines.engine_verdicts(facts("gpt2"), facts("distilgpt2"), None, {"vocab_size": 50257})
    assert modes(result)["transformers"] == (False, "unknown")
    assert modes(result)["vllm"] == (False, "unknown")
    assert modes(result)["llama.cpp"] == (True, "shared-vocab")      # needs no config: sizes from tokenizers
    no_facts = engines.engine_verdicts(None, facts("gpt2"), {"vocab_size": 50257}, {"vocab_size": 50257})
    assert modes(no_facts)["llama.cpp"] == (False, "unknown")
    assert "not verified" in " ".join(no_facts["transformers"].reasons)


# --- citations ----------------------------------------------------------------------------------------

def test_rules_cite_their_sources():
    result = engines.engine_verdicts(None, None, None, None)
    assert "generation/utils.py" in result["transformers"].rule and "_validate_generation_mode" in result["transformers"].rule
    assert "verify_equal_vocab_size_if_draft_model" in result["vllm"].rule
    assert "common/speculative.cpp" in result["llama.cpp"].rule
    assert "SPEC_VOCAB_MAX_SIZE_DIFFERENCE" in result["llama.cpp"].rule


def test_transformers_rule_matches_the_installed_source():
    """Regression guard: the cited check still lives where RULE_TRANSFORMERS says, in this transformers."""
    from transformers.generation.utils import GenerationMixin

    source = inspect.getsource(GenerationMixin._validate_generation_mode)
    assert "get_text_config().vocab_size == assistant_model.config.get_text_config().vocab_size" in source
    assert '"assistant_tokenizer" in generation_mode_kwargs' in source
    assert "Please provide `tokenizer` and `assistant_tokenizer`" in source
    assert "batch_size = 1" in inspect.getsource(GenerationMixin._assisted_decoding)
