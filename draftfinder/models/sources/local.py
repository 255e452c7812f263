"""Models on this machine: a folder, a ``.gguf`` file, a ``--models-dir`` tree, or the Hugging Face cache.

* ``LocalSource`` (``local`` / ``gguf``): a folder with ``config.json`` (+ tokenizer files, optional
  ``*.safetensors`` whose headers give exact parameter counts and weight bytes), or a single ``.gguf`` file
  whose header gives a synthesized config and exact sizes.
* :func:`scan_models_dir`: every such model under a folder (bounded depth), with the entries it could not
  read listed separately instead of failing the whole scan.
* ``HFCacheSource`` (``hf-cache``): models already downloaded into the HF cache (``HF_HUB_CACHE``), each
  read from its newest snapshot.

Nothing here loads weights or touches the network.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

from draftfinder.errors import DraftFinderError, ModelFileError, ModelNotFoundError
from draftfinder.models.sources.base import CandidateRef, ModelRecord

MAX_SCAN_DEPTH = 4                 # levels below --models-dir that are searched
_SKIP_DIRS = {"__pycache__", "node_modules", "blobs", ".git"}


# --- one model ---------------------------------------------------------------------------------------

def read_config(path: Path) -> Dict[str, Any]:
    """Parse a ``config.json``; raises ``ModelFileError`` naming the file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ModelFileError(path, err.strerror or str(err)) from err
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ModelFileError(path, f"invalid JSON ({err})", hint="re-download config.json") from err
    if not isinstance(data, dict) or not data:
        raise ModelFileError(path, "config.json is empty or not a JSON object", hint="re-download config.json")
    return data


def _quant_args(config: Dict[str, Any]) -> Dict[str, Any]:
    """How to count packed weights of a quantized checkpoint (see safetensors_meta.classify)."""
    qc = config.get("quantization_config") or {}
    if not isinstance(qc, dict):
        return {}
    method = str(qc.get("quant_method") or "").lower()
    if method in ("gptq", "awq"):
        return {"quant_bits": int(qc.get("bits") or qc.get("w_bit") or 4)}
    if qc.get("load_in_4bit") or (method == "bitsandbytes" and not qc.get("load_in_8bit")):
        return {"bnb_4bit": True}
    return {}


def record_from_folder(folder: Union[str, Path], *, source: str = "local",
                       model_id: Optional[str] = None) -> ModelRecord:
    """A record for an HF-layout folder (``config.json`` + tokenizer files [+ safetensors]).

    A folder without config.json is accepted when it holds one ``.gguf`` file (read as that file) or a PEFT
    adapter (``adapter_config.json``); otherwise ``ModelFileError``.
    """
    from draftfinder.models.safetensors_meta import count_parameters

    folder = Path(folder)
    name = model_id or str(folder)
    try:
        files = sorted(p.name for p in folder.iterdir())
    except OSError as err:
        raise ModelFileError(folder, err.strerror or str(err)) from err
    adapter = read_config(folder / "adapter_config.json") if "adapter_config.json" in files else None
    if "config.json" not in files:
        ggufs = [f for f in files if f.endswith(".gguf")]
        if len(ggufs) == 1:
            return record_from_gguf(folder / ggufs[0], source=source if source != "local" else "gguf",
                                    model_id=model_id)
        if len(ggufs) > 1:
            raise ModelFileError(folder, f"holds {len(ggufs)} .gguf files and no config.json",
                                 hint=f"pass one file, e.g. {folder / ggufs[0]}")
        if adapter is None:
            raise ModelFileError(folder / "config.json", "no such file",
                                 hint="a model folder needs config.json (and tokenizer files), or pass a .gguf file")
        weights = folder / "adapter_model.safetensors"
        count = count_parameters(weights) if weights.is_file() else None
        return ModelRecord(model_id=name, source=source, files=files, local_dir=folder, adapter_config=adapter,
                           tags=["peft"], safetensors_parameters=dict(count.by_dtype) if count else None,
                           safetensors_source="safetensors-header" if count else None,
                           weights_bytes=count.weight_bytes if count else None)
    config = read_config(folder / "config.json")
    count = count_parameters(folder, **_quant_args(config))
    return ModelRecord(
        model_id=name,
        source=source,
        config=config,
        files=files,
        local_dir=folder,
        safetensors_parameters=dict(count.by_dtype) if count else None,
        safetensors_source="safetensors-header" if count else None,
        weights_bytes=count.weight_bytes if count else None,
        adapter_config=adapter,
        tags=["peft"] if adapter is not None else [],
    )


def record_from_gguf(path: Union[str, Path], *, source: str = "gguf", model_id: Optional[str] = None,
                     tags: Optional[List[str]] = None) -> ModelRecord:
    """A record for one ``.gguf`` file: config synthesized from its header, exact weight bytes."""
    from draftfinder.models.gguf_meta import config_from_gguf, read_gguf_meta

    path = Path(path)
    meta = read_gguf_meta(path)
    return ModelRecord(
        model_id=model_id or str(path),
        source=source,
        config=config_from_gguf(meta),
        files=[path.name],
        local_dir=path.parent,
        gguf_path=path,
        weights_bytes=meta.tensor_bytes,
        author=meta.organization,
        tags=list(tags or []) + ["gguf"],
    )


class LocalSource:
    """Resolves a folder path or a ``.gguf`` file path. Proposes no candidates itself (see scan_models_dir)."""

    name = "local"

    def resolve(self, model_id: str) -> ModelRecord:
        path = Path(model_id).expanduser()
        if not path.exists():
            raise ModelNotFoundError(model_id, where="the local disk", hint="check the path")
        if path.is_file():
            if path.suffix.lower() != ".gguf":
                raise ModelFileError(path, "not a .gguf file or a model folder",
                                     hint="pass a folder with config.json, or a .gguf file")
            return record_from_gguf(path, model_id=model_id)
        return record_from_folder(path, model_id=model_id)

    def search(self, family: str, *, target: ModelRecord, limit: int) -> List[CandidateRef]:
        return []


# --- a tree of models ----------------------------------------------------------------------------------

def _is_later_split(name: str) -> bool:
    """``model-00002-of-00003.gguf``: a later shard of a split GGUF (only the first is listed)."""
    stem = name[:-5]
    parts = stem.rsplit("-", 3)
    return len(parts) == 4 and parts[2] == "of" and parts[1].isdigit() and int(parts[1]) > 1


def scan_models_dir(path: Union[str, Path], *, max_depth: int = MAX_SCAN_DEPTH
                    ) -> Tuple[List[ModelRecord], List[str]]:
    """Every model under ``path``: HF folders (with config.json) and ``.gguf`` files, at most ``max_depth``
    levels deep. Returns (records, problems); each problem is ``"<path>: <why>"`` for an entry that looked
    like a model but could not be read. A missing or unreadable ``path`` is itself a problem."""
    root = Path(path).expanduser()
    records: List[ModelRecord] = []
    problems: List[str] = []
    if not root.is_dir():
        if root.is_file() and root.suffix.lower() == ".gguf":
            try:
                return [record_from_gguf(root)], []
            except DraftFinderError as err:
                return [], [f"{root}: {err.message}"]
        return [], [f"{root}: not a folder"]

    def on_error(err: OSError) -> None:
        problems.append(f"{err.filename}: {err.strerror or err}")

    base_depth = len(root.parts)
    for dirpath, dirnames, filenames in os.walk(root, onerror=on_error):
        here = Path(dirpath)
        depth = len(here.parts) - base_depth
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in _SKIP_DIRS)
        if depth >= max_depth:
            dirnames[:] = []
        if "config.json" in filenames or "adapter_config.json" in filenames:
            dirnames[:] = []                          # a model folder: its subfolders are its own
            try:
                records.append(record_from_folder(here))
            except DraftFinderError as err:
                problems.append(f"{here}: {err.message}")
            continue
        for name in sorted(filenames):
            if not name.lower().endswith(".gguf") or _is_later_split(name):
                continue
            try:
                records.append(record_from_gguf(here / name))
            except DraftFinderError as err:
                problems.append(f"{here / name}: {err.message}")
    return records, problems


# --- the Hugging Face cache ------------------------------------------------------------------------------

def hf_hub_cache() -> Path:
    """The HF cache folder, read now (not at import): HF_HUB_CACHE, HUGGINGFACE_HUB_CACHE, HF_HOME/hub,
    XDG_CACHE_HOME/huggingface/hub, ~/.cache/huggingface/hub — huggingface_hub's own order."""
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(var):
            return Path(os.path.expandvars(os.environ[var])).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.path.expandvars(os.environ["HF_HOME"])).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "huggingface" / "hub"


class HFCacheSource:
    """Models in the local HF cache, each read from its newest snapshot (the one ``refs/main`` names, else the
    most recently modified)."""

    name = "hf-cache"

    def __init__(self, cache_dir: Optional[Union[str, Path]] = None):
        self.cache_dir = Path(cache_dir) if cache_dir else hf_hub_cache()
        self._snapshots: Optional[Dict[str, Tuple[str, Path, str]]] = None
        self.warnings: List[str] = []

    def snapshots(self) -> Dict[str, Tuple[str, Path, str]]:
        """lower-case repo id -> (repo id, snapshot folder, commit hash), scanned once."""
        if self._snapshots is None:
            from huggingface_hub import scan_cache_dir
            from huggingface_hub.errors import CacheNotFound

            found: Dict[str, Tuple[str, Path, str]] = {}
            try:
                info = scan_cache_dir(self.cache_dir)
            except CacheNotFound:
                info = None
            if info is not None:
                self.warnings = [str(w) for w in info.warnings]
                for repo in info.repos:
                    if repo.repo_type != "model" or not repo.revisions:
                        continue
                    revs = sorted(repo.revisions, key=lambda r: ("main" in r.refs, r.last_modified), reverse=True)
                    newest = revs[0]
                    found[repo.repo_id.lower()] = (repo.repo_id, Path(newest.snapshot_path), newest.commit_hash)
            self._snapshots = found
        return self._snapshots

    def models(self) -> List[str]:
        return sorted(repo_id for repo_id, _, _ in self.snapshots().values())

    def has(self, model_id: str) -> bool:
        return model_id.strip().lower() in self.snapshots()

    def resolve(self, model_id: str) -> ModelRecord:
        hit = self.snapshots().get(model_id.strip().lower())
        if hit is None:
            raise ModelNotFoundError(model_id, where=f"the local HF cache ({self.cache_dir})")
        repo_id, snapshot, commit = hit
        record = record_from_folder(snapshot, source="hf-cache", model_id=repo_id)
        record.source = "hf-cache"
        record.model_id = repo_id
        record.revision = commit
        record.author = record.author or (repo_id.split("/", 1)[0] if "/" in repo_id else None)
        return record

    def search(self, family: str, *, target: ModelRecord, limit: int) -> List[CandidateRef]:
        """Cached models of ``family`` (read from config.json or GGUF header), target excluded."""
        from draftfinder.models.family import detect_family

        out: List[CandidateRef] = []
        for key, (repo_id, snapshot, _) in sorted(self.snapshots().items()):
            if key == target.model_id.lower():
                continue
            found = self._family_of(repo_id, snapshot, detect_family)
            if found == family:
                out.append(CandidateRef(model_id=repo_id, source="hf-cache", reason="in the HF cache: same family",
                                        author=repo_id.split("/", 1)[0] if "/" in repo_id else None))
            if len(out) >= limit:
                break
        return out

    @staticmethod
    def _family_of(repo_id: str, snapshot: Path, detect_family) -> Optional[str]:
        try:
            config_path = snapshot / "config.json"
            if config_path.is_file():
                return detect_family(read_config(config_path), repo_id)
            ggufs = sorted(snapshot.glob("*.gguf"))
            if ggufs:
                from draftfinder.models.gguf_meta import read_gguf_meta

                meta = read_gguf_meta(ggufs[0])
                return detect_family(None, repo_id, gguf_arch=meta.architecture,
                                     names=tuple(n for n in (meta.basename, meta.name) if n))
        except DraftFinderError:
            return None
        return detect_family(None, repo_id)
