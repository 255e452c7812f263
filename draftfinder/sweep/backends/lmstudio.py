"""``lmstudio`` backend: a running LM Studio server, the draft model passed per request, LM Studio's own stats.

LM Studio's REST API v0 (lmstudio.ai/docs/developer/rest/endpoints, "REST API v0", LM Studio ≥ 0.3.6;
lmstudio-ai/docs ``1_developer/2_rest/endpoints.mdx``): ``GET /api/v0/models`` lists downloaded models with
``state`` loaded / not-loaded; ``POST /api/v0/chat/completions`` (chat prompts) and ``POST /api/v0/completions``
answer with ``usage`` and ``stats`` (``tokens_per_second``, ``time_to_first_token``, ``generation_time``,
``stop_reason``). Speculative decoding (lmstudio.ai/docs/python/llm-prediction/speculative-decoding): the draft
is named per prediction (``draftModel`` in the SDKs, ``draft_model`` in the REST body) and "you do not need to
load the draft model separately"; the stats then carry ``accepted_draft_tokens_count``,
``rejected_draft_tokens_count``, ``ignored_draft_tokens_count`` and ``total_draft_tokens_count``.

- Server: ``settings.server_url`` (default ``http://127.0.0.1:1234``). Not reachable and the ``lms`` CLI present
  (``settings.server_bin`` or PATH) → ``lms server start [--port P]``, then the server is awaited and — because
  we started it — stopped with ``lms server stop`` when the sweep ends (also at interpreter exit). Not reachable
  and no CLI → one line: start LM Studio's server (Developer tab or ``lms server start``) or fix server_url.
- Models: an entry's ``model`` is LM Studio's model key; else its ``path`` is matched against the ids of
  ``/api/v0/models`` (the id itself, or a GGUF file name's stem, case-insensitive). A target that is not loaded
  is loaded with ``lms load KEY --context-length CTX -y`` when the CLI is present, once per sweep (and
  unloaded with ``lms unload KEY`` when the sweep ends); without the CLI LM Studio loads it on first request (JIT).
- Requests are not streamed: the stats above come with the non-streamed answer. ``ttft_s`` and ``prompt_s`` are
  LM Studio's ``time_to_first_token``, ``tps`` its ``tokens_per_second`` (``tps_source="server"``), ``total_s``
  our wall time. K is LM Studio's to choose (its REST API takes the draft, not K): one cell per draft.
- A draft cell whose stats carry no draft counts did not draft: ``speculative=False`` and a ``flag``.
"""

from __future__ import annotations

import http.client
import json
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from draftfinder.errors import EndpointError, UsageError
from draftfinder.measure.prompts import Prompt
from draftfinder.sweep.backends.base import Generation, close_at_exit
from draftfinder.sweep.backends.openai import _one_line, _server_message
from draftfinder.sweep.config import Entry, Settings

DEFAULT_URL = "http://127.0.0.1:1234"
CHAT, COMPLETIONS, MODELS = "/api/v0/chat/completions", "/api/v0/completions", "/api/v0/models"
START_WAIT_S = 60.0            # after `lms server start`, until /api/v0/models answers
CLI_TIMEOUT_S = 600.0          # `lms load` of a large model
DRAFT_STATS = ("total_draft_tokens_count", "accepted_draft_tokens_count", "rejected_draft_tokens_count",
               "ignored_draft_tokens_count")
NOT_DRAFTING = "LM Studio's stats carry no draft token counts: it did not draft with this draft model"

_STARTED: List["LMStudioBackend"] = []
close_at_exit(_STARTED)


def model_key(entry: Entry, ids: List[str]) -> str:
    """LM Studio's key for a config entry (module doc); raises naming the keys LM Studio has."""
    if entry.model:
        return entry.model
    name = str(entry.path or "")
    if name in ids:
        return name
    stem = Path(name).name
    for candidate in (stem, Path(stem).stem):
        for i in ids:
            if i.lower() == candidate.lower() or i.lower().split("/")[-1] == candidate.lower():
                return i
    shown = ", ".join(ids[:8]) + (" …" if len(ids) > 8 else "") if ids else "none"
    raise UsageError(f"'{entry.label}': LM Studio has no model matching '{name}' (its models: {shown})",
                     hint=f"set \"model\" of '{entry.label}' to LM Studio's model key (`lms ls`), or download it")


class LMStudioClient:
    """HTTP to one LM Studio server (standard library; no proxy for loopback)."""

    def __init__(self, base: str, timeout_s: float):
        self.base = base.rstrip("/")
        self.timeout_s = timeout_s
        host = urllib.parse.urlsplit(self.base).hostname or ""
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({})) \
            if host in ("127.0.0.1", "localhost", "::1") else urllib.request.build_opener()

    def call(self, method: str, route: str, body: Optional[Dict[str, Any]] = None,
             timeout: Optional[float] = None) -> Dict[str, Any]:
        url = self.base + route
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"} if data else {})
        try:
            with self._opener.open(req, timeout=timeout or self.timeout_s) as resp:
                return json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            with exc:
                msg = _server_message(exc.read(64 * 1024))
            raise EndpointError(f"LM Studio answered HTTP {exc.code} to {route}: {msg}",
                                hint="check the model keys (`lms ls`) and LM Studio's server log "
                                     "(`lms log stream`)") from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", exc)
            raise EndpointError(f"LM Studio is not reachable at {self.base} ({_one_line(str(reason), 120)})",
                                hint="start its server (LM Studio's Developer tab, or `lms server start`), or set "
                                     "settings.server_url to where it listens") from None
        except ValueError:
            raise EndpointError(f"{url} did not answer JSON", hint="check that settings.server_url points at "
                                "LM Studio (default http://127.0.0.1:1234)") from None

    def reachable(self) -> bool:
        try:
            self.call("GET", MODELS, timeout=5.0)
            return True
        except EndpointError:
            return False


class LMStudioSession:
    """One cell: a target (loaded) and a draft model named per request."""

    def __init__(self, backend: "LMStudioBackend", target: str, draft: Optional[str], setup: List[List[str]]):
        self.backend = backend
        self.target, self.draft = target, draft
        # the call each request makes, after the lms commands that prepared this target (if any)
        self.command = [" ".join(argv) for argv in setup] + \
            ["POST", backend.client.base + "/api/v0/{chat/completions|completions}", f"model={target}",
             "stream=false"] + ([f"draft_model={draft}"] if draft else [])

    def generate(self, prompt: Prompt, settings: Settings) -> Generation:
        route = CHAT if prompt.is_chat else COMPLETIONS
        body: Dict[str, Any] = {"model": self.target, "max_tokens": int(settings.max_tokens),
                                "temperature": float(settings.temperature), "seed": int(settings.seed),
                                "stream": False}
        if prompt.is_chat:
            body["messages"] = [{"role": "user", "content": prompt.text}]
        else:
            body["prompt"] = prompt.text
        if self.draft:
            body["draft_model"] = self.draft
        t0 = time.perf_counter()
        out = self.backend.client.call("POST", route, body, timeout=settings.timeout_s)
        total = time.perf_counter() - t0
        return self._generation(out, total, route)

    def _generation(self, out: Dict[str, Any], total: float, route: str) -> Generation:
        stats = out.get("stats") if isinstance(out.get("stats"), dict) else {}
        usage = out.get("usage") if isinstance(out.get("usage"), dict) else {}
        choice = (out.get("choices") or [{}])[0]
        text = str((choice.get("message") or {}).get("content") or choice.get("text") or "")
        tokens = int(usage.get("completion_tokens") or 0)
        ttft = stats.get("time_to_first_token")
        ttft = float(ttft) if ttft is not None else None
        if stats.get("tokens_per_second") is not None:
            tps, source = float(stats["tokens_per_second"]), "server"
        else:
            from draftfinder.sweep.backends.base import decode_tps

            tps, source = decode_tps(tokens, total, ttft)
        extra: Dict[str, Any] = {"route": route, "stats": dict(stats), "model": self.target,
                                 "stop_reason": stats.get("stop_reason"), "runtime": out.get("runtime")}
        g = Generation(tokens=tokens, total_s=total, tps=tps, tps_source=source, ttft_s=ttft, prompt_s=ttft,
                       prompt_tokens=usage.get("prompt_tokens"), text=text, extra=extra)
        if self.draft:
            extra["draft_model"] = self.draft
            if stats.get("total_draft_tokens_count") is not None:
                g.drafted = int(stats["total_draft_tokens_count"])
                g.accepted = int(stats.get("accepted_draft_tokens_count") or 0)
                g.speculative = True
                extra["acceptance_source"] = "LM Studio stats"
            else:
                g.speculative = False
                extra["flag"] = NOT_DRAFTING
        return g

    def close(self) -> None:
        """Nothing per cell: models we loaded are unloaded by :meth:`LMStudioBackend.close`."""


class LMStudioBackend:
    """Talks to LM Studio (module doc); starts its server / loads models only through the ``lms`` CLI."""

    name = "lmstudio"

    def __init__(self, cfg: Any, options: Dict[str, Any]):
        self.cfg, self.options = cfg, dict(options or {})
        s = cfg.settings
        self.client = LMStudioClient(s.server_url or DEFAULT_URL, s.timeout_s)
        self.cli = self._find_cli(s.server_bin)
        self.started_server = False
        self.cli_calls: List[List[str]] = []
        self.loaded: List[str] = []                 # model keys this backend loaded (unloaded by close)
        if not self.client.reachable():
            if self.cli is None:
                self.client.call("GET", MODELS, timeout=5.0)          # raises the one-line "not reachable"
            self._start_server()

    @staticmethod
    def _find_cli(server_bin: Optional[str]) -> Optional[str]:
        if server_bin:
            path = shutil.which(server_bin) or (server_bin if Path(server_bin).expanduser().is_file() else None)
            if path is None:
                raise UsageError(f"settings.server_bin '{server_bin}' does not exist",
                                 hint="give the path of LM Studio's lms CLI (~/.lmstudio/bin/lms), or remove it")
            return str(Path(path).expanduser())
        return shutil.which("lms") or next((str(p) for p in [Path.home() / ".lmstudio" / "bin" / "lms"]
                                            if p.is_file()), None)

    def lms(self, args: List[str], *, check: bool = True) -> Tuple[int, str]:
        """Run the ``lms`` CLI; a failure (``check``) is an error quoting its last line."""
        assert self.cli is not None
        argv = [self.cli] + args
        self.cli_calls.append(argv)
        try:
            out = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=CLI_TIMEOUT_S)
            code, text = out.returncode, (out.stdout + out.stderr).decode("utf-8", errors="replace")
        except (OSError, subprocess.TimeoutExpired) as exc:
            code, text = -1, str(exc)
        if code != 0 and check:
            rows = [r.strip() for r in text.splitlines() if r.strip()]
            raise EndpointError(f"`lms {' '.join(args)}` failed: {rows[-1][:200] if rows else f'exit {code}'}",
                                hint="run the same lms command by hand to see why")
        return code, text

    def _start_server(self) -> None:
        port = urllib.parse.urlsplit(self.client.base).port
        self.lms(["server", "start"] + (["--port", str(port)] if port else []))
        self.started_server = True
        _STARTED.append(self)
        deadline = time.monotonic() + START_WAIT_S
        while not self.client.reachable():
            if time.monotonic() > deadline:
                raise EndpointError(f"`lms server start` ran but LM Studio did not answer at {self.client.base} "
                                    f"within {START_WAIT_S:.0f} s", hint="check settings.server_url and `lms status`")
            time.sleep(0.25)

    def models(self) -> Dict[str, Dict[str, Any]]:
        data = self.client.call("GET", MODELS, timeout=10.0).get("data") or []
        return {str(m["id"]): m for m in data if isinstance(m, dict) and m.get("id")}

    def open(self, target: Entry, draft: Optional[Entry], k: Optional[int], settings: Settings) -> LMStudioSession:
        if draft is not None and draft.type != "model":
            raise UsageError(f"draft '{draft.label}': LM Studio drafts with a draft model only (not {draft.type})",
                             hint="run ngram/layerskip drafts with backend engine or llamacpp")
        models = self.models()
        key = model_key(target, list(models))
        draft_key = model_key(draft, list(models)) if draft is not None else None
        if models.get(key, {}).get("state") != "loaded" and self.cli is not None and key not in self.loaded:
            self.loaded.append(key)
            if self not in _STARTED:
                _STARTED.append(self)
            self.lms(["load", key, "--context-length", str(settings.ctx_size), "-y"])
        setup = [argv for argv in self.cli_calls if argv[1:2] == ["server"] or argv[2:3] == [key]]
        return LMStudioSession(self, key, draft_key, [a for a in setup if "stop" not in a and "unload" not in a])

    def close(self) -> None:
        """Unload the models this backend loaded, stop the server if it started it; idempotent."""
        while self.loaded:
            self.lms(["unload", self.loaded.pop()], check=False)
        if self.started_server:
            self.started_server = False
            self.lms(["server", "stop"], check=False)
        if self in _STARTED:
            _STARTED.remove(self)

    def describe(self) -> Dict[str, Any]:
        return {"backend": "lmstudio", "server_url": self.client.base, "api": "REST API v0 (/api/v0)",
                "lms": self.cli, "started_server": self.started_server,
                "acceptance_sources": ["LM Studio stats (accepted/total draft tokens)"]}
