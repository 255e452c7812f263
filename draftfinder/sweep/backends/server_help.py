"""Find the ``vllm`` / SGLang launcher and learn, from its own ``--help``, which options this version takes.

Both servers use Python's ``argparse``, whose help lists every option as ``  --name VALUE, -n VALUE`` (choices as
``{A,B,C}``). :func:`parse_help` reads those rows; nothing about a version is assumed. Probes are cached per
program (path, mtime, size): a sweep probes once.

- vLLM: ``settings.server_bin`` (the ``vllm`` executable), else ``vllm`` on PATH. ``vllm serve --help=all``
  (vLLM ≥ 0.10 groups its help and lists every option only with ``=all``; older builds refuse ``=all``, then
  plain ``--help`` is read) and ``vllm --version``.
- SGLang: ``settings.server_bin`` (a Python that has sglang → ``python -m sglang.launch_server``; an
  executable named ``sglang`` → ``sglang serve``), else this Python if ``-m sglang.launch_server --help`` runs,
  else ``sglang`` on PATH.

A missing program is a :class:`~draftfinder.errors.MissingDependencyError` (install hint); a
``server_bin`` that does not exist or whose ``--help`` fails is a :class:`~draftfinder.errors.UsageError`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from draftfinder.errors import MissingDependencyError, UsageError

PROBE_TIMEOUT_S = 120.0        # `vllm serve --help` imports torch: slow on a cold, busy machine
_VALUE = r"(?:\{[^}]*\}|[^\s,]+)"
_OPTION_ROW = re.compile(r"^\s{0,8}(-{1,2}[A-Za-z][\w.-]*(?:[ =]" + _VALUE + r")?(?:,\s*-{1,2}[A-Za-z][\w.-]*(?:[ =]"
                         + _VALUE + r")?)*)")
_OPTION = re.compile(r"(-{1,2}[A-Za-z][\w.-]*)(?:[ =](" + _VALUE + r"))?")


@dataclass
class ServerHelp:
    """A located server launcher and the options its ``--help`` lists."""

    program: List[str]                   # the argv before the options: [vllm, serve] / [python, -m, sglang.launch_server]
    source: str                          # settings.server_bin | PATH | this Python
    version: str = ""
    options: Dict[str, List[str]] = field(default_factory=dict)   # option → its choices ([] when free-form)

    def first(self, *names: str) -> Optional[str]:
        """The first of ``names`` this version lists (None: none of them)."""
        return next((n for n in names if n in self.options), None)

    def has(self, *names: str) -> bool:
        return self.first(*names) is not None

    def choices(self, name: str) -> List[str]:
        return self.options.get(name, [])

    def to_dict(self) -> Dict[str, object]:
        return {"program": self.program, "source": self.source, "version": self.version,
                "n_options": len(self.options)}


def parse_help(text: str) -> Dict[str, List[str]]:
    """``{option: choices}`` from argparse help text (every spelling of a row; choices from ``{A,B}``)."""
    out: Dict[str, List[str]] = {}
    for line in text.splitlines():
        m = _OPTION_ROW.match(line)
        if not m:
            continue
        for name, value in _OPTION.findall(m.group(1)):
            choices = [c.strip() for c in value[1:-1].split(",") if c.strip()] if value.startswith("{") else []
            out.setdefault(name, choices)
    return out


_CACHE: Dict[Tuple[str, ...], ServerHelp] = {}


def _stamp(path: str) -> Tuple[str, ...]:
    try:
        st = os.stat(path)
        return (path, str(st.st_mtime_ns), str(st.st_size))
    except OSError:
        return (path,)


def _run(argv: List[str]) -> Tuple[int, str]:
    try:
        out = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=PROBE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return -1, f"timed out after {PROBE_TIMEOUT_S:.0f} s"
    except OSError as exc:
        return -1, str(exc)
    return out.returncode, (out.stdout + out.stderr).decode("utf-8", errors="replace")


def _last(text: str) -> str:
    rows = [r.strip() for r in text.splitlines() if r.strip()]
    return rows[-1][:200] if rows else "(no output)"


def _explicit(server_bin: str, what: str) -> str:
    path = shutil.which(server_bin) or (server_bin if Path(server_bin).expanduser().is_file() else None)
    if path is None:
        raise UsageError(f"settings.server_bin '{server_bin}' does not exist", hint=f"give the path of {what}")
    return str(Path(path).expanduser())


def find_vllm(server_bin: Optional[str]) -> ServerHelp:
    """The ``vllm`` executable and its ``serve`` options (module doc)."""
    if server_bin:
        path, source = _explicit(server_bin, "the vllm executable"), "settings.server_bin"
    else:
        path, source = shutil.which("vllm"), "PATH"
        if path is None:
            raise MissingDependencyError("vllm", "the vllm sweep backend (no `vllm` on PATH; or set "
                                         "settings.server_bin to its path)", pip_name="vllm")
    key = _stamp(path)
    if key in _CACHE:
        return _CACHE[key]
    code, text = _run([path, "serve", "--help=all"])
    if code != 0 or len(parse_help(text)) < 5:
        code, text = _run([path, "serve", "--help"])
    options = parse_help(text) if code == 0 else {}
    if "--port" not in options:
        raise UsageError(f"`{path} serve --help` did not list vLLM's options: {_last(text)}",
                         hint="check the vLLM install (`vllm serve --help` must work) or settings.server_bin")
    _, version = _run([path, "--version"])
    help_ = ServerHelp([path, "serve"], source, _last(version), options)
    _CACHE[key] = help_
    return help_


def find_sglang(server_bin: Optional[str]) -> ServerHelp:
    """The SGLang launcher and its options (module doc)."""
    candidates: List[Tuple[List[str], str]] = []
    if server_bin:
        path = _explicit(server_bin, "a Python that has sglang installed, or the sglang executable")
        launcher = [path, "serve"] if Path(path).name.startswith("sglang") else [path, "-m", "sglang.launch_server"]
        candidates.append((launcher, "settings.server_bin"))
    else:
        candidates.append(([sys.executable, "-m", "sglang.launch_server"], "this Python"))
        on_path = shutil.which("sglang")
        if on_path:
            candidates.append(([on_path, "serve"], "PATH"))
    last = ""
    for launcher, source in candidates:
        key = _stamp(launcher[0]) + tuple(launcher[1:]) + (os.environ.get("PYTHONPATH", ""),)
        if key in _CACHE:
            return _CACHE[key]
        code, text = _run(launcher + ["--help"])
        options = parse_help(text) if code == 0 else {}
        if "--model-path" in options:
            version = ""
            if "-m" in launcher:
                _, version = _run([launcher[0], "-c", "import sglang; print(getattr(sglang, '__version__', ''))"])
            help_ = ServerHelp(launcher, source, _last(version) if version.strip() else "", options)
            _CACHE[key] = help_
            return help_
        last = _last(text)
        if server_bin:
            raise UsageError(f"`{' '.join(launcher)} --help` did not list SGLang's options: {last}",
                             hint="set settings.server_bin to a Python that has sglang (pip install sglang)")
    raise MissingDependencyError("sglang", f"the sglang sweep backend ({last}; or set settings.server_bin to the "
                                 "Python that has it)", pip_name="sglang")
