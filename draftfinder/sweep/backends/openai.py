"""``openai`` backend: any OpenAI-compatible endpoint the user started (vLLM, SGLang, llama-server, …).

Nothing is started here: the baseline cell talks to the target entry's ``url``, a draft cell to the draft
entry's ``url`` (a server the user started *with* that draft; its ``k`` is recorded, never set). One request
per :meth:`OpenAISession.generate`, standard library only (``urllib``), streamed:

- ``POST {url}/chat/completions`` for chat prompts, ``{url}/completions`` otherwise; a 404 on one is retried
  once on the other, and the route that worked is kept for the session. Body: ``model`` (the entry's, else the
  first id of ``GET {url}/models``, asked once), ``stream: true``, ``stream_options.include_usage``,
  ``max_tokens``, ``temperature``, ``seed``.
- The SSE stream is read until ``data: [DONE]``. ``ttft_s`` = send → first chunk with non-empty content
  (or text); ``total_s`` = send → end of stream (both include connecting: the client's view). A new TCP
  connection per request: nothing persistent to close.
- ``tokens`` = ``usage.completion_tokens`` when the server sends usage, else llama-server's
  ``timings.predicted_n``, else the number of content chunks (a lower bound: speculative servers may send
  several tokens per chunk); ``extra["token_count_source"]`` says which.

Acceptance, where the server exposes it:

(a) llama-server puts ``timings`` in its last streamed chunk (``prompt_ms``, ``predicted_per_second``, and
    ``draft_n`` / ``draft_n_accepted`` only when it drafted). Used as is: ``tps`` is the server's
    ``predicted_per_second`` (``tps_source="server"``), ``prompt_s`` its ``prompt_ms``. Draft fields present →
    ``speculative=True``; a *draft* cell whose timings lack them → ``speculative=False`` with a ``flag`` (the
    server loaded no draft, or never drafted: the runner marks the cell ``flagged``).
(b) vLLM exposes Prometheus counters at ``{base}/metrics`` (``base`` = ``url`` without ``/v1``):
    ``vllm:spec_decode_num_draft_tokens_total`` and ``vllm:spec_decode_num_accepted_tokens_total`` (older
    builds: the names without ``_total``). They are read before and after each request and differenced —
    exact only while nothing else talks to the server (a single-stream benchmark). If
    ``vllm:generation_tokens_total`` has not caught up with the request's tokens yet, the read is retried for
    up to :data:`METRICS_SETTLE_S`. A server without those counters is not asked again in the session.

Otherwise ``drafted`` / ``accepted`` / ``speculative`` are None (the server cannot tell us).

API key: the env var named by ``settings.api_key_env``, else ``OPENAI_API_KEY`` when set; sent as
``Authorization: Bearer``, registered with :func:`errors.register_secret` (redacted from every message), never
stored in a result, a command or :meth:`OpenAIBackend.describe`.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import os
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Dict, List, Optional, Tuple

from draftfinder.errors import (EXIT_AUTH, EXIT_NETWORK, DraftFinderError, EndpointAuthError, EndpointError, UsageError, redact,
                       register_secret)
from draftfinder.measure.prompts import Prompt
from draftfinder.sweep.config import Entry, Settings
from draftfinder.sweep.backends.sse import sse_events
from draftfinder.sweep.backends.base import Generation, decode_tps

DEFAULT_KEY_ENV = "OPENAI_API_KEY"
CHAT, COMPLETIONS = "/chat/completions", "/completions"
MAX_QUOTE_CHARS = 200          # of a server's error body quoted in a message
METRICS_TIMEOUT_S = 10.0       # a /metrics read is small; never wait the whole request timeout for it
METRICS_SETTLE_S = 1.0         # wait at most this long for vLLM's counters to include the request just done

# vLLM's spec-decode counters (vllm/v1/spec_decode/metrics.py), current name first, then the pre-_total one.
VLLM_COUNTERS = {
    "drafted": ("vllm:spec_decode_num_draft_tokens_total", "vllm:spec_decode_num_draft_tokens"),
    "accepted": ("vllm:spec_decode_num_accepted_tokens_total", "vllm:spec_decode_num_accepted_tokens"),
    "drafts": ("vllm:spec_decode_num_drafts_total", "vllm:spec_decode_num_drafts"),
    "generation_tokens": ("vllm:generation_tokens_total", "vllm:generation_tokens"),
}


# ---------------------------------------------------------------------------------------------------
# pure helpers
# ---------------------------------------------------------------------------------------------------

def parse_prometheus(text: str) -> Dict[str, float]:
    """``{metric name: value summed over its label sets}`` from Prometheus text exposition format."""
    out: Dict[str, float] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = re.match(r"([A-Za-z_:][A-Za-z0-9_:]*)(\{.*\})?\s+(\S+)", line)
        if not m:
            continue
        try:
            value = float(m.group(3))
        except ValueError:
            continue
        out[m.group(1)] = out.get(m.group(1), 0.0) + value
    return out


def vllm_counters(samples: Dict[str, float]) -> Optional[Dict[str, float]]:
    """vLLM's spec-decode counters (see :data:`VLLM_COUNTERS`), or None when the draft/accepted pair is absent."""
    found: Dict[str, float] = {}
    for key, names in VLLM_COUNTERS.items():
        for name in names:
            if name in samples:
                found[key] = samples[name]
                break
    return found if "drafted" in found and "accepted" in found else None


def metrics_base(url: str) -> str:
    """``http://h:8000/v1`` → ``http://h:8000`` (where vLLM serves ``/metrics``)."""
    url = url.rstrip("/")
    return url[: -len("/v1")] if url.endswith("/v1") else url


def _one_line(text: str, limit: int = MAX_QUOTE_CHARS) -> str:
    text = " ".join(redact(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _server_message(body: bytes) -> str:
    """The ``error.message`` of an OpenAI-style error body, else the body's text; one line, redacted, short."""
    text = body.decode("utf-8", errors="replace")
    try:
        data = json.loads(text)
        err = data.get("error", data) if isinstance(data, dict) else data
        if isinstance(err, dict):
            text = str(err.get("message") or err.get("detail") or text)
        elif isinstance(err, str):
            text = err
    except ValueError:
        pass
    return _one_line(text) or "(empty body)"


def _is_loopback(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _error(message: str, hint: str, exit_code: int) -> DraftFinderError:
    cls = EndpointAuthError if exit_code == EXIT_AUTH else EndpointError
    err = cls(message, hint=hint)
    return err


def _chunk_text(obj: Dict[str, Any]) -> str:
    """Generated text in one streamed chunk: chat ``delta.content`` (+ reasoning) or completions ``text``."""
    parts: List[str] = []
    for choice in obj.get("choices") or []:
        if not isinstance(choice, dict):
            continue
        delta = choice.get("delta")
        if isinstance(delta, dict):
            for key in ("reasoning_content", "reasoning", "content"):
                if isinstance(delta.get(key), str):
                    parts.append(delta[key])
        if isinstance(choice.get("text"), str):
            parts.append(choice["text"])
        message = choice.get("message")                  # a non-streamed answer
        if isinstance(message, dict) and isinstance(message.get("content"), str):
            parts.append(message["content"])
    return "".join(parts)


# ---------------------------------------------------------------------------------------------------
# the session: one endpoint
# ---------------------------------------------------------------------------------------------------

class OpenAISession:
    """One endpoint (the target's for the baseline, the draft entry's for a draft cell)."""

    def __init__(self, entry: Entry, *, draft_cell: bool, api_key: Optional[str], key_env: Optional[str],
                 timeout_s: float, task: str):
        self.entry = entry
        self.url = str(entry.url).rstrip("/")
        self.draft_cell = draft_cell
        self.timeout_s = float(timeout_s)
        self._key = api_key
        self._key_env = key_env
        self._model = entry.model
        self._route: Dict[bool, str] = {}                 # is_chat → the route that answered
        self._metrics: Optional[bool] = None              # None: not tried; False: the server has none
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({})) if _is_loopback(self.url) \
            else urllib.request.build_opener()
        self._last_route = CHAT if task in ("chat", "summarization") else COMPLETIONS   # until a request says
        self.command: List[str] = self._describe_call(self._last_route)

    # --- the request ----------------------------------------------------------------------------------
    def generate(self, prompt: Prompt, settings: Settings) -> Generation:
        self.timeout_s = float(settings.timeout_s)
        model = self.model()
        before = self._read_metrics()
        first = self._route.get(prompt.is_chat, CHAT if prompt.is_chat else COMPLETIONS)
        routes = [first, COMPLETIONS if first == CHAT else CHAT]
        for i, route in enumerate(routes):
            t0 = time.perf_counter()
            status, resp, body = self._request("POST", self.url + route, self._body(route, prompt, settings, model),
                                               self.timeout_s)
            if status == 200:
                break
            if status != 404 or i == 1:
                self._raise_status(status, body, self.url + route, both=status == 404)
        fallback = route != first
        self._route[prompt.is_chat] = self._last_route = route
        self.command = self._describe_call(route)
        g = self._read_stream(resp, t0, self.url + route)
        g.extra.update({"route": route, "route_fallback": fallback, "endpoint": self.entry.label,
                        "model": model})
        if self.entry.k is not None:
            g.extra["server_k"] = self.entry.k
        self._acceptance(g, before)
        return g

    def _body(self, route: str, prompt: Prompt, settings: Settings, model: str) -> Dict[str, Any]:
        body: Dict[str, Any] = {"model": model, "stream": True, "stream_options": {"include_usage": True},
                                "max_tokens": int(settings.max_tokens), "temperature": float(settings.temperature),
                                "seed": int(settings.seed)}
        if route == CHAT:
            body["messages"] = [{"role": "user", "content": prompt.text}]
        else:
            body["prompt"] = prompt.text
        return body

    def _read_stream(self, resp: Any, t0: float, where: str) -> Generation:
        ttft: Optional[float] = None
        chunks = 0
        pieces: List[str] = []
        usage: Optional[Dict[str, Any]] = None
        timings: Optional[Dict[str, Any]] = None
        finish: Optional[str] = None
        served: Optional[str] = None

        def handle(data: str) -> None:
            nonlocal ttft, chunks, usage, timings, finish, served
            try:
                obj = json.loads(data)
            except ValueError:
                raise self._not_openai(where, "data that is not JSON: " + _one_line(data, 80)) from None
            if not isinstance(obj, dict):
                return
            if obj.get("error"):
                raise _error(f"{where} failed mid-stream: {_server_message(data.encode())}",
                             "check the server's log", 1)
            served = obj.get("model") or served
            if isinstance(obj.get("usage"), dict):
                usage = obj["usage"]
            if isinstance(obj.get("timings"), dict):
                timings = obj["timings"]
            for choice in obj.get("choices") or []:
                if isinstance(choice, dict) and choice.get("finish_reason"):
                    finish = choice["finish_reason"]
            text = _chunk_text(obj)
            if text:
                if ttft is None:
                    ttft = time.perf_counter() - t0
                chunks += 1
                pieces.append(text)

        try:
            with resp:
                if "event-stream" not in resp.headers.get("Content-Type", ""):   # a server that ignored stream
                    handle(resp.read().decode("utf-8", errors="replace"))
                else:
                    for data in sse_events(resp, t0 + self.timeout_s):
                        handle(data)
        except (socket.timeout, TimeoutError) as exc:
            raise self._timeout(where, "stopped streaming") from exc
        except (http.client.HTTPException, ConnectionError, OSError) as exc:
            raise _error(f"{where} closed the stream early ({type(exc).__name__})",
                         "check the server's log (it may have crashed or run out of memory)", EXIT_NETWORK) from None
        total = time.perf_counter() - t0

        if usage is not None and usage.get("completion_tokens") is not None:
            tokens, source = int(usage["completion_tokens"]), "usage"
        elif timings is not None and timings.get("predicted_n") is not None:
            tokens, source = int(timings["predicted_n"]), "timings"
        else:
            tokens, source = chunks, "chunks"
        prompt_tokens = None
        if usage is not None and usage.get("prompt_tokens") is not None:
            prompt_tokens = int(usage["prompt_tokens"])
        elif timings is not None and timings.get("prompt_n") is not None:
            prompt_tokens = int(timings["prompt_n"])
        prompt_s = float(timings["prompt_ms"]) / 1000 if timings and timings.get("prompt_ms") is not None else None
        server_tps = timings.get("predicted_per_second") if timings else None
        if server_tps:
            tps, tps_source = float(server_tps), "server"
        else:
            tps, tps_source = decode_tps(tokens, total, None, ttft)
        extra: Dict[str, Any] = {"token_count_source": source, "content_chunks": chunks, "finish_reason": finish,
                                 "served_model": served}
        if timings is not None:
            extra["timings"] = dict(timings)
        return Generation(tokens=tokens, total_s=total, tps=tps, tps_source=tps_source, ttft_s=ttft,
                          prompt_s=prompt_s, prompt_tokens=prompt_tokens, text="".join(pieces), extra=extra)

    def _acceptance(self, g: Generation, before: Optional[Dict[str, float]]) -> None:
        """Fill drafted / accepted / speculative from llama-server timings or vLLM's counters (module doc)."""
        timings = g.extra.get("timings")
        after = self._read_metrics(settle_tokens=g.tokens, before=before) if before is not None else None
        if before is not None and after is not None:
            delta = {k: after[k] - before[k] for k in after if k in before}
            g.extra["vllm_metrics_delta"] = {k: int(round(v)) for k, v in delta.items()}
        else:
            delta = None
        if timings is not None and timings.get("draft_n") is not None:
            g.drafted = int(timings["draft_n"])
            g.accepted = int(timings.get("draft_n_accepted") or 0)
            g.speculative = True
            g.extra["acceptance_source"] = "llama-server timings"
        elif delta is not None and "drafted" in delta and "accepted" in delta:
            g.drafted, g.accepted = int(round(delta["drafted"])), int(round(delta["accepted"]))
            g.speculative = True if g.drafted > 0 else None
            g.extra["acceptance_source"] = "vllm /metrics delta"
        elif timings is not None and self.draft_cell:
            g.speculative = False
            g.extra["flag"] = ("the server's timings carry no draft fields: it did not draft (start llama-server "
                               "with the draft model, e.g. --model-draft or --spec-type)")

    # --- model discovery and metrics ------------------------------------------------------------------
    def model(self) -> str:
        """The entry's ``model``, else the first id of ``GET {url}/models`` (asked once per session)."""
        if self._model:
            return self._model
        where = self.url + "/models"
        status, resp, body = self._request("GET", where, None, self.timeout_s)
        if status != 200:
            self._raise_status(status, body, where)
        with resp:
            raw = resp.read()
        try:
            ids = [m["id"] for m in json.loads(raw)["data"] if isinstance(m, dict) and m.get("id")]
        except (ValueError, KeyError, TypeError):
            ids = []
        if not ids:
            raise UsageError(f"{where} lists no model", hint=f"set \"model\" in the config entry '{self.entry.label}'")
        self._model = str(ids[0])
        self.command = self._describe_call(self._last_route)
        return self._model

    def spec_counters(self) -> Optional[Dict[str, float]]:
        """vLLM's cumulative spec-decode counters (server-wide), or None: the concurrency driver differences them
        over a level of simultaneous requests (:mod:`draftfinder.sweep.concurrency`)."""
        return self._read_metrics()

    def _read_metrics(self, *, settle_tokens: int = 0, before: Optional[Dict[str, float]] = None
                      ) -> Optional[Dict[str, float]]:
        """vLLM's spec-decode counters now, or None (and never again this session) when the server has none."""
        if self._metrics is False:
            return None
        deadline = time.perf_counter() + METRICS_SETTLE_S
        while True:
            found = None
            try:
                status, resp, _ = self._request("GET", metrics_base(self.url) + "/metrics", None,
                                                min(self.timeout_s, METRICS_TIMEOUT_S))
                if status == 200:
                    with resp:
                        found = vllm_counters(parse_prometheus(resp.read().decode("utf-8", errors="replace")))
            except DraftFinderError:
                found = None
            if found is None:
                self._metrics = False if self._metrics is None else self._metrics
                return None
            self._metrics = True
            behind = (before is not None and "generation_tokens" in found and "generation_tokens" in before
                      and found["generation_tokens"] - before["generation_tokens"] < settle_tokens)
            if not behind or time.perf_counter() > deadline:
                return found
            time.sleep(0.05)

    # --- HTTP -----------------------------------------------------------------------------------------
    def _request(self, method: str, url: str, body: Optional[Dict[str, Any]], timeout: float
                 ) -> Tuple[int, Any, bytes]:
        """``(status, open response or None, error body)``; network failures raise one-line errors."""
        from draftfinder.version import __version__

        headers = {"User-Agent": f"draftfinder/{__version__}", "Accept": "text/event-stream, application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            resp = self._opener.open(req, timeout=timeout)
            return resp.status, resp, b""
        except urllib.error.HTTPError as exc:
            with exc:
                try:
                    err_body = exc.read(64 * 1024)
                except (OSError, http.client.HTTPException):
                    err_body = b""
            return exc.code, None, err_body
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, (socket.timeout, TimeoutError)):
                raise self._timeout(url, "did not answer") from None
            if isinstance(reason, ConnectionRefusedError):
                raise _error(f"cannot connect to {url} (connection refused)",
                             f"start the server or fix url of '{self.entry.label}' in the config", EXIT_NETWORK) from None
            raise _error(f"cannot reach {url}: {_one_line(str(reason), 120)}",
                         f"start the server or fix url of '{self.entry.label}' in the config", EXIT_NETWORK) from None
        except (socket.timeout, TimeoutError):
            raise self._timeout(url, "did not answer") from None
        except (http.client.HTTPException, ConnectionError) as exc:
            raise _error(f"{url} dropped the connection ({type(exc).__name__})",
                         "check that url points at an OpenAI-compatible server (http vs https, port)",
                         EXIT_NETWORK) from None

    def _raise_status(self, status: int, body: bytes, where: str, *, both: bool = False) -> None:
        quoted = _server_message(body)
        if status in (401, 403):
            if self._key:
                hint = f"the key in ${self._key_env} was refused: check it (settings.api_key_env names the variable)"
            else:
                hint = (f"set {DEFAULT_KEY_ENV}, or settings.api_key_env to the NAME of the env var holding the key")
            raise _error(f"{where} refused the request (HTTP {status}, unauthorized): {quoted}", hint, EXIT_AUTH)
        if status == 404:
            what = f"{self.url}{CHAT} and {self.url}{COMPLETIONS}" if both else where
            raise _error(f"{what} answered 404: {quoted}",
                         f"check url (it usually ends in /v1) and model of '{self.entry.label}'", EXIT_NETWORK)
        if status >= 500:
            raise _error(f"{where} failed (HTTP {status}): {quoted}", "check the server's log", EXIT_NETWORK)
        raise _error(f"{where} rejected the request (HTTP {status}): {quoted}",
                     f"check model, max_tokens and temperature for '{self.entry.label}'", 1)

    def _timeout(self, where: str, what: str) -> DraftFinderError:
        return _error(f"{where} {what} within {self.timeout_s:g} s",
                      "raise settings.timeout_s, lower max_tokens, or check the server's load", EXIT_NETWORK)

    def _not_openai(self, where: str, what: str) -> DraftFinderError:
        return _error(f"{where} sent {what}", "check that url points at an OpenAI-compatible /v1 endpoint", 1)

    def _describe_call(self, route: str) -> List[str]:
        call = ["POST", self.url + route, f"model={self._model or '(first of GET /models)'}", "stream=true"]
        if self.entry.k is not None:
            call.append(f"server_k={self.entry.k}")
        return call

    def close(self) -> None:
        """Nothing persistent: every request opened and closed its own connection."""


# ---------------------------------------------------------------------------------------------------
# the backend
# ---------------------------------------------------------------------------------------------------

class OpenAIBackend:
    name = "openai"

    def __init__(self, cfg: Any, options: Dict[str, Any]):
        self.cfg, self.options = cfg, options

    def open(self, target: Entry, draft: Optional[Entry], k: Optional[int], settings: Settings) -> OpenAISession:
        entry = draft if draft is not None else target
        if not entry.url:
            raise UsageError(f"'{entry.label}' has no url", hint="the openai backend needs every entry's url "
                             "(e.g. http://127.0.0.1:8000/v1)")
        key, env = api_key(settings)
        return OpenAISession(entry, draft_cell=draft is not None, api_key=key, key_env=env,
                             timeout_s=settings.timeout_s, task=settings.task)

    def describe(self) -> Dict[str, Any]:
        import platform

        s = self.cfg.settings
        env = s.api_key_env or (DEFAULT_KEY_ENV if os.environ.get(DEFAULT_KEY_ENV) else None)
        endpoints = [{"label": e.label, "url": e.url, "model": e.model, "k": e.k}
                     for e in list(self.cfg.targets) + list(self.cfg.drafts)]
        return {"backend": "openai", "client": f"urllib (Python {platform.python_version()})", "streaming": True,
                "endpoints": endpoints, "api_key_env": env,
                "acceptance_sources": ["llama-server timings", "vllm /metrics delta"]}


def api_key(settings: Settings) -> Tuple[Optional[str], Optional[str]]:
    """``(key, env var name)``: ``settings.api_key_env``'s variable (must be set), else ``OPENAI_API_KEY`` if set."""
    name = settings.api_key_env
    if name:
        key = os.environ.get(name, "").strip()
        if not key:
            raise UsageError(f"settings.api_key_env names {name}, but {name} is not set",
                             hint=f"export {name}=<your key> before the sweep, or remove api_key_env")
    else:
        name, key = DEFAULT_KEY_ENV, os.environ.get(DEFAULT_KEY_ENV, "").strip()
        if not key:
            return None, None
    register_secret(key)
    return key, name
