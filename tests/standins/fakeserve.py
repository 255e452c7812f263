"""The shared core of the server stand-ins: a deterministic "model", its speculative steps, and an HTTP server
speaking the OpenAI streaming API on 127.0.0.1.

``STANDIN_CRASH_ON_REQUEST`` makes the server die on its first completion request, as an engine out of memory.

The model answers with the prompt's words cycled (token = word), exactly ``max_tokens`` of them. With
speculation on, the first token comes from the prefill and every later step verifies K drafts of which
``min(K, STANDIN_ACCEPT)`` (env, default 2) are accepted, plus the bonus token — the counters of a real
speculative server: drafts proposed, drafts accepted, verify steps.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional, Tuple


class Model:
    """The served model and its speculative counters (cumulative since start, like a real server's)."""

    def __init__(self, name: str, k: Optional[int]):
        self.name = name
        self.k = k                                  # None: no speculation
        self.accept = int(os.environ.get("STANDIN_ACCEPT", "2"))
        self.lock = threading.Lock()
        self.counters = {"drafted": 0, "accepted": 0, "drafts": 0, "generation_tokens": 0, "prompt_tokens": 0,
                         "verify_steps": 0, "accept_length_sum": 0}

    def generate(self, text: str, max_tokens: int) -> Tuple[List[List[str]], Dict[str, int]]:
        """The output as chunks (one per step) and this request's counts."""
        words = text.split() or ["x"]
        out = [words[i % len(words)] for i in range(max_tokens)]
        chunks: List[List[str]] = [out[:1]] if out else []
        counts = {"drafted": 0, "accepted": 0, "steps": 0}
        i = len(chunks[0]) if chunks else 0
        while i < len(out):
            if self.k:
                take = min(min(self.k, self.accept) + 1, len(out) - i)
                counts["drafted"] += self.k
                counts["accepted"] += take - 1
                counts["steps"] += 1
            else:
                take = 1
            chunks.append(out[i:i + take])
            i += take
        with self.lock:
            c = self.counters
            c["generation_tokens"] += len(out)
            c["prompt_tokens"] += len(words)
            if self.k:
                c["drafted"] += counts["drafted"]
                c["accepted"] += counts["accepted"]
                c["drafts"] += counts["steps"]
                c["verify_steps"] += counts["steps"]
                c["accept_length_sum"] += counts["accepted"] + counts["steps"]
        return chunks, counts


def send_json(handler: BaseHTTPRequestHandler, status: int, obj: Any) -> None:
    """Answer ``obj`` as JSON with ``status`` (every stand-in's JSON replies)."""
    data = json.dumps(obj).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def _prompt_text(body: Dict[str, Any]) -> str:
    if "messages" in body:
        return " ".join(str(m.get("content", "")) for m in body["messages"] if isinstance(m, dict))
    return str(body.get("prompt", ""))


class Handler(BaseHTTPRequestHandler):
    """OpenAI routes + the server-specific extras a subclass adds through ``extra_get``."""

    server_version = "standin/1"
    model: Model
    extra_get: Dict[str, Any] = {}

    def log_message(self, fmt: str, *args: Any) -> None:      # the access log, to the server's log like uvicorn
        sys.stderr.write("INFO: " + (fmt % args) + "\n")

    def _json(self, status: int, obj: Any) -> None:
        send_json(self, status, obj)

    def do_GET(self) -> None:  # noqa: N802
        if self.path == "/health":
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/v1/models":
            self._json(200, {"object": "list", "data": [{"id": self.model.name, "object": "model"}]})
        elif self.path in self.extra_get:
            produce = self.extra_get[self.path]
            status, ctype, body = produce(self.model)
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self._json(404, {"detail": "Not Found"})

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            return self._json(400, {"error": {"message": "invalid JSON"}})
        if self.path not in ("/v1/chat/completions", "/v1/completions"):
            return self._json(404, {"detail": "Not Found"})
        if os.environ.get("STANDIN_CRASH_ON_REQUEST"):      # the engine dying mid-request (out of memory)
            print("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB", file=sys.stderr,
                  flush=True)
            os._exit(1)
        if body.get("model") != self.model.name:
            return self._json(404, {"error": {"message": f"The model `{body.get('model')}` does not exist."}})
        chat = self.path.endswith("chat/completions")
        chunks, _ = self.model.generate(_prompt_text(body), int(body.get("max_tokens") or 16))
        if not body.get("stream"):
            text = " ".join(w for c in chunks for w in c)
            choice = {"index": 0, "finish_reason": "length"}
            choice.update({"message": {"role": "assistant", "content": text}} if chat else {"text": text})
            return self._json(200, {"id": "cmpl-1", "model": self.model.name, "choices": [choice],
                                    "usage": {"completion_tokens": sum(map(len, chunks))}})
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        n = 0
        for i, words in enumerate(chunks):
            piece = ("" if i == 0 else " ") + " ".join(words)
            delta = {"delta": {"content": piece}} if chat else {"text": piece}
            last = i == len(chunks) - 1
            obj = {"id": "cmpl-1", "model": self.model.name,
                   "choices": [{"index": 0, **delta, "finish_reason": "length" if last else None}]}
            self.wfile.write(b"data: " + json.dumps(obj).encode() + b"\n\n")
            n += len(words)
        if (body.get("stream_options") or {}).get("include_usage"):
            usage = {"id": "cmpl-1", "model": self.model.name, "choices": [],
                     "usage": {"prompt_tokens": len(_prompt_text(body).split()), "completion_tokens": n}}
            self.wfile.write(b"data: " + json.dumps(usage).encode() + b"\n\n")
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()


def serve(handler: type, host: str, port: int, *, bind_error: str) -> int:
    """Serve until SIGTERM; a port that cannot be bound prints ``bind_error`` (the server's own words) → 1."""
    import signal

    try:
        httpd = ThreadingHTTPServer((host, port), handler)
    except OSError as exc:
        print(bind_error.format(host=host, port=port, err=exc), file=sys.stderr, flush=True)
        return 1
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=httpd.shutdown, daemon=True).start())
    print(f"INFO:     Uvicorn running on http://{host}:{port} (Press CTRL+C to quit)", file=sys.stderr, flush=True)
    try:
        httpd.serve_forever(poll_interval=0.1)
    finally:
        httpd.server_close()
    return 0


def spawn_worker() -> Any:
    """A child process like vLLM's engine core / SGLang's scheduler (in the server's process group); its pid is
    logged as ``worker pid N`` so tests can check it is stopped with the server."""
    import subprocess

    child = subprocess.Popen([sys.executable, "-c", "import time\nwhile True: time.sleep(1)"],
                             stdin=subprocess.DEVNULL)
    print(f"INFO: worker pid {child.pid}", file=sys.stderr, flush=True)
    return child


def load_delay() -> None:
    """``STANDIN_LOAD_S`` seconds of "loading the model" before the port opens (a real server's start)."""
    time.sleep(float(os.environ.get("STANDIN_LOAD_S", "0")))
