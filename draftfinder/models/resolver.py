"""Turn a model name into a :class:`ModelRecord`, trying each source in a fixed order.

Order (first match wins):
  1. ``zoo:NAME``                         → the PyPI-packaged GGUF models (sources/zoo.py)
  2. an existing path (folder or .gguf)   → local files (sources/local.py)
  3. a model found under ``--models-dir`` → local files, matched by folder/file name or Hub-style id
  4. the Hub (unless offline)             → live metadata (sources/hub.py); live data wins
  5. the HF cache                         → models downloaded before (sources/local.py)
  6. the embedded catalog                 → offline facts (sources/catalog.py)

A name that resolves to nothing raises with "did you mean …?" in its hint when a name this install can
resolve offline is close to it (``Qwen/Qwen2.5-7B-Instrcut`` → ``Qwen/Qwen2.5-7B-Instruct``;
models/suggest.py); the error's ``suggestions`` lists them.

When the Hub cannot be reached (no network, DNS failure, timeout) the resolver remembers it, stops asking,
and records a note saying which source answered instead, so the CLI can tell the user that results come
from the offline catalog or the cache.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from draftfinder import constants
from draftfinder.errors import (
    DraftFinderError,
    HubTimeoutError,
    ModelFileError,
    ModelNotFoundError,
    NetworkError,
    OfflineUnavailableError,
)
from draftfinder.models.sources.base import ModelRecord


@dataclass
class Resolver:
    """Resolves names with memory: hub reachability, local index, and records already resolved."""

    token: Optional[str] = None
    offline: Optional[bool] = None
    models_dirs: Sequence[str] = ()
    timeout: Optional[float] = None
    notes: List[str] = field(default_factory=list)
    scan_problems: List[str] = field(default_factory=list)
    hub_down: Optional[DraftFinderError] = None

    def __post_init__(self):
        if self.offline is None:
            self.offline = constants.hub_offline()
        check_models_dirs(self.models_dirs)
        self._cache: Dict[str, ModelRecord] = {}
        self._local_index: Optional[Dict[str, ModelRecord]] = None
        self._hub = None
        self._hf_cache = None
        self._catalog = None
        self._zoo = None

    # --- sources, created on first use ----------------------------------------------------------------
    @property
    def hub(self):
        if self._hub is None:
            from draftfinder.models.sources.hub import HubSource

            self._hub = HubSource(token=self.token, offline=self.offline, timeout=self.timeout)
        return self._hub

    @property
    def hf_cache(self):
        if self._hf_cache is None:
            from draftfinder.models.sources.local import HFCacheSource

            self._hf_cache = HFCacheSource()
        return self._hf_cache

    @property
    def catalog(self):
        if self._catalog is None:
            from draftfinder.models.sources.catalog import CatalogSource

            self._catalog = CatalogSource()
        return self._catalog

    @property
    def zoo(self):
        if self._zoo is None:
            from draftfinder.models.sources.zoo import ZooSource

            self._zoo = ZooSource()
        return self._zoo

    @property
    def hub_usable(self) -> bool:
        return not self.offline and self.hub_down is None

    def local_records(self) -> List[ModelRecord]:
        """Every model found under ``models_dirs`` (scanned once)."""
        unique: Dict[int, ModelRecord] = {}
        for record in self._index().values():
            unique.setdefault(id(record), record)
        return list(unique.values())

    def _index(self) -> Dict[str, ModelRecord]:
        if self._local_index is None:
            from draftfinder.models.sources.local import scan_models_dir

            index: Dict[str, ModelRecord] = {}
            for folder in self.models_dirs:
                records, problems = scan_models_dir(folder)
                self.scan_problems.extend(problems)
                for rec in records:
                    for key in _local_keys(rec):
                        index.setdefault(key, rec)
            self._local_index = index
        return self._local_index

    # --- resolution -----------------------------------------------------------------------------------
    def resolve(self, name: str) -> ModelRecord:
        key = name.strip()
        if key in self._cache:
            return self._cache[key]
        try:
            record = self._resolve(key)
        except (ModelNotFoundError, OfflineUnavailableError, NetworkError, HubTimeoutError) as err:
            self._suggest(err, key)
            raise
        self._cache[key] = record
        return record

    def suggestions(self, name: str) -> List[str]:
        """Names close to ``name`` that resolve here without the Hub (models/suggest.py)."""
        from draftfinder.models.suggest import close_names, known_names

        return close_names(name, known_names(self))

    def _suggest(self, err: DraftFinderError, name: str) -> None:
        """Add "did you mean …?" to a not-found error of a Hub-style name (never of a path)."""
        if getattr(err, "suggestions", None) is not None or _looks_like_path(name):
            return
        from draftfinder.models.suggest import suggestion_hint

        err.suggestions = self.suggestions(name)
        if err.suggestions:
            err.prepend_hint(suggestion_hint(err.suggestions))

    def _resolve(self, name: str) -> ModelRecord:
        if name.startswith("zoo:"):
            return self.zoo.resolve(name)
        local = self._index().get(name.lower())
        if local is not None:
            return local
        path = Path(name).expanduser()
        if path.is_dir() and not _looks_like_model_folder(path):
            # An existing folder the user named is never silently re-read as a Hub id ("bad/empty").
            raise ModelFileError(path, "a folder without config.json, tokenizer files or a .gguf file",
                                 hint="point at the folder that holds the model's config.json, or at its .gguf file")
        if (name.startswith((".", "/", "~")) or path.suffix == ".gguf" or "\\" in name) or (
            path.exists() and (path.is_file() or path.is_dir())
        ):
            if not path.exists():
                raise ModelNotFoundError(name, where="the local disk", hint="check the path")
            from draftfinder.models.sources.local import LocalSource

            return LocalSource().resolve(str(path))
        if self.hub_usable:
            try:
                return self.hub.resolve(name)
            except (NetworkError, HubTimeoutError) as err:
                self.hub_down = err
                self.notes.append(f"Hub unreachable ({err.message}); using the HF cache and the offline catalog")
        try:
            return self.hf_cache.resolve(name)
        except ModelNotFoundError:
            pass
        except ModelFileError as err:   # an incomplete snapshot (e.g. only the weight index was downloaded)
            self._note_once(f"skipped the HF cache copy of {name}: {err.message}")
        if self.catalog.has(name):
            if self.offline:
                self._note_once("offline mode: facts come from the built-in catalog")
            else:
                self._note_once("used the built-in offline catalog (Hub not reachable)")
            return self.catalog.resolve(name)
        if self.hub_down is not None:
            raise self.hub_down
        raise OfflineUnavailableError(name)

    def _note_once(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


def _looks_like_path(name: str) -> bool:
    return name.startswith((".", "/", "~")) or name.lower().endswith(".gguf") or "\\" in name


_MODEL_FILES = ("config.json", "adapter_config.json", "tokenizer.json", "tokenizer_config.json", "vocab.json",
                "tokenizer.model")


def _looks_like_model_folder(path: Path) -> bool:
    """A folder holding model files: config, adapter, tokenizer files or a .gguf file."""
    try:
        return any((path / n).exists() for n in _MODEL_FILES) or any(path.glob("*.gguf"))
    except OSError:
        return True                  # unreadable: let the local source report the OS error


def check_models_dirs(folders: Sequence[str]) -> None:
    """Every models folder must exist (a folder, or a single .gguf file): a typo is an error (exit 2), never an
    empty search that silently ignores the user's models."""
    from draftfinder.errors import OFFLINE_FLAG_COMMANDS, UsageError, per_command

    for folder in folders or ():
        path = Path(folder).expanduser()
        if path.is_dir() or (path.is_file() and path.suffix.lower() == ".gguf"):
            continue
        problem = "does not exist" if not path.exists() else "is not a folder or a .gguf file"
        hints = per_command(OFFLINE_FLAG_COMMANDS, "check the path given with --models-dir")
        hints["find"] = "check the path given with --models-dir (or models_dirs in --config)"
        raise UsageError(f"models folder '{folder}' {problem}", hint="check the models folder path", hints=hints)


def _local_keys(record: ModelRecord) -> List[str]:
    """Names under which a local model can be addressed: its id, folder/file name, and Hub-style id."""
    keys = {record.model_id.lower()}
    for path in (record.gguf_path, record.local_dir if record.gguf_path is None else None):
        if path is not None:
            p = Path(path)
            keys.add(str(p).lower())
            keys.add(p.name.lower())
            keys.add(p.stem.lower())
            keys.add(p.name.replace("__", "/").lower())
    name_or_path = str(record.config.get("_name_or_path", "")).strip()
    if name_or_path and not name_or_path.startswith(("/", ".")):
        keys.add(name_or_path.lower())
    return sorted(keys)


def resolve(model_id: str, token: Optional[str] = None, **kwargs) -> ModelRecord:
    """Resolve one name with a fresh :class:`Resolver` (the manual's ``ModelAnalyzer.analyze_model`` path)."""
    return Resolver(token=token, **kwargs).resolve(model_id)
