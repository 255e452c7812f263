"""A loopback OpenAI-compatible server with a real model behind it, for tests of the ``openai`` sweep backend.

``with OpenAIServer(load_model("zoo:smollm2-135m"), drafter="ngram") as srv:`` serves the model on
``srv.url`` (``http://127.0.0.1:PORT/v1``, a free port), one request at a time (a single slot, like
llama-server's default), through draftfinder's own engine:

- ``GET /v1/models``; ``POST /v1/chat/completions`` (``messages`` through the tokenizer's chat template,
  ``add_generation_prompt``) and ``POST /v1/completions`` (``prompt`` as plain text), streamed (SSE, chunked
  HTTP/1.1, ``data: [DONE]``) or not, ``usage`` (on a last ``choices: []`` chunk when the client asks with
  ``stream_options.include_usage``, as vLLM and OpenAI do), ``max_tokens``, ``temperature`` (0 → greedy, else
  multinomial), ``seed``; OpenAI-style JSON errors.
- ``GET /metrics`` (``metrics="vllm"``, or ``"vllm-old"`` for the names without ``_total``): Prometheus text
  in vLLM's format. ``vllm:generation_tokens_total`` / ``vllm:prompt_tokens_total`` always, and — on a server
  that drafts — ``vllm:spec_decode_num_drafts_total`` / ``_num_draft_tokens_total`` /
  ``_num_accepted_tokens_total``, driven by the engine's real counts. Updated before ``[DONE]`` is sent.
- ``timings="llama"``: llama-server's ``timings`` object in the last streamed chunk (and the non-streamed
  answer): ``prompt_n``, ``prompt_ms`` (the engine's prefill), ``predicted_n``, ``predicted_ms``,
  ``predicted_per_second`` (tokens ÷ the time after prefill), and ``draft_n`` / ``draft_n_accepted`` only when
  the engine drafted (as llama-server: draft fields only when drafting ran). So ``drafter=None,
  timings="llama"`` is, honestly, a server that was meant to draft but did not: timings without draft fields.
- ``api_key``: every ``/v1`` route answers 401 ``{"error": "Unauthorized"}`` (vLLM's body) unless
  ``Authorization: Bearer <api_key>`` is sent; ``/metrics`` and ``/health`` stay open (as in vLLM).

How streaming stays honest: generation always runs ``speculative_generate`` with the drafter wrapped in
:class:`_StreamingDrafter`, whose ``accept`` hook sees every step's new tokens as the engine produces them;
the handler writes them as one SSE chunk per step *while* the engine runs (a speculative server sends several
tokens in one chunk, as vLLM does). The baseline (``drafter=None``) runs the same loop with a drafter that
proposes nothing: one target forward per token, the work of ``autoregressive_generate`` — and, greedy, the
same tokens (a test checks the two servers agree). Streamed tokens are checked against the engine's final
``token_ids`` (``LoggedRequest.stream_matches``). TTFT as a client sees it is therefore real: prefill plus
the first step.

Knobs: :meth:`OpenAIServer.fail` (force a status on a path; ``echo_auth=True`` puts the received
Authorization header in the body, to test that clients redact it), :meth:`OpenAIServer.delay` (for timeouts),
``routes`` (serve only ``("chat",)`` or ``("completions",)``: the other answers 404), ``usage=False`` (never
send usage). :attr:`OpenAIServer.requests` logs every request (path, status, whether a key was sent and
whether it was right — never its value — and, for generations, the engine's real counts).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List, Optional, Sequence
from urllib.parse import urlsplit

SERVED_NAME = "smollm2-135m"


@dataclass
class LoggedRequest:
    """One request as the server saw it. ``authorized``: a key was sent; ``key_ok``: it was the right one."""

    method: str
    path: str
    status: int = 0
    authorized: bool = False
    key_ok: Optional[bool] = None
    stream: Optional[bool] = None
    model: Optional[str] = None
    include_usage: Optional[bool] = None
    prompt_tokens: Optional[int] = None
    completion_tokens: Optional[int] = None
    drafted: Optional[int] = None          # the engine's SpecStats
    accepted: Optional[int] = None
    spec_drafts: Optional[int] = None      # steps that proposed at least one draft token (vLLM's num_drafts)
    steps: Optional[int] = None
    content_chunks: Optional[int] = None   # streamed chunks that carried text
    text: Optional[str] = None
    token_ids: Optional[List[int]] = None
    stream_matches: Optional[bool] = None  # streamed tokens == the engine's final token_ids


@dataclass
class _Rule:
    path: str
    times: Optional[int]
    status: int = 0
    message: str = ""
    echo_auth: bool = False
    seconds: float = 0.0

    def applies(self, path: str) -> bool:
        if path != self.path or (self.times is not None and self.times <= 0):
            return False
        if self.times is not None:
            self.times -= 1
        return True


@dataclass
class _Counters:
    """Cumulative counters behind ``/metrics`` (vLLM's names in :meth:`OpenAIServer._metrics_text`)."""

    prompt_tokens: int = 0
    generation_tokens: int = 0
    drafts: int = 0
    draft_tokens: int = 0
    accepted_tokens: int = 0
    requests: int = 0


class _NoDrafter:
    """Proposes nothing: each step is one target forward and one token (the autoregressive baseline)."""

    def begin(self, prompt_ids: List[int]) -> None:
        pass

    def draft(self, context_ids: List[int], k: int, sampling: Any, generator: Any) -> Any:
        from draftfinder.engine.base import Draft

        return Draft(tokens=[])

    def accept(self, n_accepted: int, context_ids: List[int]) -> None:
        pass

    def end(self) -> None:
        pass


class _StreamingDrafter:
    """Wraps a drafter; after every step hands the step's new tokens to ``on_tokens`` (the SSE writer).

    Applies the engine's own emit rule (``speculative._Run.emit``): at most ``max_new`` tokens, nothing after
    the first EOS. Counts the steps that proposed at least one token (vLLM's ``num_drafts``)."""

    def __init__(self, inner: Any, eos: Sequence[int], max_new: int, on_tokens: Callable[[List[int]], None]):
        self.inner, self.eos, self.max_new, self.on_tokens = inner, frozenset(eos), max_new, on_tokens
        self.top_k_filler = getattr(inner, "top_k_filler", 1)
        self.streamed: List[int] = []
        self.spec_drafts = 0
        self._seen = 0
        self._stopped = False

    def begin(self, prompt_ids: List[int]) -> None:
        self._seen = len(prompt_ids)
        self.inner.begin(prompt_ids)

    def draft(self, context_ids: List[int], k: int, sampling: Any, generator: Any) -> Any:
        d = self.inner.draft(context_ids, k, sampling, generator)
        if list(d.tokens)[:k]:
            self.spec_drafts += 1
        return d

    def accept(self, n_accepted: int, context_ids: List[int]) -> None:
        self.inner.accept(n_accepted, context_ids)
        new, self._seen = list(context_ids[self._seen:]), len(context_ids)
        taken: List[int] = []
        for t in new:
            if self._stopped or len(self.streamed) >= self.max_new:
                break
            self.streamed.append(int(t))
            taken.append(int(t))
            if t in self.eos:
                self._stopped = True
        if taken:
            self.on_tokens(taken)

    def end(self) -> None:
        self.inner.end()

    def __getattr__(self, name: str) -> Any:              # optional hooks (observe_target_topk, …)
        return getattr(self.inner, name)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    owner: "OpenAIServer"


class OpenAIServer:
    """A real OpenAI-compatible server on 127.0.0.1 (see the module doc); use as a context manager."""

    def __init__(self, model: Any, *, drafter: Optional[str] = None, k: int = 4, served_name: str = SERVED_NAME,
                 timings: Optional[str] = None, metrics: Optional[str] = None, usage: bool = True,
                 api_key: Optional[str] = None, routes: Sequence[str] = ("chat", "completions"), port: int = 0):
        if timings not in (None, "llama"):
            raise ValueError(f"timings must be None or 'llama', got {timings!r}")
        if metrics not in (None, "vllm", "vllm-old"):
            raise ValueError(f"metrics must be None, 'vllm' or 'vllm-old', got {metrics!r}")
        self.model, self.drafter_spec, self.k = model, drafter, int(k)
        self.served_name, self.timings, self.metrics, self.usage = served_name, timings, metrics, usage
        self.routes = tuple(routes)
        self.port = port
        self._api_key = api_key
        self.counters = _Counters()
        self._log: List[LoggedRequest] = []
        self._failures: List[_Rule] = []
        self._delays: List[_Rule] = []
        self._lock = threading.Lock()            # log, counters, rules
        self._slot = threading.Lock()            # one generation at a time
        self._stop = threading.Event()
        self._server: Optional[_HTTPServer] = None
        self._thread: Optional[threading.Thread] = None
        self._ids = 0

    # --- lifecycle ------------------------------------------------------------------------------------
    def __enter__(self) -> "OpenAIServer":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def start(self) -> None:
        self._server = _HTTPServer(("127.0.0.1", self.port), _Handler)
        self._server.owner = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="loopback-openai", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()                          # cuts delays short
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def url(self) -> str:
        """The OpenAI base URL (what a config's ``url`` holds)."""
        return self.base_url + "/v1"

    # --- knobs and log --------------------------------------------------------------------------------
    def fail(self, path: str, status: int = 500, message: str = "", *, echo_auth: bool = False,
             times: Optional[int] = None) -> None:
        """Answer ``path`` (e.g. ``/v1/chat/completions``) with ``status`` and an OpenAI-style error body."""
        with self._lock:
            self._failures.append(_Rule(path, times, status, message or f"forced HTTP {status}", echo_auth))

    def delay(self, path: str, seconds: float, *, times: Optional[int] = None) -> None:
        """Wait ``seconds`` before answering ``path``."""
        with self._lock:
            self._delays.append(_Rule(path, times, seconds=seconds))

    @property
    def requests(self) -> List[LoggedRequest]:
        with self._lock:
            return list(self._log)

    def generations(self) -> List[LoggedRequest]:
        """Logged requests that generated (status 200 on a completions route)."""
        return [r for r in self.requests if r.completion_tokens is not None]

    def paths(self, method: Optional[str] = None) -> List[str]:
        return [r.path for r in self.requests if method is None or r.method == method]

    def _new_entry(self, method: str, path: str) -> LoggedRequest:
        """Logged on arrival and filled in as the request is served (complete before its last byte is sent)."""
        entry = LoggedRequest(method, path)
        with self._lock:
            self._log.append(entry)
        return entry

    def _rule(self, rules: List[_Rule], path: str) -> Optional[_Rule]:
        with self._lock:
            return next((r for r in rules if r.applies(path)), None)

    def _next_id(self) -> int:
        with self._lock:
            self._ids += 1
            return self._ids

    # --- generation -----------------------------------------------------------------------------------
    def encode(self, body: Dict[str, Any], chat: bool) -> List[int]:
        tok = self.model.tokenizer
        if chat:
            ids = tok.apply_chat_template(body["messages"], add_generation_prompt=True, tokenize=True)
            if isinstance(ids, dict) or hasattr(ids, "keys"):
                ids = ids["input_ids"]
            return [int(t) for t in ids]
        return [int(t) for t in tok(body["prompt"])["input_ids"]]

    def generate(self, ids: List[int], body: Dict[str, Any], on_tokens: Callable[[List[int]], None]) -> Dict[str, Any]:
        """Run the engine; ``on_tokens`` gets each step's tokens as they are produced. Returns the figures."""
        from draftfinder.engine.base import SamplingConfig
        from draftfinder.engine.drafters import make_drafter
        from draftfinder.engine.speculative import speculative_generate

        temperature = float(body.get("temperature", 1.0) if body.get("temperature") is not None else 1.0)
        seed = int(body.get("seed") or 0)
        sampling = SamplingConfig(processor="greedy", seed=seed) if temperature == 0 else \
            SamplingConfig(processor="multinomial", temperature=temperature, seed=seed)
        max_new = int(body.get("max_tokens") or 16)
        with self._slot:
            inner = make_drafter(self.drafter_spec, self.model) if self.drafter_spec else _NoDrafter()
            drafter = _StreamingDrafter(inner, self.model.eos_token_ids, max_new, on_tokens)
            result = speculative_generate(self.model, drafter, ids, max_new_tokens=max_new, sampling=sampling,
                                          k=self.k)
        s = result.stats
        out = list(result.token_ids)
        figures = {"tokens": out, "text": result.text, "stats": s, "spec_drafts": drafter.spec_drafts,
                   "stream_matches": drafter.streamed == out,
                   "finish": "stop" if out and out[-1] in set(self.model.eos_token_ids) else "length"}
        with self._lock:
            c = self.counters
            c.requests += 1
            c.prompt_tokens += len(ids)
            c.generation_tokens += len(out)
            if self.drafter_spec:
                c.drafts += drafter.spec_drafts
                c.draft_tokens += s.drafted
                c.accepted_tokens += s.accepted
        return figures

    def timings_for(self, n_prompt: int, figures: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        if self.timings is None:
            return None
        s = figures["stats"]
        n = len(figures["tokens"])
        prompt_ms = s.prefill_s * 1000
        predicted_ms = max(s.total_s - s.prefill_s, 1e-9) * 1000
        t: Dict[str, Any] = {
            "prompt_n": n_prompt, "prompt_ms": prompt_ms,
            "prompt_per_token_ms": prompt_ms / max(n_prompt, 1),
            "prompt_per_second": n_prompt / (prompt_ms / 1000) if prompt_ms > 0 else 0.0,
            "predicted_n": n, "predicted_ms": predicted_ms,
            "predicted_per_token_ms": predicted_ms / max(n, 1),
            "predicted_per_second": n / (predicted_ms / 1000),
        }
        if self.drafter_spec and s.drafted > 0:
            t["draft_n"], t["draft_n_accepted"] = s.drafted, s.accepted
        return t

    def _metrics_text(self) -> str:
        with self._lock:
            c = _Counters(**vars(self.counters))
        suffix = "_total" if self.metrics == "vllm" else ""
        labels = f'{{engine="0",model_name="{self.served_name}"}}'
        created = 1.7e9
        lines = ['# HELP vllm:num_requests_running Number of requests in model execution batches.',
                 '# TYPE vllm:num_requests_running gauge', f"vllm:num_requests_running{labels} 0.0"]
        counters = [("prompt_tokens", c.prompt_tokens, "Number of prefill tokens processed."),
                    ("generation_tokens", c.generation_tokens, "Number of generation tokens processed.")]
        if self.drafter_spec:
            counters += [("spec_decode_num_drafts", c.drafts, "Number of spec decoding drafts."),
                         ("spec_decode_num_draft_tokens", c.draft_tokens, "Number of draft tokens."),
                         ("spec_decode_num_accepted_tokens", c.accepted_tokens, "Number of accepted tokens.")]
        for name, value, help_text in counters:
            full = f"vllm:{name}{suffix}"
            lines += [f"# HELP {full} {help_text}", f"# TYPE {full} counter", f"{full}{labels} {float(value)}"]
            if suffix:
                lines += [f"# TYPE vllm:{name}_created gauge", f"vllm:{name}_created{labels} {created}"]
        return "\n".join(lines) + "\n"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:     # quiet
        pass

    # --- plumbing -------------------------------------------------------------------------------------
    @property
    def owner(self) -> OpenAIServer:
        return self.server.owner

    def _send_json(self, status: int, data: Any, entry: LoggedRequest) -> None:
        raw = json.dumps(data).encode()
        entry.status = status                      # before the last byte: a client may read the log at once
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _send_error(self, status: int, message: str, entry: LoggedRequest, kind: str = "BadRequestError") -> None:
        self._send_json(status, {"error": {"message": message, "type": kind, "code": status}}, entry)

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _event(self, obj: Any) -> None:
        payload = obj if isinstance(obj, str) else json.dumps(obj)
        self._chunk(f"data: {payload}\n\n".encode())

    def _begin(self, entry: LoggedRequest) -> Optional[str]:
        """Log, delay, forced failures and auth; returns the path to serve or None when already answered."""
        path = urlsplit(self.path).path
        entry.path = path
        auth = self.headers.get("Authorization")
        entry.authorized = auth is not None
        owner = self.owner
        rule = owner._rule(owner._delays, path)
        if rule is not None and owner._stop.wait(rule.seconds):
            self.close_connection = True                          # stopped while delaying: no answer
            return None
        if path.startswith("/v1/") and owner._api_key is not None:
            entry.key_ok = auth == f"Bearer {owner._api_key}"
            if not entry.key_ok:
                self._send_json(401, {"error": "Unauthorized"}, entry)
                return None
        rule = owner._rule(owner._failures, path)
        if rule is not None:
            message = rule.message + (f" (request had Authorization: {auth})" if rule.echo_auth else "")
            self._send_error(rule.status, message, entry, "InternalServerError" if rule.status >= 500 else "Error")
            return None
        return path

    # --- routes ---------------------------------------------------------------------------------------
    def do_GET(self) -> None:
        entry = self.owner._new_entry("GET", self.path)
        try:
            path = self._begin(entry)
            if path is None:
                return
            owner = self.owner
            if path == "/v1/models":
                self._send_json(200, {"object": "list", "data": [
                    {"id": owner.served_name, "object": "model", "created": 0, "owned_by": "draftfinder-tests"}]},
                    entry)
            elif path == "/health":
                self._send_json(200, {"status": "ok"}, entry)
            elif path == "/metrics" and owner.metrics:
                raw = owner._metrics_text().encode()
                entry.status = 200
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)
            else:
                self._send_error(404, f"no route {path}", entry, "NotFoundError")
        except (BrokenPipeError, ConnectionResetError):
            entry.status = entry.status or 499                 # the client went away

    def do_POST(self) -> None:
        entry = self.owner._new_entry("POST", self.path)
        try:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            path = self._begin(entry)
            if path is None:
                return
            owner = self.owner
            chat = path == "/v1/chat/completions"
            served = {"/v1/chat/completions": "chat", "/v1/completions": "completions"}.get(path)
            if served is None or served not in owner.routes:
                self._send_error(404, f"no route {path}", entry, "NotFoundError")
                return
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                self._send_error(400, "the body is not JSON", entry)
                return
            entry.model, entry.stream = body.get("model"), bool(body.get("stream"))
            entry.include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            if body.get("model") != owner.served_name:
                self._send_error(404, f"The model `{body.get('model')}` does not exist.", entry, "NotFoundError")
                return
            if (chat and not isinstance(body.get("messages"), list)) or (not chat and not isinstance(body.get("prompt"), str)):
                self._send_error(400, "messages (chat) or prompt (completions) is required", entry)
                return
            if owner.model is None:
                self._send_error(503, "this server was started without a model", entry, "ServiceUnavailableError")
                return
            ids = owner.encode(body, chat)
            if entry.stream:
                self._stream(body, ids, chat, entry)
            else:
                self._whole(body, ids, chat, entry)
        except (BrokenPipeError, ConnectionResetError):
            entry.status = entry.status or 499                 # the client went away

    def _fill(self, entry: LoggedRequest, ids: List[int], figures: Dict[str, Any]) -> None:
        s = figures["stats"]
        entry.prompt_tokens, entry.completion_tokens = len(ids), len(figures["tokens"])
        entry.token_ids, entry.text = figures["tokens"], figures["text"]
        entry.steps, entry.stream_matches = s.steps, figures["stream_matches"]
        if self.owner.drafter_spec:
            entry.drafted, entry.accepted, entry.spec_drafts = s.drafted, s.accepted, figures["spec_drafts"]

    def _usage(self, ids: List[int], figures: Dict[str, Any]) -> Dict[str, int]:
        n = len(figures["tokens"])
        return {"prompt_tokens": len(ids), "completion_tokens": n, "total_tokens": len(ids) + n}

    def _whole(self, body: Dict[str, Any], ids: List[int], chat: bool, entry: LoggedRequest) -> None:
        owner = self.owner
        figures = owner.generate(ids, body, lambda toks: None)
        self._fill(entry, ids, figures)
        rid = owner._next_id()
        choice: Dict[str, Any] = {"index": 0, "finish_reason": figures["finish"]}
        if chat:
            choice["message"] = {"role": "assistant", "content": figures["text"]}
        else:
            choice.update(text=figures["text"], logprobs=None)
        data: Dict[str, Any] = {"id": f"{'chatcmpl' if chat else 'cmpl'}-{rid}",
                                "object": "chat.completion" if chat else "text_completion",
                                "created": int(time.time()), "model": owner.served_name, "choices": [choice]}
        if owner.usage:
            data["usage"] = self._usage(ids, figures)
        timings = owner.timings_for(len(ids), figures)
        if timings is not None:
            data["timings"] = timings
        self._send_json(200, data, entry)

    def _stream(self, body: Dict[str, Any], ids: List[int], chat: bool, entry: LoggedRequest) -> None:
        owner = self.owner
        tok = owner.model.tokenizer
        rid = f"{'chatcmpl' if chat else 'cmpl'}-{owner._next_id()}"
        created = int(time.time())
        include_usage = owner.usage and bool(entry.include_usage)

        def chunk(text: Optional[str], finish: Optional[str] = None, role: bool = False) -> Dict[str, Any]:
            if chat:
                delta: Dict[str, Any] = {}
                if role:
                    delta["role"] = "assistant"
                if text is not None:
                    delta["content"] = text
                choice: Dict[str, Any] = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            else:
                choice = {"index": 0, "text": text or "", "logprobs": None, "finish_reason": finish}
            obj = {"id": rid, "object": "chat.completion.chunk" if chat else "text_completion",
                   "created": created, "model": owner.served_name, "choices": [choice]}
            if include_usage:
                obj["usage"] = None                                  # vLLM: null until the last chunk
            return obj

        entry.status = 200
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if chat:
            self._event(chunk("", role=True))                        # role first, empty content (vLLM, OpenAI)
        out: List[int] = []
        sent = [""]
        chunks = [0]

        def send_text(final: bool = False) -> None:
            text = tok.decode(out, skip_special_tokens=True)
            if not final and text.endswith("\ufffd"):                 # half a UTF-8 character: wait for the rest
                return
            if text.startswith(sent[0]) and len(text) > len(sent[0]):
                self._event(chunk(text[len(sent[0]):]))
                sent[0] = text
                chunks[0] += 1

        def on_tokens(toks: List[int]) -> None:                      # one engine step: one chunk
            out.extend(toks)
            send_text()

        figures = owner.generate(ids, body, on_tokens)
        send_text(final=True)
        self._fill(entry, ids, figures)
        entry.content_chunks = chunks[0]
        timings = owner.timings_for(len(ids), figures)
        last = chunk(None if chat else "", finish=figures["finish"])
        if include_usage:
            self._event(last)
            last = {"id": rid, "object": last["object"], "created": created, "model": owner.served_name,
                    "choices": [], "usage": self._usage(ids, figures)}
        if timings is not None:
            last["timings"] = timings                                 # llama-server: in the last chunk
        self._event(last)
        self._event("[DONE]")
        self._chunk(b"")                                              # end of the chunked body
