"""Tokenizer facts: what decides whether two tokenizers are interchangeable, small enough to ship.

``facts_from_tokenizer(tok)`` condenses a loaded tokenizer (:mod:`draftfinder.compat.tokenizer` loads them)
into :class:`TokenizerFacts`: sizes, special tokens, added tokens, hashes of the vocabulary and of how the
built-in test strings encode. The offline catalog stores these facts (``to_dict``, about 3 KB per
tokenizer); the live path compares full token lists (``token_texts``). Comparing two vocabularies, from facts
or from token lists, is :mod:`draftfinder.compat.vocabdiff`.

**Identity is behaviour, not representation.** A tokenizer's identity covers only what decides
compatibility — the id → token mapping, the special (added) tokens, and what the tokenizer *does* with the 23
built-in test strings (:mod:`draftfinder.compat.teststrings`): their ids and the text those ids decode back
to. It does not cover how a library happens to represent the tokenizer (the converted normalizer,
pre-tokenizer, decoder JSON, the order or spelling of merges, the tokenizer class): transformers 5.24 converts
Mistral-7B-v0.1's ``tokenizer.model`` into another normalizer/pre-tokenizer/decoder and other merges than
5.23 did, and a fingerprint of that representation changed although the vocabulary had not (issue 9 §3b).
When a library version changes *behaviour* — 5.24 also added SentencePiece's dummy prefix, so "Hello"
became ``▁Hello`` as in the original SentencePiece model — the encodings change, and so does the identity:
that difference is real. Installs are pinned (``constraints.txt``) so the catalog and a fresh clone agree.

The hashes, all SHA-256:

- ``block_hashes``: one 16-hex-digit hash per block of ``BLOCK_SIZE`` (4096) ids of the base vocabulary
  (ids below ``tok.vocab_size``). Block 0 leaves out ids below ``HEAD_IDS`` (5), which are stored literally
  in ``head_tokens`` — so llama.cpp's rule, which compares token text from id 5 on
  (``SPEC_VOCAB_CHECK_START_TOKEN_ID`` in ``common/speculative.cpp``), can be evaluated from facts alone.
  Ids at or above the base size are added tokens, stored literally in ``added_tokens``.
- ``added_tokens_hash``: every added token (also those re-flagging base ids, like Llama's ``<s>``) as
  id, text and whether it is special.
- ``test_encodings`` / ``test_decodes``: per built-in test string (``add_special_tokens=False``), 16 hex of
  the ids it encodes to, and of the text those ids decode to; ``test_strings_hash`` names the set of strings.
  Two facts with the same set give the offline tokenization match rate string by string, as the live check does.
- ``fingerprint``: the id → token mapping (all ids), the added tokens, the test-string encodings and decodes.
  Equal fingerprints ⇒ same vocabulary, same special tokens, and identical behaviour on every built-in test
  string. Special-token *roles* (which id is EOS) and the default BOS/EOS insertion are not part of it: they
  are configuration, reported separately (and part of :attr:`TokenizerFacts.key`).

Token text is the tokenizer's own spelling of the token (``convert_ids_to_tokens``: ``Ġthe`` for byte-level
BPE, ``▁the`` for SentencePiece) — the same strings a GGUF file stores in ``tokenizer.ggml.tokens``.
"""

from __future__ import annotations

import hashlib
import json
import weakref
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from draftfinder.compat import teststrings
from draftfinder.compat.tokenizer import quiet_transformers

BLOCK_SIZE = 4096          # ids per block hash: ~37 hashes for Qwen2.5's 151,643-entry base vocabulary
HEAD_IDS = 5               # ids stored literally; = llama.cpp SPEC_VOCAB_CHECK_START_TOKEN_ID
HASH_CHARS = 16            # hex digits kept per block / test-string hash (64 bits)
MAX_ADDED_STORED = 512     # tail (ids >= base) tokens stored by id; past this only their count and hash
FACTS_VERSION = 2          # bump when the hashing changes: facts of different versions are not compared
                           # (2: identity from behaviour — test-string encodings — not from converter JSON)

_MISSING = None            # a hole in the id range (no token has this id)


@dataclass
class TokenizerFacts:
    """What draftfinder needs to know about a tokenizer, without its files (stored in the offline catalog)."""

    n_tokens: int                          # len(tokenizer): base vocabulary + added tokens
    base_vocab_size: int                   # tokenizer.vocab_size: ids below are the base (model) vocabulary
    vocab_kind: Optional[str]              # llama.cpp vocab type it maps to: SPM | BPE | WPM | UGM | …
    bos_token: Optional[str] = None
    bos_token_id: Optional[int] = None
    eos_token: Optional[str] = None
    eos_token_id: Optional[int] = None
    pad_token: Optional[str] = None
    pad_token_id: Optional[int] = None
    unk_token: Optional[str] = None
    unk_token_id: Optional[int] = None
    add_bos_token: bool = False            # transformers prepends BOS by default (probed: encode with specials);
                                           # GGUF files: llama.cpp does (compat/llama_vocab.py)
    add_eos_token: bool = False
    add_special_explicit: bool = False     # the files set add_bos_token/add_eos_token (tokenizer_config or GGUF)
    added_tokens: Dict[int, str] = field(default_factory=dict)   # id -> text, ids >= base_vocab_size (the tail)
    added_tokens_count: int = 0            # all added tokens, also those re-flagging base ids (Llama's <s>)
    added_tokens_hash: str = ""            # over all added tokens: id, text, special flag
    fingerprint: str = ""                  # sha256 hex of the tokenizer's identity (see module docstring)
    test_strings_hash: str = ""            # which built-in test strings test_encodings/test_decodes cover
    test_encodings: List[str] = field(default_factory=list)      # per test string: 16 hex of its ids
    test_decodes: List[str] = field(default_factory=list)        # per test string: 16 hex of decode(ids)
    head_tokens: List[Optional[str]] = field(default_factory=list)   # text of ids 0..HEAD_IDS-1
    block_hashes: List[str] = field(default_factory=list)
    block_size: int = BLOCK_SIZE
    source_format: str = "hf"              # hf (tokenizer files) | gguf (vocabulary read from a GGUF file)
    gguf_n_vocab: Optional[int] = None     # GGUF files: tokens in tokenizer.ggml.tokens (llama.cpp n_vocab)
    version: int = FACTS_VERSION

    @property
    def tail_known(self) -> bool:
        """Whether every id past the base vocabulary is stored (``added_tokens``) — false past 512 of them."""
        return self.n_tokens - self.base_vocab_size <= MAX_ADDED_STORED

    def special(self, role: str) -> Tuple[Optional[str], Optional[int]]:
        """``(text, id)`` of the ``bos``/``eos``/``pad``/``unk`` token."""
        return getattr(self, f"{role}_token"), getattr(self, f"{role}_token_id")

    def tail_text(self, token_id: int) -> Tuple[bool, Optional[str]]:
        """Text of an id at or above the base vocabulary: ``(known, text)``; text None for a hole."""
        if token_id in self.added_tokens:
            return True, self.added_tokens[token_id]
        if token_id >= self.n_tokens or self.tail_known:
            return True, _MISSING
        return False, None

    @property
    def key(self) -> str:
        """Hash of the complete facts, roles and flags included: the key to store facts under.

        Not the fingerprint: tokenizers with one fingerprint can still differ in special-token roles
        (Qwen2.5 base: EOS ``<|endoftext|>``; Instruct: ``<|im_end|>``) or default BOS insertion.
        """
        blob = json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False).encode("utf-8", "surrogatepass")
        return hashlib.sha256(blob).hexdigest()[:24]

    def to_dict(self) -> Dict[str, Any]:
        """Compact JSON-ready form (the offline catalog's ``tokenizers`` entries)."""
        out: Dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if name == "added_tokens":
                value = {str(k): v for k, v in sorted(value.items())}
            out[name] = value
        return out

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "TokenizerFacts":
        """Inverse of :meth:`to_dict`; raises ``ValueError`` for facts of another ``FACTS_VERSION``."""
        version = int(data.get("version", FACTS_VERSION))
        if version != FACTS_VERSION:
            raise ValueError(f"tokenizer facts version {version} is not supported (expected {FACTS_VERSION}); "
                             "rebuild the catalog with scripts/build_catalog.py")
        kwargs = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        kwargs["added_tokens"] = {int(k): v for k, v in (data.get("added_tokens") or {}).items()}
        for name in ("head_tokens", "block_hashes", "test_encodings", "test_decodes"):
            kwargs[name] = list(data.get(name) or [])
        return cls(**kwargs)


_FACTS_CACHE: Dict[int, TokenizerFacts] = {}
_TEXTS_CACHE: Dict[int, List[Optional[str]]] = {}


def _remember(cache: Dict[int, Any], tok: Any, value: Any) -> Any:
    key = id(tok)
    if key not in cache:
        try:
            weakref.finalize(tok, cache.pop, key, None)
        except TypeError:        # not weak-referenceable: do not cache (an id could be reused)
            return value
    cache[key] = value
    return value


def token_texts(tok: Any) -> List[Optional[str]]:
    """Token text for every id ``0 .. n-1`` (None for a hole), including added tokens. Cached per tokenizer."""
    cached = _TEXTS_CACHE.get(id(tok))
    if cached is not None:
        return cached
    vocab = tok.get_vocab()
    size = max(len(tok), (max(vocab.values()) + 1) if vocab else 0)
    texts: List[Optional[str]] = [_MISSING] * size
    for text, index in vocab.items():
        texts[index] = text
    return _remember(_TEXTS_CACHE, tok, texts)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _encode_texts(texts: Sequence[Optional[str]]) -> bytes:
    """Unambiguous serialization: length-prefixed texts, ``-:`` for a hole."""
    return "".join("-:" if t is None else f"{len(t)}:{t}" for t in texts).encode("utf-8", "surrogatepass")


def _component_json(backend: Any, name: str) -> Optional[Dict[str, Any]]:
    obj = getattr(backend, name, None) if backend is not None else None
    if obj is None:
        return None
    try:
        return json.loads(obj.__getstate__())
    except Exception:
        return {"type": type(obj).__name__}


def _model_head(backend: Any) -> Tuple[str, Dict[str, Any]]:
    """``(model_type, settings)`` of a tokenizers backend model, without parsing its vocabulary or merges."""
    state = backend.model.__getstate__().decode("utf-8", "surrogatepass")
    head_end = state.find('"vocab":')
    descriptor: Dict[str, Any] = {}
    if head_end > 0 and state[:head_end].rstrip().endswith(","):
        try:
            descriptor = json.loads(state[:head_end].rstrip()[:-1] + "}")
        except ValueError:
            descriptor = {}
    return str(descriptor.get("type") or type(backend.model).__name__), descriptor


def _vocab_kind(tok: Any) -> Optional[str]:
    """The llama.cpp vocab type a converter would give this tokenizer (``convert_hf_to_gguf.py``:
    byte-level BPE → ``gpt2``/BPE, SentencePiece → ``llama``/SPM, WordPiece → ``bert``/WPM, T5 → UGM)."""
    backend = getattr(tok, "backend_tokenizer", None)
    if backend is None:                                   # slow (python/sentencepiece) tokenizer
        return "SPM" if getattr(tok, "sp_model", None) is not None else None
    model_type, descriptor = _model_head(backend)
    if model_type == "WordPiece":
        return "WPM"
    if model_type == "Unigram":
        return "UGM"
    if model_type == "BPE":
        norm, pre, dec = (_component_json(backend, n) for n in ("normalizer", "pre_tokenizer", "decoder"))
        blob = json.dumps([pre, dec], ensure_ascii=False)
        if "ByteLevel" in blob:
            return "BPE"
        if descriptor.get("byte_fallback") or "Metaspace" in blob or "\u2581" in json.dumps(norm, ensure_ascii=False):
            return "SPM"
        return "BPE"
    return None


def _probe_add_special(tok: Any) -> Tuple[bool, bool]:
    """Whether ``tok("a")`` (default ``add_special_tokens=True``) adds BOS in front / EOS at the end."""
    try:
        plain = tok.encode("a", add_special_tokens=False)
        full = tok.encode("a", add_special_tokens=True)
    except Exception:
        return False, False
    extra = len(full) - len(plain)
    if extra <= 0:
        return False, False
    bos, eos = tok.bos_token_id, tok.eos_token_id
    add_bos = bos is not None and full[0] == bos and full[1:1 + len(plain)] == plain
    add_eos = eos is not None and full[-1] == eos and (len(full) - len(plain)) >= (2 if add_bos else 1)
    return bool(add_bos), bool(add_eos)


def behaviour_on(tok: Any, texts: Sequence[str]) -> Tuple[List[str], List[str]]:
    """``(encodings, decodes)``: per text, 16 hex of its ids (``add_special_tokens=False``) and of the text
    those ids decode to (``skip_special_tokens=False``, no clean-up) — the same calls the live checks make."""
    with quiet_transformers():
        all_ids = [list(map(int, ids)) for ids in tok(list(texts), add_special_tokens=False)["input_ids"]]
        decodes = [tok.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False) for ids in all_ids]
    encodings = [_sha(",".join(map(str, ids)))[:HASH_CHARS] for ids in all_ids]
    return encodings, [_sha(text)[:HASH_CHARS] for text in decodes]


def strings_id_of(texts: Sequence[str]) -> str:
    """16 hex naming a list of test strings: facts are compared string by string only for the same list."""
    return _sha(_encode_texts(list(texts)).decode("utf-8", "surrogatepass"))[:HASH_CHARS]


def facts_from_tokenizer(tok: Any) -> TokenizerFacts:
    """Condense a loaded tokenizer into :class:`TokenizerFacts` (cached per tokenizer object).

    About 0.2 s for Qwen2.5's 151,665 tokens and 0.5 s for Gemma-3's 262,144 (measured on this CPU).
    """
    cached = _FACTS_CACHE.get(id(tok))
    if cached is not None:
        return cached
    texts = token_texts(tok)
    n = len(texts)
    base = min(int(getattr(tok, "vocab_size", n) or n), n)
    gguf_meta = getattr(tok, "_draftfinder_gguf", None)
    vocab_kind = (gguf_meta or {}).get("vocab_type") or _vocab_kind(tok)

    added_items = sorted((int(i), t) for i, t in getattr(tok, "added_tokens_decoder", {}).items())
    added_canon = "".join(f"{i}\t{len(t.content)}:{t.content}\t{int(bool(getattr(t, 'special', False)))}\n"
                          for i, t in added_items)
    added_hash = _sha(added_canon)

    head = list(texts[:min(HEAD_IDS, n)])
    block_digests: List[str] = []
    for start in range(0, base, BLOCK_SIZE):
        lo = max(start, HEAD_IDS)
        block_digests.append(hashlib.sha256(_encode_texts(texts[lo:min(start + BLOCK_SIZE, base)])).hexdigest())

    strings = teststrings.default_texts()
    strings_id = strings_id_of(strings)
    encodings, decodes = behaviour_on(tok, strings)

    fp = hashlib.sha256()
    for part in (
        f"draftfinder-tokenizer-fingerprint/{FACTS_VERSION}",
        f"{n}/{base}",
        _encode_texts(head).decode("utf-8", "surrogatepass"),
        "".join(block_digests),
        _encode_texts(texts[base:]).decode("utf-8", "surrogatepass"),
        added_canon,
        strings_id,
        ",".join(encodings),
        ",".join(decodes),
    ):
        fp.update(part.encode("utf-8", "surrogatepass"))
        fp.update(b"\x00")

    add_bos, add_eos = _probe_add_special(tok)
    explicit = "add_bos_token" in getattr(tok, "init_kwargs", {}) or "add_eos_token" in getattr(tok, "init_kwargs", {})
    if gguf_meta is not None and "llama_add_bos" in gguf_meta:
        # a GGUF file is llama.cpp's: its flags are what llama.cpp does (the file's keys, else llama.cpp's defaults
        # for its vocab type and pre-tokenizer, compat/llama_vocab.py) — transformers skips the pre-tokenizer
        # defaults (a llama-bpe file without add_bos_token: no BOS in transformers, BOS in llama.cpp)
        add_bos, add_eos, explicit = bool(gguf_meta["llama_add_bos"]), bool(gguf_meta["llama_add_eos"]), True
    elif gguf_meta is not None:
        explicit = gguf_meta.get("add_bos") is not None or gguf_meta.get("add_eos") is not None

    def _tid(value: Any) -> Optional[int]:
        return int(value) if isinstance(value, int) else None

    facts = TokenizerFacts(
        n_tokens=n,
        base_vocab_size=base,
        vocab_kind=vocab_kind,
        bos_token=tok.bos_token, bos_token_id=_tid(tok.bos_token_id),
        eos_token=tok.eos_token, eos_token_id=_tid(tok.eos_token_id),
        pad_token=tok.pad_token, pad_token_id=_tid(tok.pad_token_id),
        unk_token=tok.unk_token, unk_token_id=_tid(tok.unk_token_id),
        add_bos_token=add_bos,
        add_eos_token=add_eos,
        add_special_explicit=bool(explicit),
        added_tokens={i: t.content for i, t in added_items if i >= base}
        if n - base <= MAX_ADDED_STORED else {},
        added_tokens_count=len(added_items),
        added_tokens_hash=added_hash,
        fingerprint=fp.hexdigest(),
        test_strings_hash=strings_id,
        test_encodings=encodings,
        test_decodes=decodes,
        head_tokens=head,
        block_hashes=[d[:HASH_CHARS] for d in block_digests],
        source_format="gguf" if gguf_meta is not None else "hf",
        gguf_n_vocab=(gguf_meta or {}).get("n_vocab"),
    )
    return _remember(_FACTS_CACHE, tok, facts)
