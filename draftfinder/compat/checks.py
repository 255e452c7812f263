"""Tokenizer compatibility of a draft with a target, as a list of named checks (manual §4.1, §8.7, §11.1).

Speculative decoding feeds the draft's token ids to the target, so both must give every id the same
meaning and cut text into the same ids. ``EnhancedTokenizerChecker.verify_compatibility`` checks that on
the real tokenizers; ``verify_facts`` on stored :class:`~draftfinder.compat.facts.TokenizerFacts` (offline
catalog: no files, so the stored encodings of the built-in test strings stand in for running them).

Checks (``schema.Check``; *required* ones decide ``is_compatible``):

==================== ========== ========== =====================================================================
name                 strict     lenient    passes when
==================== ========== ========== =====================================================================
vocabulary           required   required   every id in the shared range has the same token text (token by
                                           token — never ``config.vocab_size``, which counts padding rows)
tokenizer_size       required   required   same number of tokens; lenient also accepts up to
                                           ``LENIENT_MAX_EXTRA_TOKENS`` extra ids at the end of one side
special_tokens       config     config     BOS, EOS and UNK equal (text and id); required only with
                                           ``require_special_tokens`` (config ``compatibility.
                                           require_special_tokens``, default false as in manual §6.3): a base
                                           draft for an instruct target differs in EOS but not in any id; PAD
                                           never required. Whether an engine compares them is its own check
                                           (``llama.cpp.add_bos`` / ``llama.cpp.add_eos``), never claimed here
tokenization         required   required   test-string match rate ≥ ``min_match_rate`` (strict) or
                                           ≥ min(min_match_rate, ``LENIENT_MIN_MATCH_RATE``) (lenient)
decode               required   warning    both tokenizers decode the same ids to the same text
fingerprint          info       info       identical tokenizers (same fingerprint: ids → tokens, special
                                           tokens, test-string encodings and decodes)
added_tokens         info       info       same added tokens with the same flags
add_special_tokens   info       info       same default BOS/EOS insertion by the HF tokenizers (in
                                           transformers and vLLM the draft reads the target's ids; llama.cpp
                                           compares the GGUF conversion's flags in its own checks)
embedding_size       info       info       each config's embedding covers the other's tokens (padding shown)
architecture         info       info       same ``model_type`` (not needed for speculative decoding)
==================== ========== ========== =====================================================================

Lenient mode (``--lenient-tokenization``) never accepts a different vocabulary: the vocabulary check
stays required in both modes.

``compatibility_score`` (0–100) = 40 × share of matching ids in the shared range + 25 × test-string
match rate + 10 × share of strings whose decodes agree + 10 × share of BOS/EOS/UNK/PAD that agree
+ 10 × smaller/larger tokenizer size + 5 × share of add_bos/add_eos that agree. On the fingerprint path
the test-string and decode parts come from the stored encodings/decodes, and count 0 when they could not be
compared.

Test strings are tokenized with ``add_special_tokens=False``: the default BOS is configuration (reported
by ``add_special_tokens``), not tokenization. ``failed_test_examples`` entries carry ``text``,
``target_ids``, ``draft_ids``, ``target_tokens``, ``draft_tokens`` (manual §7.8) plus ``index`` (1-based)
and ``category``; at most ``MAX_FAILED_EXAMPLES`` are kept (:mod:`draftfinder.compat.stringrun`).
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Tuple, Union

from draftfinder.compat import teststrings
from draftfinder.compat.engine_rules import config_vocab_size, engine_verdicts
from draftfinder.find.results import Check, CompatibilityResult
from draftfinder.compat.facts import TokenizerFacts, facts_from_tokenizer, token_texts
from draftfinder.compat.stringrun import run_test_strings
from draftfinder.compat.vocabdiff import VocabComparison, compare_facts, compare_token_lists

LENIENT_MIN_MATCH_RATE = 0.80     # lenient floor for the test-string match rate
LENIENT_MAX_EXTRA_TOKENS = 1024   # lenient: extra ids at the end of one tokenizer (added/special tokens)
REQUIRED_ROLES = ("bos", "eos", "unk")
ROLES = ("bos", "eos", "unk", "pad")


# ---------------------------------------------------------------------------------------------------
# checks that need only facts (shared by both paths)
# ---------------------------------------------------------------------------------------------------

def _fmt_special(facts: TokenizerFacts, role: str) -> Optional[str]:
    text, tid = facts.special(role)
    return None if text is None and tid is None else f"{text!r} ({tid})"


def _size_check(t: TokenizerFacts, d: TokenizerFacts, vocab_passed: bool, lenient: bool) -> Check:
    diff = t.n_tokens - d.n_tokens
    if diff == 0:
        return Check("tokenizer_size", True, t.n_tokens, d.n_tokens, f"both tokenizers have {t.n_tokens:,} tokens")
    larger = "target" if diff > 0 else "draft"
    text = f"the {larger} has {abs(diff):,} extra token(s) past id {min(t.n_tokens, d.n_tokens) - 1:,}"
    if lenient and vocab_passed and abs(diff) <= LENIENT_MAX_EXTRA_TOKENS:
        return Check("tokenizer_size", True, t.n_tokens, d.n_tokens,
                     f"{text}; accepted in lenient mode (≤ {LENIENT_MAX_EXTRA_TOKENS} extra ids at the end, shared "
                     "ids identical) — the draft can never propose those ids")
    why = "" if lenient else " (strict mode; lenient tokenization accepts a few extra ids at the end)"
    return Check("tokenizer_size", False, t.n_tokens, d.n_tokens, f"{text}{why}")


def _special_check(t: TokenizerFacts, d: TokenizerFacts, lenient: bool, require: bool = False) -> Check:
    """BOS/EOS/UNK/PAD of both sides. Required only with ``require`` (config
    ``compatibility.require_special_tokens``, default false as in manual §6.3): when the vocabularies are the
    same, a different EOS (a base draft for an instruct target) changes no token id. What an engine makes of
    it is that engine's own checks (``engine_rules``), not this one's reason."""
    values_t = {role: _fmt_special(t, role) for role in ROLES}
    values_d = {role: _fmt_special(d, role) for role in ROLES}
    diffs = [role for role in ROLES if t.special(role) != d.special(role)]
    required_diffs = [r for r in diffs if r in REQUIRED_ROLES]
    parts = [f"{r.upper()} differs: {values_t[r]} vs {values_d[r]}" for r in diffs]
    if not diffs:
        reason = "BOS, EOS, UNK and PAD are the same tokens with the same ids"
    elif not required_diffs:
        reason = "; ".join(parts) + " — informational: padding is unused when decoding a single sequence"
    else:
        reason = "; ".join(parts)
        reason += (" (compatibility.require_special_tokens: true; use the matching base/instruct variant)" if require
                   else " — not required (compatibility.require_special_tokens: false): the ids still name the "
                   "same tokens; each engine's verdict says whether it compares them")
    return Check("special_tokens", not required_diffs, values_t, values_d, reason, required=require)


def _add_special_check(t: TokenizerFacts, d: TokenizerFacts) -> Check:
    vt = {"add_bos": t.add_bos_token, "add_eos": t.add_eos_token}
    vd = {"add_bos": d.add_bos_token, "add_eos": d.add_eos_token}
    if vt == vd:
        return Check("add_special_tokens", True, vt, vd, "same default BOS/EOS insertion", required=False)
    return Check("add_special_tokens", False, vt, vd,
                 "the HF tokenizers insert BOS/EOS differently by default: harmless where the draft reads the "
                 "target's ids (transformers, vLLM); llama.cpp compares the flags of the GGUF conversion in its "
                 "own llama.cpp.add_bos / llama.cpp.add_eos checks", required=False)


def _added_check(t: TokenizerFacts, d: TokenizerFacts) -> Check:
    if t.added_tokens_hash == d.added_tokens_hash:
        return Check("added_tokens", True, t.added_tokens_count, d.added_tokens_count,
                     f"the same {t.added_tokens_count} added token(s) with the same flags", required=False)
    only_t = sorted(set(t.added_tokens) - set(d.added_tokens))
    only_d = sorted(set(d.added_tokens) - set(t.added_tokens))
    changed = sorted(i for i in set(t.added_tokens) & set(d.added_tokens) if t.added_tokens[i] != d.added_tokens[i])
    bits = [f"{t.added_tokens_count} vs {d.added_tokens_count} added tokens"]
    if only_t:
        bits.append(f"only the target has ids {only_t[:5]}")
    if only_d:
        bits.append(f"only the draft has ids {only_d[:5]}")
    if changed:
        bits.append(f"different text at ids {changed[:5]}")
    if not (only_t or only_d or changed):
        bits.append("the same tokens past the base vocabulary; the difference is in added tokens that re-flag "
                    "base ids, or in their flags (special/normalized/strip)")
    return Check("added_tokens", False, t.added_tokens_count, d.added_tokens_count, "; ".join(bits), required=False)


def _same_strings(t: TokenizerFacts, d: TokenizerFacts) -> bool:
    """Both facts hold the behaviour of the same built-in test strings (string-by-string comparable)."""
    return bool(t.test_strings_hash) and t.test_strings_hash == d.test_strings_hash and \
        len(t.test_encodings) == len(d.test_encodings) > 0


def _differing_parts(t: TokenizerFacts, d: TokenizerFacts) -> List[str]:
    """Which parts of two tokenizers' identities differ, named from their stored facts."""
    parts = []
    if (t.n_tokens, t.base_vocab_size, t.head_tokens, t.block_hashes) != \
            (d.n_tokens, d.base_vocab_size, d.head_tokens, d.block_hashes) or t.added_tokens != d.added_tokens:
        parts.append("vocabulary")
    if t.added_tokens_hash != d.added_tokens_hash:
        parts.append("added/special tokens")
    if not _same_strings(t, d):
        parts.append("test-string behaviour (not comparable: facts of other test strings)")
        return parts
    n = len(t.test_encodings)
    enc = sum(a != b for a, b in zip(t.test_encodings, d.test_encodings))
    dec = sum(a != b for a, b in zip(t.test_decodes, d.test_decodes))
    if enc:
        parts.append(f"encodings of {enc}/{n} test strings")
    if dec:
        parts.append(f"decodes of {dec}/{n} test strings")
    return parts


def _fingerprint_check(t: TokenizerFacts, d: TokenizerFacts) -> Check:
    same = bool(t.fingerprint) and t.fingerprint == d.fingerprint
    if same:
        reason = ("identical tokenizers: same id → token mapping, special tokens, and encodings/decodes of the "
                  "built-in test strings")
    else:
        parts = _differing_parts(t, d)
        reason = "tokenizers differ" + (f" in: {', '.join(parts)}" if parts else "")
    return Check("fingerprint", same, t.fingerprint[:16], d.fingerprint[:16], reason, required=False)


def _embedding_check(t: TokenizerFacts, d: TokenizerFacts, tc: Optional[Dict[str, Any]],
                     dc: Optional[Dict[str, Any]]) -> Optional[Check]:
    vt, vd = config_vocab_size(tc), config_vocab_size(dc)
    if vt is None or vd is None:
        return None
    covers = vt >= d.n_tokens and vd >= t.n_tokens
    reason = (f"embedding rows: target {vt:,} for {t.n_tokens:,} tokens ({vt - t.n_tokens:+,} padding), draft "
              f"{vd:,} for {d.n_tokens:,} ({vd - d.n_tokens:+,}); informational — compatibility is decided by "
              "the tokenizers, not config.vocab_size")
    if not covers:
        reason += "; an embedding is smaller than the other side's tokenizer: ids past it would be out of range"
    return Check("embedding_size", covers, vt, vd, reason, required=False)


def _architecture_check(tc: Optional[Dict[str, Any]], dc: Optional[Dict[str, Any]]) -> Optional[Check]:
    if not tc or not dc:
        return None
    a, b = tc.get("model_type"), dc.get("model_type")
    return Check("architecture", a == b, a, b,
                 "same architecture" if a == b else
                 "different architectures: fine for speculative decoding, only the vocabulary must agree",
                 required=False)


# ---------------------------------------------------------------------------------------------------
# assembling the result
# ---------------------------------------------------------------------------------------------------

def _vocab_check(cmp: VocabComparison, t: TokenizerFacts, d: TokenizerFacts) -> Check:
    values = ({"tokens": t.n_tokens, "fingerprint": t.fingerprint[:12]},
              {"tokens": d.n_tokens, "fingerprint": d.fingerprint[:12]})
    example = ""
    if cmp.examples:
        i, a, b = cmp.examples[0]
        example = f", e.g. id {i}: {a!r} vs {b!r}"
    if cmp.size == 0:
        return Check("vocabulary", False, *values, "no shared ids to compare")
    if cmp.identical:
        return Check("vocabulary", True, *values, f"all {cmp.size:,} shared ids carry the same token text")
    if cmp.identical is None:
        lo, hi = cmp.unverified_ranges[0]
        return Check("vocabulary", False, *values,
                     f"ids {lo:,}–{hi - 1:,} cannot be compared from stored facts (block granularity); load the "
                     "tokenizer files to decide", skipped=True)
    if cmp.mismatches is not None:
        return Check("vocabulary", False, *values,
                     f"{cmp.mismatches:,} of {cmp.size:,} shared ids carry different tokens{example}")
    differing = sum(hi - lo for lo, hi in cmp.differing_ranges)
    lo, hi = cmp.differing_ranges[0]
    return Check("vocabulary", False, *values,
                 f"token text differs in blocks covering {differing:,} of {cmp.size:,} shared ids (first: ids "
                 f"{lo:,}–{hi - 1:,}){example}")


def _vocab_share(cmp: VocabComparison) -> float:
    if cmp.size == 0:
        return 0.0
    if cmp.mismatches is not None:
        return 1.0 - cmp.mismatches / cmp.size
    return 1.0 - sum(hi - lo for lo, hi in cmp.differing_ranges) / cmp.size


def _score(vocab_share: float, rate: float, decode_share: float, t: TokenizerFacts, d: TokenizerFacts) -> float:
    roles = sum(t.special(r) == d.special(r) for r in ROLES) / len(ROLES)
    size = min(t.n_tokens, d.n_tokens) / max(t.n_tokens, d.n_tokens, 1)
    flags = ((t.add_bos_token == d.add_bos_token) + (t.add_eos_token == d.add_eos_token)) / 2
    return round(40 * vocab_share + 25 * rate + 10 * decode_share + 10 * roles + 10 * size + 5 * flags, 1)


def _checks(t: TokenizerFacts, d: TokenizerFacts, vocab: Check, tokenization: Check, decode: Check, *,
            lenient: bool, require_special: bool, target_config: Optional[Dict[str, Any]],
            draft_config: Optional[Dict[str, Any]]) -> List[Check]:
    """The ten named checks in report order; the live and offline paths differ only in how ``vocab``,
    ``tokenization`` and ``decode`` were decided."""
    return [
        vocab,
        _size_check(t, d, vocab.passed, lenient),
        _special_check(t, d, lenient, require_special),
        tokenization,
        decode,
        _fingerprint_check(t, d),
        _added_check(t, d),
        _add_special_check(t, d),
        _embedding_check(t, d, target_config, draft_config),
        _architecture_check(target_config, draft_config),
    ]


def _assemble(checks: List[Optional[Check]], *, t: TokenizerFacts, d: TokenizerFacts, cmp: VocabComparison,
              rate: float, decode_share: float, lenient: bool, method: str,
              target_config: Optional[Dict[str, Any]], draft_config: Optional[Dict[str, Any]]) -> CompatibilityResult:
    checks = [c for c in checks if c is not None]
    by_name = {c.name: c for c in checks}
    required_failed = [c for c in checks if c.required and not c.passed]
    warnings = [f"{c.name}: {c.reason}" for c in checks if not c.required and not c.passed]
    if lenient:
        warnings += [f"{c.name}: {c.reason}" for c in checks
                     if c.required and c.passed and "lenient mode" in c.reason]
    arch = by_name.get("architecture")
    result = CompatibilityResult(
        is_compatible=not required_failed,
        vocab_size_match=t.n_tokens == d.n_tokens,
        tokenizer_match=bool(by_name["vocabulary"].passed) and t.n_tokens == d.n_tokens,
        tokenization_match=by_name["tokenization"].passed,
        decode_match=by_name["decode"].passed,
        special_tokens_match=by_name["special_tokens"].passed,
        quantization_compatible=True,          # quantization does not change a tokenizer
        architecture_match=arch.passed if arch is not None else True,
        model_accessible=True,
        incompatibility_reasons=[f"{c.name}: {c.reason}" for c in required_failed],
        warnings=warnings,
        compatibility_score=_score(_vocab_share(cmp), rate, decode_share, t, d),
        checks=checks,
        shared_vocab_size=cmp.size,
        vocab_mismatches=cmp.mismatches,
        method=method,
        tokenization_match_rate=rate,
    )
    if target_config and draft_config:
        result.engines = engine_verdicts(t, d, target_config, draft_config)
    return result


def _offline_tokenization_checks(t: TokenizerFacts, d: TokenizerFacts, vocab: Check, lenient: bool,
                                 min_match_rate: float) -> Tuple[Check, Check, float, float]:
    """The tokenization and decode checks decided from facts (see ``verify_facts``): the stored encodings
    and decodes of the built-in test strings, compared string by string as the live checks compare ids."""
    fp = (t.fingerprint[:16], d.fingerprint[:16])
    offline = "; user test strings need the tokenizer files"
    if not vocab.passed and not vocab.skipped:
        why = ("the vocabularies differ, so the same ids mean different text; test strings not compared: no "
               "tokenizer files")
        return (Check("tokenization", False, *fp, why),
                Check("decode", False, None, None, why, required=not lenient), 0.0, 0.0)
    if not _same_strings(t, d) or vocab.skipped:
        cause = "part of the vocabulary is unverified" if vocab.skipped else \
            "the stored facts cover different test strings (rebuild the catalog)"
        why = f"cannot be verified offline: {cause}; load the tokenizer files to run the test strings"
        return (Check("tokenization", False, *fp, why, skipped=True),
                Check("decode", False, None, None, why, required=not lenient, skipped=True), 0.0, 0.0)
    n = len(t.test_encodings)
    same_ids = [a == b for a, b in zip(t.test_encodings, d.test_encodings)]
    passed = sum(same_ids)
    rate = passed / n
    threshold = min(min_match_rate, LENIENT_MIN_MATCH_RATE) if lenient else min_match_rate
    first = next((i for i, ok in enumerate(same_ids, start=1) if not ok), None)
    tokenization = Check(
        "tokenization", rate >= threshold, f"{passed}/{n}", f"{passed}/{n}",
        f"{passed}/{n} built-in test strings tokenize identically ({rate:.1%}; needs ≥ {threshold:.0%}"
        f"{', lenient' if lenient else ''}; from stored encodings{offline})"
        + (f"; first failure: test {first}" if first else ""))
    # where the ids agree, equal decodes mean both tokenizers turn the same ids into the same text
    decodable = [a == b for a, b, ok in zip(t.test_decodes, d.test_decodes, same_ids) if ok]
    decode_ok = sum(decodable)
    if decodable and decode_ok == len(decodable):
        unchecked = n - len(decodable)
        decode = Check("decode", True, f"{decode_ok}/{n}", f"{decode_ok}/{n}",
                       f"the {decode_ok} test strings with equal ids decode to the same text (stored decodes"
                       + (f"; {unchecked} with different ids cannot be decoded offline" if unchecked else "") + ")",
                       required=not lenient)
    elif decodable:
        decode = Check("decode", False, f"{decode_ok}/{n}", f"{decode_ok}/{n}",
                       f"{len(decodable) - decode_ok} of the {len(decodable)} test strings with equal ids decode to "
                       "different text (stored decodes)", required=not lenient)
    else:
        decode = Check("decode", False, None, None, "no test string has equal ids on both sides: decoding cannot "
                       "be compared offline; load the tokenizer files", required=not lenient, skipped=True)
    return tokenization, decode, rate, (decode_ok / n)


# ---------------------------------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------------------------------

class EnhancedTokenizerChecker:
    """Tokenizer compatibility verification (manual §11.1). Extend ``TEST_STRINGS`` to add tests (§8.7)."""

    TEST_STRINGS: List[str] = teststrings.default_texts()

    @classmethod
    def test_strings(cls, extra: Iterable[Union[str, Tuple[str, str]]] = ()) -> List[Tuple[str, str]]:
        """``(category, text)`` for every string that will run: ``TEST_STRINGS`` (user additions tagged
        ``"user"``) followed by ``extra``."""
        return teststrings.with_user_strings(extra, base=teststrings.categorize(cls.TEST_STRINGS))

    @staticmethod
    def verify_compatibility(
        tokenizer1: Any,
        tokenizer2: Any,
        model1_name: str,
        model2_name: str,
        strict_tokenization: bool = True,
        min_match_rate: float = 0.95,
        *,
        target_config: Optional[Dict[str, Any]] = None,
        draft_config: Optional[Dict[str, Any]] = None,
        extra_test_strings: Iterable[Union[str, Tuple[str, str]]] = (),
        lenient: Optional[bool] = None,
        require_special_tokens: bool = False,
    ) -> CompatibilityResult:
        """Check the draft ``tokenizer2`` against the target ``tokenizer1`` on the real tokenizers.

        ``lenient`` defaults to ``not strict_tokenization`` (``--lenient-tokenization`` sets it). With both
        configs, ``result.engines`` holds the transformers/vLLM/llama.cpp verdicts and an
        ``embedding_size`` check reports padding. ``model1_name``/``model2_name`` are the manual's labels
        (§11.1); the result does not repeat them.
        """
        lenient = (not strict_tokenization) if lenient is None else bool(lenient)
        t, d = facts_from_tokenizer(tokenizer1), facts_from_tokenizer(tokenizer2)
        cmp = compare_token_lists(token_texts(tokenizer1), token_texts(tokenizer2))
        vocab = _vocab_check(cmp, t, d)
        strings = EnhancedTokenizerChecker.test_strings(extra_test_strings)
        run = run_test_strings(tokenizer1, tokenizer2, strings)
        threshold = min(min_match_rate, LENIENT_MIN_MATCH_RATE) if lenient else min_match_rate
        tok_values = (run.first_failure if run.first_failure else (f"{run.passed}/{run.total}",) * 2)
        tokenization = Check(
            "tokenization", run.total > 0 and run.rate >= threshold, *tok_values,
            f"{run.passed}/{run.total} test strings tokenize identically ({run.rate:.1%}; needs ≥ {threshold:.0%}"
            f"{', lenient' if lenient else ''})" + ("" if not run.failed_examples else
                                                   f"; first failure: test {run.failed_examples[0]['index']} "
                                                   f"({run.failed_examples[0]['category']})"))
        decode_share = run.decode_ok / run.decode_total if run.decode_total else 0.0
        if run.first_decode_failure is None:
            decode = Check("decode", run.decode_total > 0, f"{run.decode_ok}/{run.decode_total}",
                           f"{run.decode_ok}/{run.decode_total}",
                           f"for all {run.decode_total} test strings both tokenizers decode the same ids to the "
                           "same text", required=not lenient)
        else:
            text, a, b = run.first_decode_failure
            decode = Check("decode", False, a, b,
                           f"{run.decode_total - run.decode_ok}/{run.decode_total} test strings decode differently, "
                           f"e.g. {text[:40]!r}", required=not lenient)
        checks = _checks(t, d, vocab, tokenization, decode, lenient=lenient, require_special=require_special_tokens,
                         target_config=target_config, draft_config=draft_config)
        result = _assemble(checks, t=t, d=d, cmp=cmp, rate=run.rate, decode_share=decode_share, lenient=lenient,
                           method="tokenizers", target_config=target_config, draft_config=draft_config)
        result.num_test_strings = run.total
        result.num_passed_tests = run.passed
        result.num_failed_tests = run.total - run.passed
        result.failed_test_examples = run.failed_examples
        return result

    @staticmethod
    def verify_facts(
        target_facts: TokenizerFacts,
        draft_facts: TokenizerFacts,
        model1_name: str,
        model2_name: str,
        *,
        target_config: Optional[Dict[str, Any]] = None,
        draft_config: Optional[Dict[str, Any]] = None,
        strict_tokenization: bool = True,
        min_match_rate: float = 0.95,
        lenient: Optional[bool] = None,
        require_special_tokens: bool = False,
    ) -> CompatibilityResult:
        """The offline path (``method="fingerprint"``): compare stored facts, no tokenizer files.

        Different vocabularies fail as on the live path (compared per block of ids). Otherwise the
        tokenization and decode checks compare the stored encodings and decodes of the built-in test strings
        string by string, the same comparison the live path makes on those strings (user test strings need
        the files). Facts of another test-string set, or a vocabulary only partly verifiable from block
        hashes, cannot be decided offline: the check is skipped and fails (load the files).
        """
        lenient = (not strict_tokenization) if lenient is None else bool(lenient)
        t, d = target_facts, draft_facts
        cmp = compare_facts(t, d)
        vocab = _vocab_check(cmp, t, d)
        tokenization, decode, rate, decode_share = _offline_tokenization_checks(t, d, vocab, lenient,
                                                                                min_match_rate)
        checks = _checks(t, d, vocab, tokenization, decode, lenient=lenient, require_special=require_special_tokens,
                         target_config=target_config, draft_config=draft_config)
        result = _assemble(checks, t=t, d=d, cmp=cmp, rate=rate, decode_share=decode_share, lenient=lenient,
                           method="fingerprint", target_config=target_config, draft_config=draft_config)
        return result
