"""The method registry: every method says, per engine, whether it runs, how, and the rule with its source."""

from __future__ import annotations

import pytest

from draftfinder.errors import UnknownMethodError
from draftfinder.methods import registry as R
from draftfinder.methods.model_free import PUBLISHED_METHOD_MAP


def test_every_method_answers_for_every_engine_with_a_source():
    for m in R.METHODS.values():
        assert set(m.engines) == set(R.ENGINES), m.id
        for e in m.engines.values():
            assert e.source and e.version and e.rule, (m.id, e.engine)
            assert (e.how != "-") == e.supported, (m.id, e.engine)


def test_the_issue_methods_are_all_registered_with_their_engine_switches():
    """Guards: find knew only independent draft models."""
    assert set(R.METHODS) == {"independent", "eagle", "eagle3", "medusa", "mlp-speculator", "mtp", "layer-skip",
                              "ngram", "suffix"}
    assert R.engine_how("eagle3", "vllm") == '"method": "eagle3", "model": HEAD'
    assert R.engine_how("eagle3", "sglang").startswith("--speculative-algorithm EAGLE3")
    assert R.engine_how("ngram", "llama.cpp") == "--spec-type ngram-simple"
    assert R.engine_how("independent", "llama.cpp") == "-md D --spec-type draft-simple"
    assert R.engine_how("layer-skip", "transformers") == "assistant_early_exit=N"
    assert R.engine_how("medusa", "sglang") is None
    assert [m.id for m in R.model_free_methods()] == ["layer-skip", "ngram", "suffix"]


def test_unknown_method_fails_loudly_and_aliases_resolve():
    with pytest.raises(UnknownMethodError) as info:
        R.get_method("eagle4")
    assert "eagle4" in info.value.message and "eagle3" in info.value.hint
    assert R.method_id("DRAFT_MODEL") == "independent" and R.method_id("mlp_speculator") == "mlp-speculator"
    assert R.method_id("prompt-lookup") == "ngram"


def test_every_method_in_the_published_rows_is_mapped_to_a_registered_method_or_to_none():
    """A new method name in data/published.json fails here, not at a user's prompt."""
    from draftfinder.predict.published import load_published

    used = {r.method for r in load_published().rows}
    assert used <= set(PUBLISHED_METHOD_MAP), used - set(PUBLISHED_METHOD_MAP)
    for name, mid in PUBLISHED_METHOD_MAP.items():
        if mid is not None:
            assert R.method_id(mid) == mid


def test_sglang_and_llama_cpp_switch_values_are_among_the_engines_own_choices():
    """The values we print are the ones the engines' parsers accept (server_args.py choices; llama.cpp's
    common_speculative_type_from_name_map), so a snippet never names a value the engine rejects."""
    sglang_choices = {"EAGLE", "EAGLE3", "NEXTN", "STANDALONE", "NGRAM"}
    llama_types = {"none", "draft-simple", "draft-eagle3", "draft-mtp", "draft-dflash", "draft-dspark", "ngram-simple",
                   "ngram-map-k", "ngram-map-k4v", "ngram-mod", "ngram-cache"}
    for m in R.METHODS.values():
        s, ll = m.engines["sglang"], m.engines["llama.cpp"]
        if s.supported:
            assert s.how.split()[1] in sglang_choices, m.id
        if ll.supported:
            assert ll.how.split("--spec-type ")[1].split()[0] in llama_types, m.id
