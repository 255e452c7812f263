"""Loading tokenizers from a model's own files: an HF folder, or a GGUF file.

``load_tokenizer(record)`` loads a transformers tokenizer and caches it per file content (folders) or path
(GGUF) for the process; ``read_gguf_vocab_meta`` reads llama.cpp's view of a GGUF vocabulary from the file's
metadata. What a loaded tokenizer *is* — its facts, fingerprint and the offline catalog's form — is
:mod:`draftfinder.compat.facts`.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import warnings
from pathlib import Path
from typing import Any, Dict, Iterator, Optional, Tuple

from draftfinder.errors import MissingDependencyError, TokenizerLoadError
from draftfinder.models.sources.base import ModelRecord

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

    Keys: ``ggml_model`` (``tokenizer.ggml.model``), ``vocab_type`` (SPM/BPE/…), ``pre`` (``tokenizer.ggml.pre``),
    ``n_vocab``, ``bos_id``, ``eos_id``, ``add_bos``/``add_eos`` (None when the file does not say) and
    ``llama_add_bos``/``llama_add_eos``: what llama.cpp does, the file's keys else its defaults
    (:func:`draftfinder.compat.llama_vocab.add_special`).
    """
    from transformers.integrations.gguf import read_gguf_metadata

    from draftfinder.compat.llama_vocab import add_special

    meta, _ = read_gguf_metadata(str(path))
    tokens = meta.get("tokenizer.ggml.tokens")
    model = meta.get("tokenizer.ggml.model")
    vocab_type = GGML_VOCAB_TYPES.get(str(model), str(model).upper() if model else None)
    pre = meta.get("tokenizer.ggml.pre")
    add_bos, add_eos = meta.get("tokenizer.ggml.add_bos_token"), meta.get("tokenizer.ggml.add_eos_token")
    llama_add_bos, llama_add_eos = add_special(vocab_type, pre, add_bos, add_eos)
    return {
        "ggml_model": model,
        "vocab_type": vocab_type,
        "pre": pre,
        "n_vocab": tokens if isinstance(tokens, int) else (len(tokens) if tokens is not None else None),
        "bos_id": meta.get("tokenizer.ggml.bos_token_id"),
        "eos_id": meta.get("tokenizer.ggml.eos_token_id"),
        "add_bos": add_bos,
        "add_eos": add_eos,
        "llama_add_bos": llama_add_bos,
        "llama_add_eos": llama_add_eos,
    }


# files transformers' from_pretrained(folder, gguf_file=…) also reads from the GGUF's folder and lets override the
# GGUF's own tokenizer metadata (special tokens, BOS/EOS, add_bos); llama.cpp reads only the GGUF
SIDE_FILES = ("tokenizer_config.json", "special_tokens_map.json", "tokenizer.json", "added_tokens.json",
              "tokenizer.model", "config.json", "generation_config.json", "chat_template.jinja")


@contextlib.contextmanager
def _gguf_alone(path: Path) -> Iterator[Path]:
    """The folder to load ``path`` from, holding nothing but it: its own folder when that has no side file
    (:data:`SIDE_FILES`), else a temporary folder with a symlink to it (removed on exit). Guards a GGUF beside a
    Hugging Face folder's tokenizer files (``draftfinder train --gguf`` writes ``DIR/draft.gguf`` next to them):
    transformers mixed them in — a Gemma draft's facts came out with BOS ``None`` against the file's 2."""
    if not any((path.parent / name).exists() for name in SIDE_FILES):
        yield path.parent
        return
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="draftfinder-gguf-"))
    try:
        (folder / path.name).symlink_to(path.resolve())
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


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
    with quiet_transformers(), _gguf_alone(path) as folder:
        for load in (
            lambda: backend_cls.from_pretrained(str(folder), gguf_file=path.name, local_files_only=True),
            lambda: transformers.AutoTokenizer.from_pretrained(str(folder), gguf_file=path.name,
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
