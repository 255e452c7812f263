"""``llamacpp`` backend: a ``llama-server`` started per cell, one stream, timed by the server itself.

The binary is found and its flags learned by :mod:`..llama_bin` (the spellings change between llama.cpp
builds). Each cell starts its own server on 127.0.0.1 (its command line: :mod:`.llama_command`) and stops it in
:meth:`LlamaServerSession.close`.

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
temp dir; errors quote its last lines; the dir is removed on close unless the session failed. A server
killed by a signal is named with what that usually means (:mod:`.exit_status`: SIGILL → rebuild portable).
"""

from __future__ import annotations

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
import weakref
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from draftfinder.errors import EndpointError, UsageError
from draftfinder.measure.prompts import Prompt
from draftfinder.sweep.config import Entry, Settings
from draftfinder.sweep.llama_bin import find_llama_server
from draftfinder.sweep.backends.sse import sse_events
from draftfinder.sweep.backends.base import Generation, close_at_exit
from draftfinder.sweep.backends.exit_status import exit_description, signal_meaning
from draftfinder.sweep.backends.llama_command import (AUTO, HOST, build_command, gguf_path, start_on_a_port,
                                                      spec_type_for, tail)

HEALTH_POLL_S = 0.2            # between /health polls while the server loads
STOP_WAIT_S = 10.0             # after SIGTERM, before SIGKILL
DEATH_WAIT_S = 2.0             # after a dropped connection: time for the kernel to report the server's exit
NOT_DRAFTING_NAIVE = ("llama-server loaded the draft but reported no draft_n: it did not draft "
                      "(add --spec-type draft-simple)")
NOT_DRAFTING = "llama-server loaded the draft but reported no draft_n: it did not draft"
NO_NGRAM_MATCH = ("llama-server reported no draft_n: ngram-simple found no earlier match of the last n-1 tokens "
                  "to draft from")


# ---------------------------------------------------------------------------------------------------
# live servers: stopped on close, at exit, and (Linux) with their parent
# ---------------------------------------------------------------------------------------------------

_LIVE: "set[LlamaServerSession]" = set()       # strong refs: a dropped, unclosed session is still stopped at exit
close_at_exit(_LIVE)


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
        self._sockets: "weakref.WeakSet[socket.socket]" = weakref.WeakSet()   # requests in flight (any thread)

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
        for sock in list(self._sockets):       # streams still read by other threads (a concurrency level): end them,
            try:                               # or llama-server waits for its clients before it exits on SIGTERM
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
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
        if conn.sock is not None:
            self._sockets.add(conn.sock)
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

    def request(self, route: str, body: Dict[str, Any]) -> Dict[str, Any]:
        """POST ``body`` to ``route``; the JSON answer (an HTTP error, a timeout or a dropped connection is an
        ``EndpointError`` naming the server's state, as for streamed requests)."""
        try:
            resp = self._post(route, body)
            self._check(resp, route)
            return json.loads(resp.read() or b"{}")
        except (OSError, http.client.HTTPException) as exc:
            raise self._request_failed(exc, f"raise the timeout (now {self.timeout_s:g} s) if it was only slow") \
                from None

    def next_token_candidates(self, prompt: Prompt, prefix_ids: List[int], n: int = 5) -> Dict[str, Any]:
        """The target's ``n`` likeliest next tokens after ``prompt`` + ``prefix_ids``, the prefix evaluated in one
        batch with the prompt (a third arithmetic path, beside one-token decoding and batched verification):
        ``{"prompt_tokens": int, "top": [{"id", "text", "logprob"}, …]}`` (:mod:`draftfinder.sweep.divergence`)."""
        ids = self.request("/tokenize", {"content": self.prompt_text(prompt), "add_special": True})["tokens"]
        out = self.request("/completion", {"prompt": list(ids) + list(prefix_ids), "n_predict": 1, "n_probs": n,
                                           "temperature": 0.0, "top_k": 0, "top_p": 1.0, "min_p": 0.0,
                                           "cache_prompt": False, "post_sampling_probs": False})
        probs = (out.get("completion_probabilities") or [{}])[0]
        return {"prompt_tokens": len(ids),
                "top": [{"id": int(t["id"]), "text": str(t.get("token", "")), "logprob": float(t["logprob"])}
                        for t in probs.get("top_logprobs") or []]}

    def complete(self, body: Dict[str, Any]) -> Dict[str, Any]:
        """``POST /completion`` with ``body`` streamed (as the sweep's requests are: the server then sends each
        token as it goes, which is part of what a step costs), and the final chunk (``timings``, counters)."""
        if self.proc is None:
            raise EndpointError("this llama-server is stopped", hint="start it again")
        body = {**body, "stream": True}
        deadline = time.perf_counter() + self.timeout_s
        try:
            resp = self._post("/completion", body)
            self._check(resp, "/completion")
            for chunk in _stream(resp, deadline):
                if chunk.get("stop"):
                    return chunk
        except (OSError, http.client.HTTPException) as exc:
            raise self._request_failed(exc, "raise the timeout if it was only slow") from None
        raise self._stream_ended()

    def _request_failed(self, exc: BaseException, slow_hint: str) -> EndpointError:
        """The error for a request that failed: names the server's exit (if it died) and its log's tail."""
        self.failed = True
        code = self._death(0.0 if isinstance(exc, socket.timeout) else DEATH_WAIT_S)
        what = "failed" if code is None else exit_description(code)
        return EndpointError(f"llama-server {what} during a request ({type(exc).__name__}: {exc}): "
                             f"{tail(self.log_path)}", hint=_fix(code, slow_hint, self.log_path))

    def _stream_ended(self) -> EndpointError:
        """The error for a stream that ended without its final chunk."""
        self.failed = True
        code = self._death()
        what = "ended the stream without a final chunk" if code is None else f"{exit_description(code)} mid-stream"
        return EndpointError(f"llama-server {what}: {tail(self.log_path)}",
                             hint=_fix(code, "check the server log", self.log_path))

    def token_text(self, ids: List[int]) -> str:
        """The text of token ids (``/detokenize``)."""
        return str(self.request("/detokenize", {"tokens": [int(i) for i in ids]}).get("content", ""))

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
            raise self._request_failed(exc, "raise settings.timeout_s if it was only slow") from None
        if not final:
            raise self._stream_ended()
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


def start_server(argv_for: Callable[[int], List[str]], *, timeout_s: float, preferred_port: Optional[int] = None,
                 draft: Optional[Entry] = None, spec_type: Optional[str] = None) -> LlamaServerSession:
    """Start a ``llama-server`` whose command line for a port is ``argv_for(port)`` and wait until it is ready.

    The one start loop of every server we run (sweep cells, ``draftfinder calibrate``): ``preferred_port`` if it
    is free, else a free one; a port taken between the check and the server's bind is retried on another
    (``PORT_RETRIES``); a server that fails — or a Ctrl-C while it loads — is stopped before the error propagates,
    so no server outlives this call unless it is returned."""
    return start_on_a_port(lambda port: LlamaServerSession(argv_for(port), port, draft=draft, spec_type=spec_type,
                                                           timeout_s=timeout_s),
                           lambda session: session.close(), preferred_port)


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

        def argv_for(port: int) -> List[str]:
            return build_command(self.binary, target_gguf, settings, port, draft=draft, draft_gguf=draft_gguf, k=k,
                                 spec_type=spec_type, draft_p_min=self.options.get("draft_p_min", 0.0),
                                 threads=threads, parallel=max(settings.concurrency or [1]))

        return start_server(argv_for, timeout_s=settings.timeout_s, preferred_port=settings.port, draft=draft,
                            spec_type=spec_type)

    def describe(self) -> Dict[str, Any]:
        b = self.binary
        return {"backend": "llamacpp", "llama_server": b.path, "found_via": b.source, "version": b.version,
                "package": b.package,
                "flags": {k: v for k, v in b.flags.flags.items() if v}, "spec_types": b.flags.spec_types,
                "removed_flags": b.flags.removed, "spec_type_option": self.options.get("spec_type", AUTO),
                "draft_p_min": self.options.get("draft_p_min", 0.0)}
