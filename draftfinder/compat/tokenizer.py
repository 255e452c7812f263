"""Tokenizer loading and tokenizer facts: what a vocabulary is, in a form small enough to ship.

``load_tokenizer(record)`` loads a transformers tokenizer from a model's own files (an HF folder, or a GGUF
file) and caches it per path for the process. ``facts_from_tokenizer(tok)`` condenses it into
:class:`TokenizerFacts`: sizes, special tokens, added tokens, and hashes of the vocabulary that let two
tokenizers be compared without their files. The offline catalog stores these facts (``to_dict``), about
2 KB per tokenizer; the live path compares full token lists (``token_texts``). Comparing two vocabularies,
from facts or from token lists, is :mod:`draftfinder.compat.vocabdiff`.

The hashes, all SHA-256:

- ``block_hashes``: one 16-hex-digit hash per block of ``BLOCK_SIZE`` (4096) ids of the base vocabulary
  (ids below ``tok.vocab_size``). Block 0 leaves out ids below ``HEAD_IDS`` (5), which are stored literally
  in ``head_tokens`` — so llama.cpp's rule, which compares token text from id 5 on
  (``SPEC_VOCAB_CHECK_START_TOKEN_ID`` in ``common/speculative.cpp``), can be evaluated from facts alone.
  Ids at or above the base size are added tokens, stored literally in ``added_tokens`` (added tokens that
  re-flag base ids, like Llama's ``<s>`` or Gemma's ``<unusedN>``, are covered by the block hashes and by
  ``added_tokens_hash``).
- ``merges_hash``: the BPE merge list (or the Unigram scores) — same vocabulary with different merges
  tokenizes differently.
- ``fingerprint``: everything that decides how text becomes ids and back: tokens ordered by id, the model
  type and its flags, merges, added tokens with their flags, normalizer, pre-tokenizer and decoder.
  Equal fingerprints ⇒ identical tokenization. Special-token *roles* (which id is EOS) and the default
  BOS/EOS insertion are not part of it: they are configuration, reported separately.

Token text is the tokenizer's own spelling of the token (``convert_ids_to_tokens``: ``Ġthe`` for byte-level
BPE, ``▁the`` for SentencePiece) — the same strings a GGUF file stores in ``tokenizer.ggml.tokens``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import warnings
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from draftfinder.errors import MissingDependencyError, TokenizerLoadError
from draftfinder.models.sources.base import ModelRecord

BLOCK_SIZE = 4096          # ids per block hash: ~37 hashes for Qwen2.5's 151,643-entry base vocabulary
HEAD_IDS = 5               # ids stored literally; = llama.cpp SPEC_VOCAB_CHECK_START_TOKEN_ID
HASH_CHARS = 16            # hex digits kept per block hash (64 bits)
MAX_ADDED_STORED = 512     # tail (ids >= base) tokens stored by id; past this only their count and hash
FACTS_VERSION = 1          # bump when the hashing changes: facts of different versions are not compared

_MISSING = None            # a hole in the id range (no token has this id)

# ---------------------------------------------------------------------------------------------------
# loading
# ---------------------------------------------------------------------------------------------------

_TOKENIZER_CACHE: Dict[Tuple[str, str], Any] = {}
_KEY_LOCKS: Dict[Tuple[str, str], threading.Lock] = {}
_CACHE_LOCK = threading.Lock()

# llama.cpp vocabulary types (llama.h ``enum llama_vocab_type``), keyed by GGUF ``tokenizer.ggml.model``.
GGML_VOCAB_TYPES = {"none": "NONE", "llama": "SPM", "gpt2": "BPE", "bert": "WPM", "t5": "UGM",
                    "rwkv": "RWKV", "plamo2": "PLAMO2"}


def load_tokenizer(record: ModelRecord) -> Any:
    """The transformers tokenizer of ``record``, from its GGUF file or its local folder (cached per path).

    Raises ``TokenizerLoadError`` naming the problem: no local files (catalog records), no tokenizer files
    in the folder, a missing ``sentencepiece``/``protobuf`` for ``tokenizer.model``, a corrupt file.
    """
    if record.gguf_path is not None:
        path = Path(record.gguf_path)
        return _cached(("gguf", str(path.resolve())), lambda: _load_gguf(record.model_id, path))
    if record.local_dir is not None:
        folder = Path(record.local_dir)
        return _cached(("dir", _folder_content_key(folder)), lambda: _load_folder(record.model_id, folder))
    raise TokenizerLoadError(
        record.model_id,
        f"no tokenizer files: the '{record.source}' source has no local files for this model",
        hint="compare its stored tokenizer facts (EnhancedTokenizerChecker.verify_facts), or pass the model "
             "folder / .gguf file",
    )


TOKENIZER_FILE_NAMES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json",
                        "merges.txt", "tokenizer.model", "spiece.model", "added_tokens.json")


def _folder_content_key(folder: Path) -> str:
    """Hash of the folder's tokenizer files: byte-identical files (Qwen2.5 0.5B/1.5B/7B) load once.

    Falls back to the resolved path when nothing can be read (the loader then reports the problem)."""
    digest = hashlib.sha1()
    found = False
    for name in TOKENIZER_FILE_NAMES:
        path = folder / name
        try:
            data = path.read_bytes()
        except OSError:
            continue
        found = True
        digest.update(name.encode() + b"\0" + len(data).to_bytes(8, "little") + data)
    return digest.hexdigest() if found else str(folder.resolve())


def clear_cache() -> None:
    """Forget every loaded tokenizer (tests; long-running processes that reload files)."""
    with _CACHE_LOCK:
        _TOKENIZER_CACHE.clear()
        _KEY_LOCKS.clear()


def _cached(key: Tuple[str, str], load) -> Any:
    with _CACHE_LOCK:
        if key in _TOKENIZER_CACHE:
            return _TOKENIZER_CACHE[key]
        lock = _KEY_LOCKS.setdefault(key, threading.Lock())
    with lock:                       # one load per path even when candidates are evaluated in threads
        with _CACHE_LOCK:
            if key in _TOKENIZER_CACHE:
                return _TOKENIZER_CACHE[key]
        tok = load()
        with _CACHE_LOCK:
            _TOKENIZER_CACHE[key] = tok
        return tok


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' advisory warnings while loading: the library never prints (STYLE §7)."""
    from transformers.utils import logging as hf_logging

    previous = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        hf_logging.set_verbosity(previous)


def _import_transformers():
    try:
        import transformers
    except ImportError as e:
        raise MissingDependencyError("transformers", "loading tokenizers") from e
    return transformers


def _problem(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return f"{type(e).__name__}: {text[:300]}"


def _load_folder(model_id: str, folder: Path) -> Any:
    if not folder.is_dir():
        raise TokenizerLoadError(model_id, f"folder {folder} does not exist")
    names = {p.name for p in folder.iterdir()}
    has_json = "tokenizer.json" in names
    has_bpe = "vocab.json" in names and "merges.txt" in names
    has_spm = bool({"tokenizer.model", "spiece.model"} & names)
    has_wordpiece = "vocab.txt" in names
    if not (has_json or has_bpe or has_spm or has_wordpiece):
        found = ", ".join(sorted(names)) or "nothing"
        detail = " (vocab.json without merges.txt)" if "vocab.json" in names else ""
        raise TokenizerLoadError(
            model_id,
            f"no tokenizer files in {folder}{detail}; found: {found}",
            hint="the folder needs tokenizer.json, vocab.json+merges.txt or tokenizer.model (download them, "
                 "or compare offline catalog facts instead)",
        )
    if has_spm and not has_json:
        for module in ("sentencepiece", "google.protobuf"):
            try:
                __import__(module)
            except ImportError as e:
                raise TokenizerLoadError(
                    model_id, f"{folder.name}/tokenizer.model is a SentencePiece model and '{module}' is not installed",
                    hint="pip install sentencepiece protobuf",
                ) from e
    transformers = _import_transformers()
    try:
        with quiet_transformers():
            return transformers.AutoTokenizer.from_pretrained(
                str(folder), local_files_only=True, trust_remote_code=False
            )
    except Exception as e:  # transformers raises many types for a bad file: report them all the same way
        raise TokenizerLoadError(
            model_id, f"could not read the tokenizer files in {folder} ({_problem(e)})",
            hint="the files may be truncated or corrupt: re-download them",
        ) from e


def read_gguf_vocab_meta(path: Path) -> Dict[str, Any]:
    """llama.cpp's view of a GGUF vocabulary, from the file's own metadata (no token arrays are read).

    Keys: ``ggml_model`` (``tokenizer.ggml.model``), ``vocab_type`` (SPM/BPE/…), ``n_vocab``, ``bos_id``,
    ``eos_id``, ``add_bos``/``add_eos`` (None when the file does not say).
    """
    from transformers.integrations.gguf import read_gguf_metadata

    meta, _ = read_gguf_metadata(str(path))
    tokens = meta.get("tokenizer.ggml.tokens")
    model = meta.get("tokenizer.ggml.model")
    return {
        "ggml_model": model,
        "vocab_type": GGML_VOCAB_TYPES.get(str(model), str(model).upper() if model else None),
        "n_vocab": tokens if isinstance(tokens, int) else (len(tokens) if tokens is not None else None),
        "bos_id": meta.get("tokenizer.ggml.bos_token_id"),
        "eos_id": meta.get("tokenizer.ggml.eos_token_id"),
        "add_bos": meta.get("tokenizer.ggml.add_bos_token"),
        "add_eos": meta.get("tokenizer.ggml.add_eos_token"),
    }


def _load_gguf(model_id: str, path: Path) -> Any:
    """Load the tokenizer stored in a GGUF file.

    ``TokenizersBackend.from_pretrained(folder, gguf_file=name)`` builds the same backend tokenizer as
    ``AutoTokenizer`` (identical ``backend_tokenizer.to_str()`` for the SmolLM2 and Gemma-3 zoo files), but
    skips AutoTokenizer's config step, which for architectures outside ``GGUF_CONFIG_ARCHS`` parses every
    metadata array with ``gguf.GGUFReader`` (``modeling_gguf_pytorch_utils.load_gguf_checkpoint``): 12 s
    instead of 2 s for Gemma-3's 262,144 tokens. AutoTokenizer stays the fallback.
    """
    if not path.is_file():
        raise TokenizerLoadError(model_id, f"GGUF file {path} does not exist")
    with path.open("rb") as f:
        magic = f.read(4)
    if magic != b"GGUF":
        raise TokenizerLoadError(model_id, f"{path} is not a GGUF file (magic {magic!r}, expected b'GGUF')",
                                 hint="check that the download completed and that the file really is .gguf")
    transformers = _import_transformers()
    try:
        meta = read_gguf_vocab_meta(path)
    except Exception as e:
        raise TokenizerLoadError(model_id, f"cannot read the GGUF metadata of {path} ({_problem(e)})",
                                 hint="the file may be truncated: re-download it") from e
    backend_cls = getattr(transformers, "TokenizersBackend", None) or transformers.PreTrainedTokenizerFast
    tok = None
    first_error: Optional[BaseException] = None
    with quiet_transformers():
        for load in (
            lambda: backend_cls.from_pretrained(str(path.parent), gguf_file=path.name, local_files_only=True),
            lambda: transformers.AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name,
                                                               local_files_only=True),
        ):
            try:
                tok = load()
                break
            except Exception as e:
                first_error = first_error or e
    if tok is None:
        problem = f"cannot build a tokenizer from {path} ({_problem(first_error)})"
        hint = "transformers may not support this GGUF tokenizer type: upgrade transformers"
        raise TokenizerLoadError(model_id, problem, hint=hint) from first_error
    object.__setattr__(tok, "_draftfinder_gguf", meta)
    return tok


# ---------------------------------------------------------------------------------------------------
# facts
# ---------------------------------------------------------------------------------------------------

@dataclass
class TokenizerFacts:
    """What draftfinder needs to know about a tokenizer, without its files (stored in the offline catalog)."""

    n_tokens: int                          # len(tokenizer): base vocabulary + added tokens
    base_vocab_size: int                   # tokenizer.vocab_size: ids below are the base (model) vocabulary
    model_type: str                        # backend model: BPE | Unigram | WordPiece | WordLevel | SentencePiece
    vocab_kind: Optional[str]              # llama.cpp vocab type it maps to: SPM | BPE | WPM | UGM | …
    tokenizer_class: str
    bos_token: Optional[str] = None
    bos_token_id: Optional[int] = None
    eos_token: Optional[str] = None
    eos_token_id: Optional[int] = None
    pad_token: Optional[str] = None
    pad_token_id: Optional[int] = None
    unk_token: Optional[str] = None
    unk_token_id: Optional[int] = None
    add_bos_token: bool = False            # transformers prepends BOS by default (probed: encode with specials)
    add_eos_token: bool = False
    add_special_explicit: bool = False     # the files set add_bos_token/add_eos_token (tokenizer_config or GGUF)
    added_tokens: Dict[int, str] = field(default_factory=dict)   # id -> text, ids >= base_vocab_size (the tail)
    added_tokens_count: int = 0            # all added tokens, also those re-flagging base ids (Llama's <s>)
    added_tokens_hash: str = ""            # over all added tokens with their flags (special, lstrip, …)
    normalizer: Optional[str] = None       # component kinds, e.g. "NFC", "Sequence(Split,ByteLevel)"
    pre_tokenizer: Optional[str] = None
    decoder: Optional[str] = None
    fingerprint: str = ""                  # sha256 hex of the whole tokenization (see module docstring)
    merges_hash: Optional[str] = None      # sha256 hex of BPE merges / Unigram scores
    component_hashes: Dict[str, str] = field(default_factory=dict)  # model/normalizer/pre_tokenizer/decoder
                                                                     # settings, 16 hex each: names what differs
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
        kwargs["head_tokens"] = list(data.get("head_tokens") or [])
        kwargs["block_hashes"] = list(data.get("block_hashes") or [])
        kwargs["component_hashes"] = dict(data.get("component_hashes") or {})
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


def _short_hash(obj: Any) -> str:
    blob = json.dumps(obj, sort_keys=True, ensure_ascii=False).encode("utf-8", "surrogatepass")
    return hashlib.sha256(blob).hexdigest()[:HASH_CHARS]


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


def _kind(node: Optional[Dict[str, Any]]) -> Optional[str]:
    """``{"type":"Sequence","pretokenizers":[{"type":"Split"},…]}`` → ``"Sequence(Split,ByteLevel)"``."""
    if node is None:
        return None
    kind = str(node.get("type", "?"))
    for key in ("normalizers", "pretokenizers", "decoders", "processors"):
        children = node.get(key)
        if isinstance(children, list):
            return f"{kind}({','.join(_kind(c) or '?' for c in children)})"
    return kind


def _model_summary(backend: Any) -> Tuple[str, Dict[str, Any], Optional[str]]:
    """``(model_type, descriptor, merges_hash)`` of a tokenizers backend model.

    BPE merges are hashed from their serialized JSON array (``[["Ġ","t"],…]``, the form tokenizers ≥ 0.20
    writes) without parsing all of it — parsing Qwen2.5's 151,387 merges costs 0.25 s.
    """
    state = backend.model.__getstate__().decode("utf-8", "surrogatepass")
    head_end = state.find('"vocab":')
    model_type = "unknown"
    descriptor: Dict[str, Any] = {}
    if head_end > 0 and state[:head_end].rstrip().endswith(","):
        try:
            descriptor = json.loads(state[:head_end].rstrip()[:-1] + "}")
        except ValueError:
            descriptor = {}
    model_type = str(descriptor.get("type") or type(backend.model).__name__)
    merges_hash: Optional[str] = None
    if model_type == "BPE":
        start = state.find('"merges":', head_end if head_end > 0 else 0)
        if start >= 0:
            raw = state[start + len('"merges":'): state.rfind("}")].strip()
            if raw.startswith('["') or raw.startswith('[ "'):      # tokenizers < 0.20: "a b" strings
                raw = json.dumps([m.split(" ", 1) for m in json.loads(raw)], ensure_ascii=False,
                                 separators=(",", ":"))
            merges_hash = hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()
    elif model_type == "Unigram":
        model = json.loads(state)
        descriptor = {k: v for k, v in model.items() if k != "vocab"}
        scores = "\n".join(f"{score:.6g}" for _, score in model.get("vocab", []))
        merges_hash = hashlib.sha256(scores.encode()).hexdigest()
    elif model_type == "WordLevel":
        descriptor = {k: v for k, v in json.loads(state).items() if k != "vocab"}
    return model_type, descriptor, merges_hash


def _vocab_kind(model_type: str, descriptor: Dict[str, Any], norm: Optional[Dict], pre: Optional[Dict],
                dec: Optional[Dict]) -> Optional[str]:
    """The llama.cpp vocab type a converter would give this tokenizer (``convert_hf_to_gguf.py``:
    byte-level BPE → ``gpt2``/BPE, SentencePiece → ``llama``/SPM, WordPiece → ``bert``/WPM, T5 → UGM)."""
    if model_type == "WordPiece":
        return "WPM"
    if model_type == "Unigram":
        return "UGM"
    if model_type == "SentencePiece":
        return "SPM"
    if model_type == "BPE":
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
    backend = getattr(tok, "backend_tokenizer", None)
    norm = _component_json(backend, "normalizer")
    pre = _component_json(backend, "pre_tokenizer")
    dec = _component_json(backend, "decoder")
    if backend is not None:
        model_type, descriptor, merges_hash = _model_summary(backend)
    else:  # slow (python/sentencepiece) tokenizer
        sp = getattr(tok, "sp_model", None)
        model_type = "SentencePiece" if sp is not None else type(tok).__name__
        descriptor = {"class": type(tok).__name__}
        merges_hash = hashlib.sha256(sp.serialized_model_proto()).hexdigest() if sp is not None else None

    gguf_meta = getattr(tok, "_draftfinder_gguf", None)
    vocab_kind = (gguf_meta or {}).get("vocab_type") or _vocab_kind(model_type, descriptor, norm, pre, dec)

    added_items = sorted((int(i), t) for i, t in getattr(tok, "added_tokens_decoder", {}).items())
    added_canon = "".join(
        f"{i}\t{len(t.content)}:{t.content}\t{int(bool(getattr(t, 'special', False)))}"
        f"{int(bool(getattr(t, 'normalized', False)))}{int(bool(getattr(t, 'lstrip', False)))}"
        f"{int(bool(getattr(t, 'rstrip', False)))}{int(bool(getattr(t, 'single_word', False)))}\n"
        for i, t in added_items
    )
    added_hash = hashlib.sha256(added_canon.encode("utf-8", "surrogatepass")).hexdigest()

    head = list(texts[:min(HEAD_IDS, n)])
    block_digests: List[str] = []
    for start in range(0, base, BLOCK_SIZE):
        lo = max(start, HEAD_IDS)
        block_digests.append(hashlib.sha256(_encode_texts(texts[lo:min(start + BLOCK_SIZE, base)])).hexdigest())

    fp = hashlib.sha256()
    for part in (
        f"draftfinder-tokenizer-fingerprint/{FACTS_VERSION}",
        json.dumps({"model": model_type, **descriptor}, sort_keys=True, ensure_ascii=False),
        merges_hash or "",
        f"{n}/{base}",
        _encode_texts(head).decode("utf-8", "surrogatepass"),
        "".join(block_digests),
        _encode_texts(texts[base:]).decode("utf-8", "surrogatepass"),
        added_canon,
        json.dumps([norm, pre, dec], sort_keys=True, ensure_ascii=False),
    ):
        fp.update(part.encode("utf-8", "surrogatepass"))
        fp.update(b"\x00")

    add_bos, add_eos = _probe_add_special(tok)
    explicit = "add_bos_token" in getattr(tok, "init_kwargs", {}) or "add_eos_token" in getattr(tok, "init_kwargs", {})
    if gguf_meta is not None:
        explicit = gguf_meta.get("add_bos") is not None or gguf_meta.get("add_eos") is not None

    def _tid(value: Any) -> Optional[int]:
        return int(value) if isinstance(value, int) else None

    facts = TokenizerFacts(
        n_tokens=n,
        base_vocab_size=base,
        model_type=model_type,
        vocab_kind=vocab_kind,
        tokenizer_class=type(tok).__name__,
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
        normalizer=_kind(norm),
        pre_tokenizer=_kind(pre),
        decoder=_kind(dec),
        fingerprint=fp.hexdigest(),
        component_hashes={name: _short_hash(part) for name, part in (
            ("model", {"model": model_type, **descriptor}), ("normalizer", norm), ("pre_tokenizer", pre),
            ("decoder", dec))},
        merges_hash=merges_hash,
        head_tokens=head,
        block_hashes=[d[:HASH_CHARS] for d in block_digests],
        source_format="gguf" if gguf_meta is not None else "hf",
        gguf_n_vocab=(gguf_meta or {}).get("n_vocab"),
    )
    return _remember(_FACTS_CACHE, tok, facts)
