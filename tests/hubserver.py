"""A loopback Hugging Face Hub: real files over real HTTP, for tests and benchmarks.

``with HubServer() as hub:`` serves every fixture folder of ``../shared/fixtures`` as a model repository on
``hub.url`` (127.0.0.1, a free port), speaking the part of the Hub's HTTP API that huggingface_hub 2.4 uses to
read models. Point ``HubSource(endpoint=hub.url)`` (or ``HfApi(endpoint=hub.url)``) at it.

What it implements, as huggingface_hub calls it (see huggingface_hub/hf_api.py, file_download.py, utils/_http.py):

- ``GET /api/models/{repo}`` and ``/api/models/{repo}/revision/{rev}``: model info with ``sha``, ``author``,
  ``tags``, ``downloads``, ``gated``, ``siblings`` (sizes, ``blobId`` and ``lfs`` with ``?blobs=true``) and a
  ``safetensors`` block; ``?expand=`` returns only the named properties (400 for an unknown one).
- ``GET /api/models?search=&author=&filter=&sort=&direction=&limit=&full=&config=&expand=``, paginated with a
  ``Link: <...>; rel="next"`` header (``page_size``).
- ``HEAD``/``GET /{repo}/resolve/{rev}/{path}``: regular files answer ``307`` to
  ``/api/resolve-cache/models/{repo}/{commit}/{path}`` on the same host (``X-Repo-Commit``, ``ETag`` = git blob
  sha1, ``Content-Length``); LFS files (``*.model``, weights, anything over 10 MiB) answer ``302`` to a second
  loopback server standing in for the CDN, with ``X-Linked-Etag`` (sha256) and ``X-Linked-Size``, so
  huggingface_hub stops at the redirect on HEAD and downloads from the "CDN" without the Authorization header.
  ``Range`` requests get ``206``.
- Errors carry ``X-Error-Code`` (``RepoNotFound``, ``RevisionNotFound``, ``EntryNotFound``, ``GatedRepo``) and
  ``X-Error-Message``, as the Hub's do; unknown repos answer 401 without a token and 404 with one.
- Short aliases (``gpt2``, ``distilgpt2``, ``gpt2-large``) answer ``307`` to the canonical repository.

Weights are virtual. Each repository with a ``config.json`` lists the safetensors files transformers would
write for it (``model.safetensors``, or 5 GB shards plus ``model.safetensors.index.json``), with the real tensor
names, shapes and dtype: the model is instantiated from the real config on the meta device, so parameter counts
and sizes are computed, not invented. Their header bytes are real; their data bytes are zeros; Range reads of up
to 1 MiB are served (enough for ``get_safetensors_metadata``), anything larger answers 501. Their LFS oid is a
sha256 of header and size (the content is never materialised).

Knobs: :meth:`HubServer.gate` (401 without a token, 403 with a token not in the allow-list),
:meth:`HubServer.fail` (force a status, e.g. 429 with ``Retry-After``), :meth:`HubServer.delay` (for timeouts),
and :attr:`HubServer.requests`, a log of (server, method, path, whether Authorization was sent, Range, status)
that never holds a token value.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import struct
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Tuple, Union
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"

LFS_SUFFIXES = (".model", ".safetensors", ".bin", ".gguf", ".pt", ".pth", ".h5", ".msgpack", ".onnx")
LFS_MIN_BYTES = 10 * 1024 * 1024           # the Hub stores files above 10 MiB with LFS
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt", ".pth")
MAX_SHARD_BYTES = 5_000_000_000            # transformers 4.x default max_shard_size="5GB"
MAX_VIRTUAL_RANGE = 1024 * 1024            # bytes of a virtual weight file served per Range request
DTYPE_KEYS = {"bfloat16": "BF16", "float16": "F16", "float32": "F32", "float64": "F64", "int8": "I8"}
DTYPE_BYTES = {"BF16": 2, "F16": 2, "F32": 4, "F64": 8, "I8": 1}

# Download counts used for ordering (illustrative orders of magnitude, not the Hub's current figures).
DOWNLOADS = {
    "openai-community/gpt2": 10_000_000, "meta-llama/Llama-3.1-8B-Instruct": 5_000_000,
    "facebook/opt-125m": 4_000_000, "Qwen/Qwen2.5-7B-Instruct": 2_500_000,
    "meta-llama/Llama-3.2-1B-Instruct": 2_000_000, "distilbert/distilgpt2": 2_000_000,
    "meta-llama/Llama-3.2-3B-Instruct": 1_800_000, "meta-llama/Llama-3.2-1B": 1_500_000,
    "TinyLlama/TinyLlama-1.1B-Chat-v1.0": 1_300_000, "Qwen/Qwen2.5-0.5B": 1_100_000,
    "meta-llama/Llama-2-7b-chat-hf": 800_000, "meta-llama/Llama-2-7b-hf": 700_000,
    "openai-community/gpt2-large": 700_000, "Qwen/Qwen2.5-1.5B": 600_000, "Qwen/Qwen2.5-7B": 450_000,
    "mistralai/Mistral-7B-v0.1": 400_000, "HuggingFaceTB/SmolLM2-135M": 300_000, "facebook/opt-1.3b": 300_000,
    "HuggingFaceTB/SmolLM2-360M": 150_000, "HuggingFaceTB/SmolLM2-1.7B": 120_000, "facebook/opt-6.7b": 100_000,
    "codellama/CodeLlama-7b-hf": 60_000,
}
# Fixture folders named by a legacy short id: canonical Hub id and the aliases that redirect to it.
LEGACY_FOLDERS = {"gpt2": "openai-community/gpt2", "distilgpt2": "distilbert/distilgpt2"}
ALIASES = {"openai-community/gpt2": ("gpt2",), "distilbert/distilgpt2": ("distilgpt2",),
           "openai-community/gpt2-large": ("gpt2-large",)}


@dataclass
class RepoSpec:
    """One model repository served from a real folder."""

    repo_id: str
    folder: Path
    aliases: Tuple[str, ...] = ()
    downloads: int = 0
    likes: int = 0
    gated: Union[bool, str] = False          # False | "auto" | "manual"
    private: bool = False
    allowed_tokens: Tuple[str, ...] = ()     # tokens that may read a gated/private repo
    weights: bool = True                     # list virtual safetensors weights (needs config.json)
    pipeline_tag: str = "text-generation"
    library_name: str = "transformers"
    extra_tags: Tuple[str, ...] = ()

    @property
    def author(self) -> Optional[str]:
        return self.repo_id.split("/", 1)[0] if "/" in self.repo_id else None


def default_repos(fixtures_dir: Path = FIXTURES) -> Dict[str, RepoSpec]:
    """Every fixture folder as a repository, by canonical Hub id (folder ``a__b`` -> ``a/b``)."""
    repos: Dict[str, RepoSpec] = {}
    for folder in sorted(Path(fixtures_dir).iterdir()):
        if not folder.is_dir() or not any(folder.iterdir()):
            continue
        repo_id = LEGACY_FOLDERS.get(folder.name, folder.name.replace("__", "/"))
        repos[repo_id] = RepoSpec(repo_id, folder, aliases=ALIASES.get(repo_id, ()),
                                  downloads=DOWNLOADS.get(repo_id, 1_000), likes=DOWNLOADS.get(repo_id, 1_000) // 1000)
    return repos


# --- virtual weights ------------------------------------------------------------------------------------

@dataclass
class Shard:
    name: str
    header: bytes          # 8-byte little-endian length + JSON header, as in a real .safetensors file
    data_bytes: int

    @property
    def size(self) -> int:
        return len(self.header) + self.data_bytes


@dataclass
class WeightLayout:
    """The safetensors files transformers would write for a config (names, shapes, dtype from the real model)."""

    dtype: str
    total_parameters: int
    shards: List[Shard]
    index: Optional[dict]  # model.safetensors.index.json when sharded

    @property
    def safetensors_block(self) -> dict:
        return {"parameters": {self.dtype: self.total_parameters}, "total": self.total_parameters}


_layout_cache: Dict[str, WeightLayout] = {}
_layout_lock = threading.Lock()


def weight_layout(folder: Path) -> WeightLayout:
    """Instantiate ``folder``'s config with transformers on the meta device and lay out its weights.

    Parameters are counted once each (tied embeddings are one tensor, as in the saved file). The dtype key is
    the config's ``torch_dtype``/``dtype`` (F32 when absent, as transformers saves). Cached per folder.
    """
    key = str(Path(folder).resolve())
    with _layout_lock:
        if key not in _layout_cache:
            _layout_cache[key] = _compute_layout(Path(folder))
        return _layout_cache[key]


def _compute_layout(folder: Path) -> WeightLayout:
    import logging

    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    raw = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    dtype = DTYPE_KEYS.get(str(raw.get("torch_dtype") or raw.get("dtype") or "float32"), "F32")
    tf_log = logging.getLogger("transformers")
    level = tf_log.level
    tf_log.setLevel(logging.ERROR)
    try:
        config = AutoConfig.from_pretrained(str(folder))
        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(config)
    finally:
        tf_log.setLevel(level)
    tensors = [(name, list(p.shape), p.numel()) for name, p in model.named_parameters()]
    total = sum(n for _, _, n in tensors)
    return _shard(tensors, dtype, total)


def _shard(tensors: List[Tuple[str, List[int], int]], dtype: str, total: int) -> WeightLayout:
    width = DTYPE_BYTES[dtype]
    groups: List[List[Tuple[str, List[int], int]]] = [[]]
    size = 0
    for t in tensors:
        if groups[-1] and size + t[2] * width > MAX_SHARD_BYTES:
            groups.append([])
            size = 0
        groups[-1].append(t)
        size += t[2] * width
    n = len(groups)
    names = ["model.safetensors"] if n == 1 else [f"model-{i + 1:05d}-of-{n:05d}.safetensors" for i in range(n)]
    shards = [Shard(name, _header(group, dtype), sum(t[2] for t in group) * width)
              for name, group in zip(names, groups, strict=True)]
    index = None
    if n > 1:
        index = {"metadata": {"total_size": total * width},
                 "weight_map": {t[0]: name for name, group in zip(names, groups, strict=True) for t in group}}
    return WeightLayout(dtype, total, shards, index)


def _header(group: List[Tuple[str, List[int], int]], dtype: str) -> bytes:
    entries: Dict[str, dict] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, shape, numel in group:
        end = offset + numel * DTYPE_BYTES[dtype]
        entries[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, end]}
        offset = end
    body = json.dumps(entries, separators=(",", ":")).encode()
    body += b" " * (-len(body) % 8)
    return struct.pack("<Q", len(body)) + body


# --- repositories as served -----------------------------------------------------------------------------

@dataclass
class RepoFile:
    name: str
    size: int
    blob_id: str                       # git blob sha1 (of the LFS pointer for LFS files)
    lfs_oid: Optional[str] = None      # sha256 for LFS files
    content: Optional[bytes] = None    # real files (and generated index); None for virtual weights
    header: Optional[bytes] = None     # virtual weights: the real header bytes; the rest is zeros

    @property
    def is_lfs(self) -> bool:
        return self.lfs_oid is not None

    @property
    def etag(self) -> str:
        return self.lfs_oid or self.blob_id

    def read(self, start: int, end: int) -> bytes:
        """Bytes ``start..end`` inclusive."""
        if self.content is not None:
            return self.content[start:end + 1]
        head = self.header[start:end + 1] if start < len(self.header) else b""
        return head + bytes(end + 1 - start - len(head))


def _git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _lfs_pointer(oid: str, size: int) -> bytes:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {size}\n".encode()


def _real_file(name: str, data: bytes) -> RepoFile:
    if name.endswith(LFS_SUFFIXES) or len(data) > LFS_MIN_BYTES:
        oid = hashlib.sha256(data).hexdigest()
        return RepoFile(name, len(data), _git_blob_sha1(_lfs_pointer(oid, len(data))), oid, content=data)
    return RepoFile(name, len(data), _git_blob_sha1(data), content=data)


def _virtual_file(shard: Shard) -> RepoFile:
    oid = hashlib.sha256(shard.header + str(shard.size).encode()).hexdigest()
    return RepoFile(shard.name, shard.size, _git_blob_sha1(_lfs_pointer(oid, shard.size)), oid, header=shard.header)


class Repo:
    """A :class:`RepoSpec` realised: files with their hashes, the commit sha, the Hub's JSON for it."""

    def __init__(self, spec: RepoSpec):
        self.spec = spec

    @cached_property
    def files(self) -> Dict[str, RepoFile]:
        out = {p.name: _real_file(p.name, p.read_bytes())
               for p in sorted(self.spec.folder.iterdir()) if p.is_file() and not p.name.startswith(".")}
        if self.layout is not None:
            for shard in self.layout.shards:
                out[shard.name] = _virtual_file(shard)
            if self.layout.index is not None:
                name = "model.safetensors.index.json"
                out[name] = _real_file(name, json.dumps(self.layout.index, indent=2).encode())
        return dict(sorted(out.items()))

    @property
    def has_weights(self) -> bool:
        return self.spec.weights and (self.spec.folder / "config.json").exists()

    @cached_property
    def layout(self) -> Optional[WeightLayout]:
        return weight_layout(self.spec.folder) if self.has_weights else None

    @cached_property
    def sha(self) -> str:
        """A deterministic 40-hex commit id over the file names and blob ids."""
        tree = "".join(f"{f.name}\0{f.blob_id}\n" for f in self.files.values())
        return hashlib.sha1(f"{self.spec.repo_id}\n{tree}".encode()).hexdigest()

    @cached_property
    def config(self) -> dict:
        path = self.spec.folder / "config.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}

    @cached_property
    def tokenizer_config(self) -> dict:
        path = self.spec.folder / "tokenizer_config.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}

    @cached_property
    def last_modified(self) -> str:
        mtime = max((p.stat().st_mtime for p in self.spec.folder.iterdir()), default=0)
        return datetime.fromtimestamp(mtime, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")

    @property
    def tags(self) -> List[str]:
        tags = [self.spec.library_name]
        if self.has_weights:
            tags.append("safetensors")
        if self.config.get("model_type"):
            tags.append(self.config["model_type"])
        tags.append(self.spec.pipeline_tag)
        if self.tokenizer_config.get("chat_template"):
            tags.append("conversational")
        tags += list(self.spec.extra_tags) + ["region:us"]
        return list(dict.fromkeys(tags))

    def list_item(self) -> dict:
        """What ``GET /api/models`` returns per model by default (cheap: no weight layout needed)."""
        return {
            "_id": hashlib.sha1(self.spec.repo_id.encode()).hexdigest()[:24], "id": self.spec.repo_id,
            "likes": self.spec.likes, "trendingScore": 0,
            "private": self.spec.private, "downloads": self.spec.downloads, "tags": self.tags,
            "pipeline_tag": self.spec.pipeline_tag, "library_name": self.spec.library_name,
            "createdAt": self.last_modified, "modelId": self.spec.repo_id,
        }

    def info(self, *, blobs: bool = False, config: bool = True) -> dict:
        """What ``GET /api/models/{repo}`` returns (the Hub's default property set)."""
        data = self.list_item()
        data.update({
            "author": self.spec.author, "sha": self.sha, "lastModified": self.last_modified,
            "gated": self.spec.gated, "disabled": False, "spaces": [],
            "siblings": [self._sibling(f, blobs) for f in self.files.values()],
            "usedStorage": sum(f.size for f in self.files.values()),
        })
        if config:
            data["config"] = self._config_summary()
            data["transformersInfo"] = {"auto_model": "AutoModelForCausalLM", "pipeline_tag": self.spec.pipeline_tag,
                                        "processor": "AutoTokenizer"}
        if self.layout is not None:
            data["safetensors"] = self.layout.safetensors_block
        return data

    def _config_summary(self) -> dict:
        summary = {k: self.config[k] for k in ("architectures", "model_type") if k in self.config}
        tok = {k: v for k, v in self.tokenizer_config.items()
               if k in ("bos_token", "eos_token", "pad_token", "unk_token", "chat_template")}
        if tok:
            summary["tokenizer_config"] = tok
        return summary

    @staticmethod
    def _sibling(f: RepoFile, blobs: bool) -> dict:
        if not blobs:
            return {"rfilename": f.name}
        out = {"rfilename": f.name, "size": f.size, "blobId": f.blob_id}
        if f.is_lfs:
            out["lfs"] = {"sha256": f.lfs_oid, "size": f.size, "pointerSize": len(_lfs_pointer(f.lfs_oid, f.size))}
        return out


# --- the server -----------------------------------------------------------------------------------------

PathMatch = Union[str, "re.Pattern[str]", Callable[[str], bool]]


@dataclass
class LoggedRequest:
    """One request as the server saw it. ``authorized`` says whether a token was sent, never which."""

    server: str            # "hub" | "cdn"
    method: str
    path: str              # percent-decoded, without the query
    query: Dict[str, List[str]]
    authorized: bool
    range: Optional[str]
    status: int = 0

    @property
    def is_weight(self) -> bool:
        return self.path.endswith(WEIGHT_SUFFIXES)


@dataclass
class _Rule:
    match: PathMatch
    times: Optional[int]
    status: int = 0
    headers: Dict[str, str] = field(default_factory=dict)
    message: str = ""
    error_code: Optional[str] = None
    seconds: float = 0.0

    def applies(self, path: str) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        if isinstance(self.match, str):
            ok = path == self.match
        elif isinstance(self.match, re.Pattern):
            ok = self.match.search(path) is not None
        else:
            ok = bool(self.match(path))
        if ok and self.times is not None:
            self.times -= 1
        return ok


@dataclass
class _Response:
    status: int
    headers: Dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    length: Optional[int] = None       # Content-Length when it differs from len(body) (HEAD of a virtual file)


class HubServer:
    """A loopback Hub (plus a loopback "CDN" for LFS files); use as a context manager."""

    def __init__(self, repos: Union[None, Mapping[str, RepoSpec], Iterable[RepoSpec]] = None, *,
                 page_size: int = 1000, port: int = 0):
        specs = default_repos() if repos is None else repos
        specs = list(specs.values()) if isinstance(specs, Mapping) else list(specs)
        self.repos: Dict[str, Repo] = {s.repo_id: Repo(s) for s in specs}
        self.page_size = page_size
        self.port = port
        self._aliases = {a: s.repo_id for s in specs for a in s.aliases}
        self._log: List[LoggedRequest] = []
        self._failures: List[_Rule] = []
        self._delays: List[_Rule] = []
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)   # notified when no request is being handled
        self._inflight = 0
        self._stop = threading.Event()
        self._servers: Dict[str, ThreadingHTTPServer] = {}
        self._threads: List[threading.Thread] = []
        self._conns: set = set()

    # --- lifecycle ------------------------------------------------------------------------------------
    def __enter__(self) -> "HubServer":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        for role in ("hub", "cdn"):
            server = _Server(("127.0.0.1", self.port if role == "hub" else 0), _Handler)
            server.hub, server.role = self, role
            self._servers[role] = server
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                      name=f"loopback-{role}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop serving. Delayed requests are cut short and answered before the connections are closed."""
        self._stop.set()
        with self._idle:
            self._idle.wait_for(lambda: self._inflight == 0, timeout=5)
        for server in self._servers.values():
            server.shutdown()
            server.server_close()
        with self._lock:
            conns, self._conns = list(self._conns), set()
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for thread in self._threads:
            thread.join(timeout=5)

    @property
    def url(self) -> str:
        host, port = self._servers["hub"].server_address[:2]
        return f"http://{host}:{port}"

    @property
    def cdn_url(self) -> str:
        host, port = self._servers["cdn"].server_address[:2]
        return f"http://{host}:{port}"

    # --- knobs ----------------------------------------------------------------------------------------
    def add_repo(self, spec: RepoSpec) -> None:
        self.repos[spec.repo_id] = Repo(spec)
        self._aliases.update({a: spec.repo_id for a in spec.aliases})

    def gate(self, repo_id: str, allowed_tokens: Iterable[str] = (), mode: str = "manual") -> None:
        """Make ``repo_id`` gated: files answer 401 without a token, 403 with a token not in ``allowed_tokens``."""
        spec = self.repos[repo_id].spec
        spec.gated, spec.allowed_tokens = mode, tuple(allowed_tokens)

    def make_private(self, repo_id: str, allowed_tokens: Iterable[str] = ()) -> None:
        """Make ``repo_id`` private: it answers like a missing repo (401 / 404) to anyone not in the allow-list."""
        spec = self.repos[repo_id].spec
        spec.private, spec.allowed_tokens = True, tuple(allowed_tokens)

    def fail(self, path: PathMatch, status: int = 429, *, retry_after: Optional[str] = None,
             times: Optional[int] = None, message: str = "", error_code: Optional[str] = None,
             headers: Optional[Dict[str, str]] = None) -> None:
        """Answer requests whose path matches (exact string, regex or predicate) with ``status``."""
        extra = dict(headers or {})
        if retry_after is not None:
            extra["Retry-After"] = str(retry_after)
        self._failures.append(_Rule(path, times, status, extra, message or f"forced HTTP {status}", error_code))

    def delay(self, path: PathMatch, seconds: float, *, times: Optional[int] = None) -> None:
        """Wait ``seconds`` before answering requests whose path matches."""
        self._delays.append(_Rule(path, times, seconds=seconds))

    def warm(self, *repo_ids: str) -> None:
        """Compute the weight layouts (meta-device models) now, so the first request is not slow."""
        for repo_id in repo_ids or list(self.repos):
            _ = self.repos[repo_id].files

    # --- request log ----------------------------------------------------------------------------------
    @property
    def requests(self) -> List[LoggedRequest]:
        with self._lock:
            return list(self._log)

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()

    def paths(self, method: Optional[str] = None, server: Optional[str] = None) -> List[str]:
        return [r.path for r in self.requests
                if (method is None or r.method == method) and (server is None or r.server == server)]

    def weight_requests(self) -> List[LoggedRequest]:
        return [r for r in self.requests if r.is_weight]

    # --- request handling (called from server threads) -----------------------------------------------
    def _handle(self, role: str, method: str, raw_path: str, query: Dict[str, List[str]],
                token: Optional[str], range_header: Optional[str]) -> _Response:
        path = unquote(raw_path)
        for rule in list(self._delays):
            if rule.applies(path):
                self._stop.wait(rule.seconds)
        for rule in list(self._failures):
            if rule.applies(path):
                return _error(rule.status, rule.error_code, rule.message, rule.headers)
        if role == "cdn":
            return self._cdn(method, path, range_header)
        if path == "/api/agent-harnesses":
            return _json({"standardEnvVars": [], "harnesses": {}})
        if path == "/api/models":
            return self._list(query)
        if path.startswith("/api/models/"):
            return self._info(raw_path[len("/api/models/"):], query, token)
        if path.startswith("/api/resolve-cache/models/"):
            return self._resolve_cache(method, raw_path[len("/api/resolve-cache/models/"):], token, range_header)
        if "/resolve/" in raw_path:
            return self._resolve(method, raw_path, query, token)
        return _error(404, None, "Not Found")

    def _find(self, repo_id: str, token: Optional[str], *, files: bool) -> Tuple[Optional[Repo], Optional[_Response]]:
        """The repo, or the error the Hub gives for it (not found / private / gated)."""
        repo = self.repos.get(repo_id)
        spec = repo.spec if repo else None
        if spec is None or (spec.private and token not in spec.allowed_tokens):
            return None, _error(404 if token else 401, "RepoNotFound", "Repository not found")
        if files and spec.gated and token not in spec.allowed_tokens:
            if token is None:
                return None, _error(401, "GatedRepo", f"Access to model {repo_id} is restricted. You must have access "
                                    "to it and be authenticated to access it. Please log in.")
            return None, _error(403, "GatedRepo", f"Access to model {repo_id} is restricted and you are not in the "
                                "authorized list. Visit https://huggingface.co/{repo_id} to ask for access.")
        return repo, None

    def _list(self, query: Dict[str, List[str]]) -> _Response:
        search = _one(query, "search", "").lower()
        author = _one(query, "author", "").lower()
        filters = query.get("filter", [])
        repos = [r for r in self.repos.values() if not r.spec.private
                 and search in r.spec.repo_id.lower() and (not author or (r.spec.author or "").lower() == author)
                 and all(f in r.tags or f in (r.spec.library_name, r.spec.pipeline_tag) for f in filters)]
        sort = _one(query, "sort", "")
        key = {"downloads": lambda r: r.spec.downloads, "likes": lambda r: r.spec.likes,
               "lastModified": lambda r: r.last_modified, "createdAt": lambda r: r.last_modified,
               "trendingScore": lambda r: 0}.get(sort)
        if sort and key is None:
            return _error(400, None, f"Invalid sort parameter: {sort}")
        if key is not None:
            repos.sort(key=key, reverse=_one(query, "direction", "-1") != "1")
        limit = int(_one(query, "limit", "0") or 0) or self.page_size
        per_page = min(limit, self.page_size)
        start = int(_one(query, "cursor", "0") or 0)
        page = repos[start:start + per_page]
        expand = query.get("expand", []) + query.get("expand[]", [])
        items = []
        for r in page:
            if expand:
                bad = _unknown(expand)
                if bad:
                    return _error(400, None, f"Invalid expand parameter: {bad}")
                full = r.info()
                items.append({"_id": full["_id"], "id": full["id"], **{k: full[k] for k in expand if k in full}})
            else:
                item = r.list_item()
                if _one(query, "full", "") in ("true", "True", "1"):
                    item.update({"sha": r.sha, "lastModified": r.last_modified, "gated": r.spec.gated,
                                 "siblings": [{"rfilename": n} for n in r.files], "author": r.spec.author})
                if _one(query, "config", "") in ("true", "True", "1"):
                    item["config"] = r._config_summary()
                items.append(item)
        headers = {}
        if start + per_page < len(repos):
            rest = {k: v for k, v in query.items() if k != "cursor"}
            rest["cursor"] = [str(start + per_page)]
            headers["Link"] = f'<{self.url}/api/models?{urlencode(rest, doseq=True)}>; rel="next"'
        return _json(items, headers)

    def _info(self, rest: str, query: Dict[str, List[str]], token: Optional[str]) -> _Response:
        repo_part, _, revision = rest.partition("/revision/")
        repo_id = unquote(repo_part)
        if repo_id in self._aliases:
            target = f"/api/models/{self._aliases[repo_id]}" + (f"/revision/{revision}" if revision else "")
            return _redirect(307, target + _query_string(query))
        repo, err = self._find(repo_id, token, files=False)
        if err is not None:
            return err
        revision = unquote(revision) if revision else "main"
        if revision not in ("main", repo.sha):
            return _error(404, "RevisionNotFound", f"Invalid rev id: {revision}", {"X-Repo-Commit": repo.sha})
        expand = query.get("expand", []) + query.get("expand[]", [])
        bad = _unknown(expand)
        if bad:
            return _error(400, None, f'"expand" must be one of the allowed values, got "{bad}"')
        data = repo.info(blobs=_one(query, "blobs", "") in ("true", "True", "1"))
        if expand:
            data = {"_id": data["_id"], "id": data["id"], **{k: data[k] for k in expand if k in data}}
        return _json(data)

    def _resolve(self, method: str, raw_path: str, query: Dict[str, List[str]], token: Optional[str]) -> _Response:
        repo_part, _, rest = raw_path.lstrip("/").partition("/resolve/")
        raw_rev, _, raw_file = rest.partition("/")
        repo_id, revision, filename = unquote(repo_part), unquote(raw_rev), unquote(raw_file)
        if repo_id in self._aliases:
            return _redirect(307, f"/{self._aliases[repo_id]}/resolve/{raw_rev}/{raw_file}" + _query_string(query))
        repo, err = self._find(repo_id, token, files=True)
        if err is not None:
            return err
        commit = {"X-Repo-Commit": repo.sha}
        if revision not in ("main", repo.sha):
            return _error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
        f = repo.files.get(filename)
        if f is None:
            return _error(404, "EntryNotFound", f"{filename} does not exist on \"{revision}\"", commit)
        if f.is_lfs:
            location = f"{self.cdn_url}/cdn/{f.lfs_oid}/{quote(f.name)}"
            return _redirect(302, location, {**commit, "ETag": f'"{f.lfs_oid}"', "X-Linked-Etag": f'"{f.lfs_oid}"',
                                             "X-Linked-Size": str(f.size)})
        return _redirect(307, f"/api/resolve-cache/models/{repo.spec.repo_id}/{repo.sha}/{quote(f.name)}",
                         {**commit, "ETag": f'"{f.blob_id}"'})

    def _resolve_cache(self, method: str, rest: str, token: Optional[str], range_header: Optional[str]) -> _Response:
        parts = [unquote(p) for p in rest.split("/")]
        for cut in (2, 1):  # repo ids have one or no slash
            repo_id, sha, filename = "/".join(parts[:cut]), parts[cut] if len(parts) > cut else "", \
                "/".join(parts[cut + 1:])
            if repo_id in self.repos:
                break
        repo, err = self._find(repo_id, token, files=True)
        if err is not None:
            return err
        f = repo.files.get(filename)
        if sha != repo.sha or f is None or f.is_lfs:
            return _error(404, "EntryNotFound", f"{filename} not found at {sha}", {"X-Repo-Commit": repo.sha})
        return _file(method, f, range_header, {"X-Repo-Commit": repo.sha})

    def _cdn(self, method: str, path: str, range_header: Optional[str]) -> _Response:
        match = re.fullmatch(r"/cdn/([0-9a-f]{64})/(.+)", path)
        found = None
        if match:
            found = next((f for r in self.repos.values() if "files" in r.__dict__ for f in r.files.values()
                          if f.lfs_oid == match.group(1)), None)
        if found is None:
            return _Response(404, {"Content-Type": "application/xml"}, b"<Error><Code>NoSuchKey</Code></Error>")
        return _file(method, found, range_header, {
            "Content-Disposition": f"inline; filename*=UTF-8''{quote(found.name)}; filename=\"{found.name}\";"})

    def _record(self, entry: LoggedRequest) -> None:
        with self._lock:
            self._log.append(entry)


# --- response helpers -----------------------------------------------------------------------------------

def _json(data, headers: Optional[Dict[str, str]] = None) -> _Response:
    return _Response(200, {"Content-Type": "application/json; charset=utf-8", **(headers or {})},
                     json.dumps(data).encode())


def _error(status: int, code: Optional[str], message: str, headers: Optional[Dict[str, str]] = None) -> _Response:
    out = {"Content-Type": "application/json; charset=utf-8", "X-Error-Message": message, **(headers or {})}
    if code:
        out["X-Error-Code"] = code
    return _Response(status, out, json.dumps({"error": message}).encode())


def _redirect(status: int, location: str, headers: Optional[Dict[str, str]] = None) -> _Response:
    body = f"Redirecting to {location}".encode()
    return _Response(status, {"Location": location, "Content-Type": "text/plain; charset=utf-8", **(headers or {})},
                     body)


def _file(method: str, f: RepoFile, range_header: Optional[str], headers: Dict[str, str]) -> _Response:
    base = {**headers, "ETag": f'"{f.etag}"', "Accept-Ranges": "bytes", "Content-Type": "application/octet-stream"}
    start, end = 0, f.size - 1
    if range_header:
        parsed = _parse_range(range_header, f.size)
        if parsed is None:
            return _Response(416, {**base, "Content-Range": f"bytes */{f.size}"})
        start, end = parsed
    if method == "HEAD":
        status = 206 if range_header else 200
        extra = {"Content-Range": f"bytes {start}-{end}/{f.size}"} if range_header else {}
        return _Response(status, {**base, **extra}, length=end - start + 1)
    if f.content is None and (not range_header or end - start + 1 > MAX_VIRTUAL_RANGE):
        return _error(501, None, "weight data is not served by the loopback hub (virtual file: real header, "
                      "no tensor data); Range reads of the header work", base)
    body = f.read(start, end)
    if range_header:
        return _Response(206, {**base, "Content-Range": f"bytes {start}-{end}/{f.size}"}, body)
    return _Response(200, base, body)


def _parse_range(value: str, size: int) -> Optional[Tuple[int, int]]:
    match = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", value)
    if not match or not (match.group(1) or match.group(2)):
        return None
    if not match.group(1):
        start, end = max(size - int(match.group(2)), 0), size - 1
    else:
        start = int(match.group(1))
        end = min(int(match.group(2)), size - 1) if match.group(2) else size - 1
    return (start, end) if start <= end and start < size else None


_EXPANDABLE = {"author", "cardData", "config", "createdAt", "disabled", "downloads", "downloadsAllTime", "gated",
               "gguf", "inference", "lastModified", "library_name", "likes", "model-index", "pipeline_tag", "private",
               "safetensors", "sha", "siblings", "spaces", "tags", "transformersInfo", "trendingScore", "widgetData",
               "usedStorage", "baseModels", "childrenModelCount", "evalResults", "inferenceProviderMapping",
               "mask_token", "resourceGroup"}


def _unknown(expand: List[str]) -> Optional[str]:
    return next((e for e in expand if e not in _EXPANDABLE), None)


def _one(query: Dict[str, List[str]], key: str, default: str) -> str:
    values = query.get(key)
    return values[0] if values else default


def _query_string(query: Dict[str, List[str]]) -> str:
    return ("?" + urlencode(query, doseq=True)) if query else ""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    hub: HubServer
    role: str

    def process_request(self, request, client_address):
        with self.hub._lock:
            self.hub._conns.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self.hub._lock:
            self.hub._conns.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request, client_address):  # client went away (e.g. after its timeout): not an error
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "LoopbackHub/1.0"
    server: _Server

    def log_message(self, format, *args):  # noqa: A002 - quiet
        pass

    def do_GET(self):
        self._serve("GET")

    def do_HEAD(self):
        self._serve("HEAD")

    def _serve(self, method: str) -> None:
        hub = self.server.hub
        parts = urlsplit(self.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        auth = self.headers.get("Authorization") or ""
        token = auth.split(" ", 1)[1].strip() if auth.lower().startswith("bearer ") else None
        entry = LoggedRequest(self.server.role, method, unquote(parts.path), query, bool(auth),
                              self.headers.get("Range"))
        with hub._lock:
            hub._inflight += 1
        try:
            try:
                resp = hub._handle(self.server.role, method, parts.path, query, token, self.headers.get("Range"))
            except Exception as err:  # a bug in the loopback hub: answer 500 with the error, keep serving
                resp = _error(500, None, f"loopback hub error: {type(err).__name__}: {err}")
            entry.status = resp.status
            hub._record(entry)
            self.send_response(resp.status)
            for key, value in resp.headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(resp.body) if resp.length is None else resp.length))
            self.end_headers()
            if method != "HEAD":
                self.wfile.write(resp.body)
            self.wfile.flush()
        finally:
            with hub._idle:
                hub._inflight -= 1
                hub._idle.notify_all()


def main(argv: Optional[List[str]] = None) -> None:
    """``python tests/hubserver.py [--port N]``: serve the fixtures until Ctrl-C (for manual runs and benchmarks
    in another process: ``HF_ENDPOINT=<printed url> draftfinder ...``)."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    with HubServer(port=args.port) as hub:
        print(hub.url, flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
