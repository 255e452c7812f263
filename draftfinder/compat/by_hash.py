"""Tokenizer identity from file hashes: "compatible (by file hash)" when the files themselves are absent.

The offline catalog cannot ship every tokenizer's files, and for many models we never had them — but public
sources pin their digests (the catalog's ``tokenizer_file_hashes`` with ``provenance``): a SHA-256 (a Hub LFS
pointer, a download manifest) or the Hub's git blob SHA-1 (the ``blobId`` of the Hub API's ``siblings``, the
ETag of a non-LFS file, an HF-cache ``blobs/<sha1>`` name). Each value carries its algorithm
(:data:`ALGORITHMS`: ``"sha256:<64 hex>"`` — a bare 64-hex value is a sha256 too —, ``"git-sha1:<40 hex>"``; a
file may carry a list, one digest per algorithm), and only digests of the same algorithm are compared: a sha256
never equals a git-sha1, whatever the bytes. A git blob SHA-1 is ``sha1(b"blob <size>\\0" + bytes)``; for a file
the Hub stores in LFS it is the SHA-1 of the LFS pointer, which names the content's sha256 and size — equal blob
ids mean equal bytes either way (an LFS and a non-LFS copy of the same bytes get different ids: not compared
equal, never wrongly). Byte-identical files are one tokenizer: the same id → token mapping, the same added
tokens, the same behaviour. So:

1. **Facts by file hash** (:func:`borrow_facts`): a model without stored facts whose *every* pinned tokenizer
   file (vocabulary and configuration) equals, byte for byte, those of a catalog model *with* facts gets that
   model's facts — then the ordinary fingerprint checks and engine rules run (``gpt2-large`` ← ``distilgpt2``).
2. **Compatible (by file hash)** (:func:`verify_by_hash`): otherwise, when the files that define the ids are
   byte-identical on both sides, the pair is compatible, labelled so (``method="file-hash"``, verification
   ``by-file-hash``), and each engine's verdict is derived from what identical files imply (below).
3. **Unverified**: when an id-defining file differs in bytes, or nothing comparable is pinned, the pair cannot
   be judged — different bytes do not prove different vocabularies (a re-serialized ``tokenizer.json``). The
   result says why (:func:`unverified`); ``find`` lists such pairs below the verified ones, never silently.

Files (``VOCABULARY_FILES`` define ids; ``CONFIGURATION_FILES`` define special-token roles and BOS/EOS
insertion; ``tokenizer.json`` carries both, and the added tokens):

- vocabulary identical ⇐ at least one of ``ID_FILES`` is hashed on both sides and every vocabulary file hashed
  on both sides is equal;
- added tokens identical ⇐ ``tokenizer.json`` equal, or ``tokenizer_config.json`` (``added_tokens_decoder``)
  and ``added_tokens.json`` equal where pinned;
- special tokens and their insertion identical ⇐ every configuration file hashed on either side is hashed,
  and equal, on both.

Engine verdicts from identical vocabulary files (the rules, versions and sources are those of
:mod:`draftfinder.compat.engine_rules`; only the facts come from the hashes):

- transformers: equal ``config.get_text_config().vocab_size`` → same-tokenizer assisted decoding, else
  universal assisted decoding (both compatible: the tokenizers are the same);
- vLLM: equal config vocab sizes → ``draft_model``, else ``use_heterogeneous_vocab`` (the intersection is the
  whole vocabulary);
- llama.cpp: vocab type equal and token text equal (same files; padding ids are ``[PAD…]`` on both sides);
  ``n_vocab`` = padded config vocab sizes within ``SPEC_VOCAB_MAX_SIZE_DIFFERENCE``; add_bos/add_eos and the
  BOS/EOS ids equal only when the configuration files are identical too and the configs' BOS/EOS ids agree —
  otherwise that check is skipped and the verdict is ``unknown`` (the flags are not in any hash).

``compatibility_score`` of a by-hash pair uses the checker's weights (:mod:`draftfinder.compat.checks`): 40
(vocabulary) + 25 (tokenization) + 10 (decode) + 10 (size) in full — identical files — and 10 (special tokens)
+ 5 (BOS/EOS insertion) in full only when the configuration files are identical too, else half (not known).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

from draftfinder.find.results import Check, CompatibilityResult, EngineVerdict

VOCABULARY_FILES = ("tokenizer.json", "tokenizer.model", "spiece.model", "vocab.json", "merges.txt", "vocab.txt",
                    "tekken.json", "tokenizer.tiktoken", "added_tokens.json")
ID_FILES = ("tokenizer.json", "tokenizer.model", "spiece.model", "vocab.json", "vocab.txt", "tekken.json",
            "tokenizer.tiktoken")
CONFIGURATION_FILES = ("tokenizer_config.json", "special_tokens_map.json")
HASHED_FILES = VOCABULARY_FILES + CONFIGURATION_FILES
SHORT = 12                      # hex digits of a digest shown in reasons
# Digest algorithms of pinned file hashes: name -> hex digits. The name prefixes the value ("git-sha1:…").
ALGORITHMS = {"sha256": 64, "git-sha1": 40}

VERIFIED, BY_FILE_HASH, UNVERIFIED = "verified", "by-file-hash", "unverified"
LABELS = {VERIFIED: "verified", BY_FILE_HASH: "compatible (by file hash)", UNVERIFIED: "unverified"}


@dataclass
class FileHashComparison:
    """Which tokenizer files two models share byte for byte."""

    equal: List[str] = field(default_factory=list)          # a digest of one algorithm equal on both sides
    different: List[str] = field(default_factory=list)      # digests of one algorithm differ
    target_only: List[str] = field(default_factory=list)
    draft_only: List[str] = field(default_factory=list)
    incomparable: List[str] = field(default_factory=list)   # pinned on both sides, by different algorithms only
    target_hashes: Dict[str, Dict[str, str]] = field(default_factory=dict)   # {file: {algorithm: hex}}
    draft_hashes: Dict[str, Dict[str, str]] = field(default_factory=dict)
    algorithm: Dict[str, str] = field(default_factory=dict)                 # {file: algorithm compared}

    @property
    def vocabulary_identical(self) -> Optional[bool]:
        """True: the id-defining files are byte-identical; False: one differs; None: nothing to compare."""
        if any(name in VOCABULARY_FILES for name in self.different):
            return False
        return True if any(name in ID_FILES for name in self.equal) else None

    @property
    def added_tokens_identical(self) -> bool:
        if "tokenizer.json" in self.equal:
            return True
        return "tokenizer_config.json" in self.equal and "added_tokens.json" not in \
            self.different + self.target_only + self.draft_only + self.incomparable

    @property
    def configuration_identical(self) -> bool:
        """Every configuration file pinned on either side is pinned, and equal, on both (at least one)."""
        pinned = [n for n in CONFIGURATION_FILES if n in self.target_hashes or n in self.draft_hashes]
        return bool(pinned) and all(n in self.equal for n in pinned)

    @property
    def identical(self) -> bool:
        """Every file pinned on either side is equal on both: one tokenizer, configuration included."""
        return bool(self.vocabulary_identical) and not (self.different or self.target_only or self.draft_only
                                                        or self.incomparable) and self.configuration_identical

    def digest(self, name: str, side: str = "target") -> str:
        """``"<algorithm> <first hex digits>…"`` of the digest compared for ``name``."""
        algo = self.algorithm[name]
        hashes = self.target_hashes if side == "target" else self.draft_hashes
        return f"{algo} {hashes[name][algo][:SHORT]}…"

    def describe(self, names: Optional[List[str]] = None) -> str:
        names = self.equal if names is None else names
        return ", ".join(f"{n} {self.digest(n)}" for n in names)

    def describe_differences(self) -> str:
        parts = [f"{n} differs in bytes ({self.digest(n)} vs {self.digest(n, 'draft')})" for n in self.different]
        if self.incomparable:
            parts.append(", ".join(self.incomparable) + " pinned on both sides by different digest algorithms "
                         "(not comparable)")
        if self.target_only:
            parts.append("only the target's " + ", ".join(self.target_only) + " pinned")
        if self.draft_only:
            parts.append("only the draft's " + ", ".join(self.draft_only) + " pinned")
        return "; ".join(parts)


def parse_digest(value: Any) -> Optional[Tuple[str, str]]:
    """``(algorithm, lower-case hex)`` of one pinned digest — ``"git-sha1:<40 hex>"``, ``"sha256:<64 hex>"`` or a
    bare 64-hex sha256 (the catalog's first format) — else None (malformed)."""
    if not isinstance(value, str):
        return None
    algo, sep, hexdigits = value.strip().lower().rpartition(":")
    algo = algo if sep else "sha256"
    if ALGORITHMS.get(algo) != len(hexdigits) or any(c not in "0123456789abcdef" for c in hexdigits):
        return None
    return algo, hexdigits


def git_blob_sha1(data: bytes) -> str:
    """Git's blob id of ``data``: ``sha1(b"blob <len>\\0" + data)`` — what the Hub lists as a file's ``blobId``."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _digests(value: Any) -> Dict[str, str]:
    """``{algorithm: hex}`` of one file's pinned value: a digest string, a list of them, or a dict with a
    ``sha256`` / ``git-sha1`` key; malformed digests are dropped."""
    if isinstance(value, Mapping):
        value = [f"{k}:{v}" for k, v in value.items() if k in ALGORITHMS and isinstance(v, str)]
    out: Dict[str, str] = {}
    for item in value if isinstance(value, list) else [value]:
        parsed = parse_digest(item)
        if parsed:
            out.setdefault(*parsed)
    return out


def _normalize(hashes: Optional[Mapping[str, Any]]) -> Dict[str, Dict[str, str]]:
    """``{file name: {algorithm: lower-case hex}}`` of the tokenizer files among ``hashes``; other files and
    malformed values are ignored."""
    out: Dict[str, Dict[str, str]] = {}
    for name, value in (hashes or {}).items():
        base = str(name).rsplit("/", 1)[-1]
        digests = _digests(value)
        if base in HASHED_FILES and digests:
            out[base] = digests
    return out


def compare_hashes(target: Optional[Mapping[str, Any]], draft: Optional[Mapping[str, Any]]) -> FileHashComparison:
    """Which tokenizer files are byte-identical, comparing like with like: a file's digests are compared only
    for the algorithms both sides pinned (sha256 first); a file pinned on both sides by different algorithms
    only is ``incomparable``, never equal. Digests of two algorithms that disagree (one equal, one not) count
    as different."""
    t, d = _normalize(target), _normalize(draft)
    cmp = FileHashComparison(target_hashes=t, draft_hashes=d)
    for name in HASHED_FILES:
        if name in t and name in d:
            common = [a for a in ALGORITHMS if a in t[name] and a in d[name]]
            if not common:
                cmp.incomparable.append(name)
                continue
            unequal = [a for a in common if t[name][a] != d[name][a]]
            cmp.algorithm[name] = unequal[0] if unequal else common[0]
            (cmp.different if unequal else cmp.equal).append(name)
        elif name in t:
            cmp.target_only.append(name)
        elif name in d:
            cmp.draft_only.append(name)
    return cmp


def folder_hashes(folder: Optional[Path]) -> Dict[str, str]:
    """sha256 of the tokenizer files in a local folder (the same digests public pins give)."""
    out: Dict[str, str] = {}
    if folder is None:
        return out
    for name in HASHED_FILES:
        path = Path(folder) / name
        try:
            with path.open("rb") as fh:
                out[name] = hashlib.file_digest(fh, "sha256").hexdigest()
        except OSError:
            continue
    return out


def record_hashes(record: Any, catalog_entry: Optional[Mapping[str, Any]] = None) -> Dict[str, Dict[str, str]]:
    """A model's tokenizer file hashes: its files when it has them, else the catalog's pinned hashes."""
    if getattr(record, "local_dir", None) is not None and getattr(record, "gguf_path", None) is None:
        found = folder_hashes(record.local_dir)
        if found:
            return _normalize(found)
    entry = catalog_entry if catalog_entry is not None else (getattr(record, "catalog", None) or {})
    return _normalize(entry.get("tokenizer_file_hashes"))


def borrow_facts(entry: Mapping[str, Any], catalog: Mapping[str, Any], *, exclude: str = ""
                 ) -> Optional[Tuple[Dict[str, Any], str, FileHashComparison]]:
    """``(facts, donor model id, comparison)`` of a catalog model with stored facts whose pinned tokenizer files
    are all byte-identical to ``entry``'s (configuration included), else None. Deterministic: the first donor
    in id order."""
    mine = entry.get("tokenizer_file_hashes")
    if not _normalize(mine):
        return None
    tokenizers = catalog.get("tokenizers", {})
    for model_id, other in sorted(catalog.get("models", {}).items()):
        key = other.get("tokenizer")
        if model_id == exclude or not key or key not in tokenizers or not other.get("tokenizer_file_hashes"):
            continue
        cmp = compare_hashes(mine, other["tokenizer_file_hashes"])
        if cmp.identical:
            return tokenizers[key], model_id, cmp
    return None


def borrowed_check(donor: str, cmp: FileHashComparison) -> Check:
    """The informational check that says where borrowed facts came from."""
    return Check("tokenizer_files", True, cmp.describe(), donor,
                 f"tokenizer facts of {donor}: its tokenizer files are byte-identical to this model's "
                 f"({cmp.describe()}; public hashes in the catalog)", required=False)


# ---------------------------------------------------------------------------------------------------
# the by-hash verdict
# ---------------------------------------------------------------------------------------------------

def _config_vocab(config: Optional[Mapping[str, Any]]) -> Optional[int]:
    from draftfinder.compat.engine_rules import config_vocab_size

    return config_vocab_size(dict(config)) if config else None


def _config_ids(config: Optional[Mapping[str, Any]], role: str) -> Any:
    value = (config or {}).get(f"{role}_token_id")
    return value


def _special_tokens_check(cmp: FileHashComparison, t_entry: Mapping[str, Any], d_entry: Mapping[str, Any],
                          t_config: Optional[Mapping[str, Any]], d_config: Optional[Mapping[str, Any]]) -> Check:
    t_special = dict(t_entry.get("special_tokens") or {})
    d_special = dict(d_entry.get("special_tokens") or {})
    values = ({"bos_id": _config_ids(t_config, "bos"), "eos_id": _config_ids(t_config, "eos"), **t_special},
              {"bos_id": _config_ids(d_config, "bos"), "eos_id": _config_ids(d_config, "eos"), **d_special})
    if cmp.configuration_identical:
        return Check("special_tokens", True, *values,
                     f"same special tokens: byte-identical {', '.join(n for n in CONFIGURATION_FILES if n in cmp.equal)}",
                     required=False)
    same = values[0] == values[1]
    why = ("tokenizer configuration files differ or are not pinned on both sides: special-token roles (EOS) "
           "may differ; " + ("the catalog's special tokens and the configs' BOS/EOS ids agree" if same else
                             "the catalog's special tokens or the configs' BOS/EOS ids differ"))
    return Check("special_tokens", same, *values, why, required=False)


def _engine(engine: str, ok_mode: str, checks: List[Check], reasons: List[str], rule: str, version: str,
            bad_mode: str = "unknown") -> EngineVerdict:
    ok = all(c.passed for c in checks if c.required)
    return EngineVerdict(engine, ok, ok_mode if ok else bad_mode, reasons, rule, version, checks)


def engine_verdicts_by_hash(cmp: FileHashComparison, t_config: Optional[Mapping[str, Any]],
                            d_config: Optional[Mapping[str, Any]]) -> Dict[str, EngineVerdict]:
    """Each engine's verdict for byte-identical vocabulary files (see the module docstring)."""
    from draftfinder.compat import engine_rules as er

    same = f"byte-identical tokenizer files ({cmp.describe()})"
    vt, vd = _config_vocab(t_config), _config_vocab(d_config)
    out: Dict[str, EngineVerdict] = {}
    if vt is None or vd is None:
        side = "the target" if vt is None else "the draft"
        for name, rule, version in (("transformers", er.RULE_TRANSFORMERS, er.VERSION_TRANSFORMERS),
                                    ("vllm", er.RULE_VLLM, er.VERSION_VLLM)):
            check = Check("config_vocab_size", False, vt, vd, f"config vocab_size unknown for {side}", skipped=True)
            out[name] = _engine(name, "unknown", [check], [check.reason], rule, version)
    else:
        ids = Check("same_token_ids", True, "identical", "identical", f"{same}: every id names the same token",
                    required=vt == vd)
        size = Check("config_vocab_size", vt == vd, vt, vd,
                     f"equal ({vt}): same-tokenizer assisted decoding" if vt == vd else
                     f"differ ({vt} vs {vd}): universal assisted decoding", required=False)
        if vt == vd:
            reasons = ["run: model.generate(**inputs, assistant_model=draft_model)", f"config_vocab_size: {size.reason}",
                       same]
            mode = "same-tokenizer"
        else:
            reasons = ["run: model.generate(**inputs, assistant_model=draft_model, tokenizer=target_tokenizer, "
                       "assistant_tokenizer=draft_tokenizer)",
                       f"config vocab sizes differ ({vt} vs {vd}) by embedding padding only ({same}): resize the "
                       f"draft's embeddings (draft_model.resize_token_embeddings({vt})) for the same-tokenizer path",
                       "assisted generation runs with batch size 1 only"]
            mode = "universal-assisted-decoding"
        out["transformers"] = _engine("transformers", mode, [size, ids], reasons, er.RULE_TRANSFORMERS,
                                      er.VERSION_TRANSFORMERS)
        base = 'speculative_config={"method": "draft_model", "model": DRAFT, "num_speculative_tokens": K'
        vsize = Check("config_vocab_size", vt == vd, vt, vd,
                      f"equal ({vt}): verify_equal_vocab_size_if_draft_model passes" if vt == vd else
                      f"differ ({vt} vs {vd}): verify_equal_vocab_size_if_draft_model raises ValueError unless "
                      "use_heterogeneous_vocab", required=False)
        vids = Check("same_token_ids", True, "identical", "identical", same, required=False)
        if vt == vd:
            out["vllm"] = _engine("vllm", "draft-model", [vsize, vids], [f"run: {base}}}", same],
                                  er.RULE_VLLM, er.VERSION_VLLM)
        else:
            out["vllm"] = _engine("vllm", "heterogeneous-vocab", [vsize, vids], [
                f"run: {base}, \"use_heterogeneous_vocab\": true}} (vLLM with vllm-project/vllm#38174; greedy draft "
                "sampling only)", f"by default rejected: config vocab_size {vt} vs {vd}; {same}: the token "
                "intersection is the whole vocabulary"], er.RULE_VLLM, er.VERSION_VLLM)
    out["llama.cpp"] = _llama_cpp_by_hash(cmp, t_config, d_config, vt, vd, same)
    return out


def _llama_cpp_by_hash(cmp: FileHashComparison, t_config, d_config, vt: Optional[int], vd: Optional[int],
                       same: str) -> EngineVerdict:
    from draftfinder.compat import engine_rules as er

    checks = [Check("llama.cpp.vocab_type", True, "same files", "same files", f"same vocab type: {same}")]
    ids_agree = all(_config_ids(t_config, r) == _config_ids(d_config, r) for r in ("bos", "eos"))
    for role in ("bos", "eos"):
        name = f"llama.cpp.add_{role}"
        values = ({f"{role}_id": _config_ids(t_config, role)}, {f"{role}_id": _config_ids(d_config, role)})
        if cmp.configuration_identical and ids_agree:
            checks.append(Check(name, True, *values, f"same add_{role} and {role.upper()} id: byte-identical "
                                "tokenizer configuration files and the same config ids"))
        else:
            checks.append(Check(name, False, *values, f"add_{role} / {role.upper()} id not known from file hashes "
                                "(the tokenizer configuration files differ or are not pinned on both sides); load "
                                "the tokenizer files to decide", skipped=True))
    if vt is None or vd is None:
        checks.append(Check("llama.cpp.n_vocab", False, vt, vd, "config vocab_size unknown", skipped=True))
    else:
        diff = abs(vt - vd)
        ok = diff <= er.SPEC_VOCAB_MAX_SIZE_DIFFERENCE
        checks.append(Check("llama.cpp.n_vocab", ok, vt, vd,
                            f"n_vocab {vt} vs {vd} (padded config vocab sizes; diff {diff}, max "
                            f"{er.SPEC_VOCAB_MAX_SIZE_DIFFERENCE})" if ok else
                            f"n_vocab differs by {diff} > {er.SPEC_VOCAB_MAX_SIZE_DIFFERENCE} ({vt} vs {vd})"))
    if cmp.added_tokens_identical:
        checks.append(Check("llama.cpp.token_text", True, "same files", "same files",
                            f"token text equal: {same}; padding ids are [PAD…] on both sides"))
    else:
        checks.append(Check("llama.cpp.token_text", False, "same files", "same files",
                            "base vocabulary identical by file hash, added tokens not pinned on both sides",
                            skipped=True))
    failed = [c for c in checks if c.required and not c.passed]
    refused = [c for c in failed if not c.skipped]
    if not failed:
        reasons = ["run: llama-server -m target.gguf -md draft.gguf --spec-type draft-simple",
                   f"common_speculative_are_compatible passes on facts implied by {same}"]
        mode = "shared-vocab"
    elif refused:
        reasons = ["refused: " + "; ".join(c.reason for c in refused) + " — draft-simple throws and llama-server "
                   "serves the target alone"]
        mode = "refused"
    else:
        reasons = ["not decided: " + "; ".join(c.reason for c in failed)]
        mode = "unknown"
    verdict = EngineVerdict("llama.cpp", not failed, "shared-vocab" if not failed else mode, reasons,
                            er.RULE_LLAMA_CPP, er.VERSION_LLAMA_CPP, checks)
    return verdict


def _pinned(cmp: FileHashComparison, side: str, entry: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    """``{file: {<algorithm>: short digest, "source": where the digest comes from}}`` for the equal files (the
    catalog's provenance, or the model's own files)."""
    provenance = (entry or {}).get("provenance") or {}
    hashes = cmp.target_hashes if side == "target" else cmp.draft_hashes
    return {n: {cmp.algorithm[n]: hashes[n][cmp.algorithm[n]][:SHORT],
                "source": provenance.get(f"tokenizer_file_hashes.{n}", "the model's own tokenizer files")}
            for n in cmp.equal}


def verify_by_hash(cmp: FileHashComparison, target_id: str, draft_id: str, *,
                   target_entry: Optional[Mapping[str, Any]] = None, draft_entry: Optional[Mapping[str, Any]] = None,
                   target_config: Optional[Mapping[str, Any]] = None,
                   draft_config: Optional[Mapping[str, Any]] = None,
                   missing: Tuple[str, ...] = ()) -> CompatibilityResult:
    """The pair's result when the tokenizer facts are missing on a side (``missing``: the models without files or
    facts): compatible (by file hash) when the id-defining files are byte-identical, else :func:`unverified`
    with the reason."""
    if not cmp.vocabulary_identical:
        if cmp.vocabulary_identical is False:
            reason = (f"tokenizers of {target_id} and {draft_id} could not be compared: {cmp.describe_differences()} "
                      "— different bytes need not mean different vocabularies; load the tokenizer files to decide")
        else:
            unpinned = [m for m, h in ((target_id, cmp.target_hashes), (draft_id, cmp.draft_hashes))
                        if not any(n in ID_FILES for n in h)]
            who = [m for m in (missing or (draft_id,))]
            reason = (f"tokenizer of {' and '.join(who)} could not be checked: no tokenizer files or catalog "
                      "fingerprint, and " + (f"no public hash of a vocabulary file for {' and '.join(unpinned)}"
                                              if unpinned else "no vocabulary file pinned on both sides")
                      + " to compare (add tokenizer.json / vocab.json+merges.txt / tokenizer.model to its folder)")
        return unverified(reason, cmp)
    same = cmp.describe()
    vocab = Check("tokenizer_files", True, _pinned(cmp, "target", target_entry), _pinned(cmp, "draft", draft_entry),
                  f"compatible (by file hash): byte-identical {same} (public hashes, each with its source in the "
                  "values; files not loaded)")
    text = "identical tokenizer files tokenize and decode identically (test strings not run: no files)"
    checks = [vocab,
              Check("vocabulary", True, "by file hash", "by file hash", f"same id → token mapping: {same}"),
              _special_tokens_check(cmp, target_entry or {}, draft_entry or {}, target_config, draft_config),
              Check("tokenization", True, "by file hash", "by file hash", text),
              Check("decode", True, "by file hash", "by file hash", text)]
    if cmp.different or cmp.target_only or cmp.draft_only or cmp.incomparable:
        checks.append(Check("other_tokenizer_files", False, sorted(cmp.target_hashes), sorted(cmp.draft_hashes),
                            cmp.describe_differences() + " (configuration: special-token roles or BOS/EOS insertion "
                            "may differ; ids do not)", required=False))
    warnings = [f"{c.name}: {c.reason}" for c in checks if not c.required and not c.passed]
    roles = 1.0 if cmp.configuration_identical else 0.5
    result = CompatibilityResult(
        is_compatible=True, vocab_size_match=_config_vocab(target_config) == _config_vocab(draft_config),
        tokenizer_match=True, tokenization_match=True, decode_match=True,
        special_tokens_match=bool(checks[2].passed), quantization_compatible=True,
        architecture_match=(target_config or {}).get("model_type") == (draft_config or {}).get("model_type"),
        model_accessible=True, tokenization_match_rate=1.0, warnings=warnings,
        compatibility_score=round(40 + 25 + 10 + 10 * roles + 10 + 5 * roles, 1), checks=checks,
        method="file-hash")
    result.verification = BY_FILE_HASH
    result.engines = engine_verdicts_by_hash(cmp, target_config, draft_config)
    return result


def unverified(reason: str, cmp: Optional[FileHashComparison] = None) -> CompatibilityResult:
    """A pair that truly cannot be judged: never recommended, listed with ``reason`` (strict or lenient mode —
    lenient relaxes what a check accepts, not whether it ran)."""
    check = Check("tokenizer_available", False, None, None, reason, required=True, skipped=True)
    checks = [check]
    if cmp is not None and (cmp.target_hashes or cmp.draft_hashes):
        checks.append(Check("tokenizer_files", False, dict(cmp.target_hashes), dict(cmp.draft_hashes),
                            cmp.describe_differences() or "no file pinned on both sides", required=False, skipped=True))
    result = CompatibilityResult(
        is_compatible=False, vocab_size_match=False, tokenizer_match=False, tokenization_match=False,
        decode_match=False, special_tokens_match=False, quantization_compatible=True, architecture_match=False,
        model_accessible=True, incompatibility_reasons=[reason], compatibility_score=0.0, checks=checks,
        method="unverified")
    result.verification = UNVERIFIED
    return result


def is_unjudged(compat: CompatibilityResult) -> bool:
    """A result that failed only because a required check could not run (skipped): unverified, not rejected."""
    if compat.is_compatible:
        return False
    if compat.method == "unverified":
        return True
    failed = [c for c in compat.checks if c.required and not c.passed]
    return bool(failed) and all(c.skipped for c in failed)
