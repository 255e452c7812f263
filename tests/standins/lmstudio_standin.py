"""Stand-in for LM Studio's server (REST API v0 on 127.0.0.1): ``GET /api/v0/models`` (downloaded models with
``state`` loaded / not-loaded), ``POST /api/v0/chat/completions`` and ``/api/v0/completions`` (non-streamed
answers with ``usage`` and ``stats``; with ``draft_model`` the stats carry accepted / rejected / ignored / total
draft token counts), ``GET /v1/models``. A draft model it does not have is refused with HTTP 404, as LM Studio
does. Models come from ``STANDIN_LMS_MODELS`` (comma-separated keys). The ``lms`` stand-in
(:mod:`.lms_standin`) loads and unloads models through ``POST /standin/{load,unload}``.

Run: ``python -m tests.standins.lmstudio_standin PORT``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.standins import fakeserve

DEFAULT_MODELS = "qwen2.5-7b-instruct,qwen2.5-0.5b-instruct,qwen2.5-1.5b-instruct"


class State:
    def __init__(self) -> None:
        self.models = {k.strip(): "not-loaded" for k in os.environ.get("STANDIN_LMS_MODELS", DEFAULT_MODELS).split(",")
                       if k.strip()}
        self.engines = {}

    def engine(self, key: str, draft: bool) -> fakeserve.Model:
        if (key, draft) not in self.engines:
            self.engines[(key, draft)] = fakeserve.Model(key, 4 if draft else None)   # LM Studio's own K
        return self.engines[(key, draft)]


STATE = State()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        sys.stderr.write("[LM STUDIO SERVER] " + (fmt % args) + "\n")

    def _json(self, status, obj):
        fakeserve.send_json(self, status, obj)

    def do_GET(self):  # noqa: N802
        if self.path in ("/api/v0/models", "/v1/models"):
            data = [{"id": k, "object": "model", "type": "llm", "publisher": "lmstudio-community", "arch": "qwen2",
                     "compatibility_type": "gguf", "quantization": "Q4_K_M", "state": s, "max_context_length": 32768}
                    for k, s in STATE.models.items()]
            return self._json(200, {"object": "list", "data": data})
        self._json(404, {"error": f"Unexpected endpoint or method. (GET {self.path})"})

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        if self.path in ("/standin/load", "/standin/unload"):
            key = body.get("key")
            if key not in STATE.models:
                return self._json(404, {"error": f"Model not found: {key}"})
            STATE.models[key] = "loaded" if self.path.endswith("/load") else "not-loaded"
            return self._json(200, {"ok": True})
        if self.path not in ("/api/v0/chat/completions", "/api/v0/completions"):
            return self._json(404, {"error": f"Unexpected endpoint or method. (POST {self.path})"})
        key, draft = body.get("model"), body.get("draft_model")
        if key not in STATE.models:
            return self._json(404, {"error": {"message": f"Model \"{key}\" not found. Please specify a valid model.",
                                              "type": "invalid_request_error"}})
        if draft is not None and draft not in STATE.models:
            return self._json(404, {"error": {"message": f"Could not find draft model \"{draft}\"",
                                              "type": "invalid_request_error"}})
        STATE.models[key] = "loaded"                                   # JIT load on first request
        chat = "messages" in body
        text_in = " ".join(m.get("content", "") for m in body["messages"]) if chat else body.get("prompt", "")
        t0 = time.perf_counter()
        chunks, counts = STATE.engine(key, draft is not None).generate(text_in, int(body.get("max_tokens") or 16))
        gen_s = max(time.perf_counter() - t0, 1e-4) + 0.01
        text = " ".join(w for c in chunks for w in c)
        n = sum(map(len, chunks))
        stats = {"tokens_per_second": n / gen_s, "time_to_first_token": 0.005, "generation_time": gen_s,
                 "stop_reason": "maxPredictedTokensReached"}
        if draft is not None:
            stats.update(draft_model=draft, total_draft_tokens_count=counts["drafted"],
                         accepted_draft_tokens_count=counts["accepted"],
                         rejected_draft_tokens_count=counts["drafted"] - counts["accepted"],
                         ignored_draft_tokens_count=0)
        choice = {"index": 0, "logprobs": None, "finish_reason": "length"}
        choice.update({"message": {"role": "assistant", "content": text}} if chat else {"text": text})
        self._json(200, {"id": "chatcmpl-standin", "object": "chat.completion" if chat else "text_completion",
                         "created": int(time.time()), "model": key, "choices": [choice],
                         "usage": {"prompt_tokens": len(text_in.split()), "completion_tokens": n,
                                   "total_tokens": len(text_in.split()) + n},
                         "stats": stats, "model_info": {"arch": "qwen2", "quant": "Q4_K_M", "format": "gguf",
                                                        "context_length": 4096},
                         "runtime": {"name": "llama.cpp-linux-x86_64-standin", "version": "1.0.0",
                                     "supported_formats": ["gguf"]}})


def main(argv):
    port = int(argv[0]) if argv else 1234
    httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    import signal
    import threading

    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=httpd.shutdown, daemon=True).start())
    httpd.serve_forever(poll_interval=0.1)
    httpd.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
