"""The Hugging Face Hub as a model source, through huggingface_hub's own code over HTTP.

``HubSource.resolve`` asks the Hub for a model's info (files, sizes, author, tags, gating, commit and the
parameter counts the Hub reads from the safetensors headers), then downloads only the small metadata files
that exist in the repository (config, generation config, tokenizer files, adapter config) into the HF cache.
Weights are never downloaded. ``HubSource.search`` / ``list_models`` list models by name and author.

Settings are read once, when the source is built: the endpoint (``HF_ENDPOINT``), the token (``--token``,
``HF_TOKEN``, or the file ``hf auth login`` wrote), offline mode (``HF_HUB_OFFLINE`` / ``DRAFTFINDER_OFFLINE``)
and the HF cache folder. They are passed explicitly to every huggingface_hub call because huggingface_hub reads
its own environment only when it is first imported.

Every failure becomes a :mod:`draftfinder.errors` exception, chained to the original (``raise ... from e``):

======================================  ==========================================================
Hub answer / failure                    raised
======================================  ==========================================================
repo (or revision) does not exist       ``ModelNotFoundError``
gated or private, HTTP 401/403          ``GatedModelError(has_token=...)``
HTTP 429                                ``RateLimitedError`` (with the ``Retry-After`` value)
request timed out                       ``HubTimeoutError``
refused connection, DNS, no network     ``NetworkError``
offline and not in the HF cache         ``OfflineUnavailableError``
any other HTTP error                    ``DraftFinderError`` quoting the server's (redacted) message
======================================  ==========================================================

The token is registered with :func:`errors.register_secret`, so it is redacted from every message; it is never
stored in a record, a log line or the metadata kept for offline use.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple, TypeVar
from urllib.parse import urlsplit, urlunsplit

from draftfinder import constants, errors
from draftfinder.version import __version__
from draftfinder.models.sources.base import CandidateRef, ModelRecord

log = logging.getLogger(__name__)

T = TypeVar("T")

# Small files worth having locally: enough to analyse a model and load its tokenizer, never weights.
METADATA_FILES = (
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.json",
    "merges.txt",
    "tokenizer.model",
    "added_tokens.json",
    "adapter_config.json",
)
SAFETENSORS_SOURCE = "hub-safetensors-metadata"
DEFAULT_REVISION = "main"
MAX_PARALLEL_DOWNLOADS = 8
_SIDECAR_DIR = "hub-metadata"      # under constants.data_home(): model info kept for offline resolves


class HubSource:
    """Models on the Hugging Face Hub (or any Hub-compatible ``endpoint``).

    ``token``: explicit token, else ``HF_TOKEN``/``HUGGING_FACE_HUB_TOKEN``, else the saved login; it is
    registered as a secret (redacted everywhere). ``endpoint``: default ``HF_ENDPOINT``. ``offline``: default
    ``HF_HUB_OFFLINE``/``DRAFTFINDER_OFFLINE``; when true no HTTP request is made. ``timeout``: seconds per
    metadata request (default ``HF_HUB_DOWNLOAD_TIMEOUT`` or 10). ``cache_dir``: default the HF cache
    (``HF_HUB_CACHE``, ``HF_HOME/hub``). All are read here, once.
    """

    name = "hub"

    def __init__(
        self,
        token: Optional[str] = None,
        endpoint: Optional[str] = None,
        offline: Optional[bool] = None,
        timeout: Optional[float] = None,
        *,
        cache_dir: Optional[str] = None,
    ):
        self.endpoint = (endpoint or constants.hub_endpoint()).rstrip("/")
        self.offline = constants.hub_offline() if offline is None else bool(offline)
        self.timeout = constants.hub_timeout_s() if timeout is None else float(timeout)
        self.cache_dir = str(cache_dir or hf_cache_dir())
        self._token = token or constants.env_token() or saved_token()
        errors.register_secret(self._token)
        self._api = None

    def __repr__(self) -> str:  # never show the token
        return f"HubSource(endpoint={_safe_url(self.endpoint)!r}, offline={self.offline}, has_token={self.has_token})"

    @property
    def has_token(self) -> bool:
        return self._token is not None

    # --- resolve --------------------------------------------------------------------------------------
    def resolve(self, model_id: str, revision: Optional[str] = None) -> ModelRecord:
        """Return the record of ``model_id`` at ``revision`` (default: main), with its metadata files cached.

        Raises ``ModelNotFoundError`` (no such repo or revision), ``GatedModelError`` (401/403),
        ``RateLimitedError`` (429), ``HubTimeoutError``, ``NetworkError``, ``DraftFinderError`` (other HTTP
        errors); in offline mode ``OfflineUnavailableError`` when the model is not in the HF cache.
        """
        if self.offline:
            return self._resolve_cached(model_id, revision)
        info = self._model_info(model_id, revision)
        siblings = _siblings(info)
        wanted = [name for name in METADATA_FILES if name in siblings]
        paths = self._download_all(model_id, wanted, revision or DEFAULT_REVISION)
        meta = _info_summary(info, siblings)
        self._save_sidecar(model_id, meta)
        return _record(model_id, "hub", meta, paths)

    def _model_info(self, model_id: str, revision: Optional[str]):
        """``model_info`` with file sizes; asks for the ``safetensors`` field if the default answer lacks it."""
        what = f"model '{model_id}'"
        info = self._call(lambda: self.api.model_info(
            model_id, revision=revision, files_metadata=True, timeout=self.timeout), model_id, what)
        if info.safetensors is None and any(n.endswith(".safetensors") for n in _siblings(info)):
            extra = self._call(lambda: self.api.model_info(
                model_id, revision=info.sha or revision, expand=["safetensors"], timeout=self.timeout), model_id, what)
            info.safetensors = extra.safetensors
        return info

    def _download_all(self, model_id: str, names: List[str], revision: str) -> Dict[str, Path]:
        """Download ``names`` into the HF cache: config.json first (fail fast), the rest in parallel."""
        paths: Dict[str, Path] = {}
        rest = list(names)
        if "config.json" in rest:
            rest.remove("config.json")
            paths["config.json"] = self._download(model_id, "config.json", revision)
        if rest:
            with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL_DOWNLOADS, len(rest))) as pool:
                futures = {name: pool.submit(self._download, model_id, name, revision) for name in rest}
                for name, future in futures.items():
                    paths[name] = future.result()
        return paths

    def _download(self, model_id: str, filename: str, revision: str) -> Path:
        """One file into the HF cache (``hf_hub_download``); returns its path in the snapshot folder."""
        from huggingface_hub import hf_hub_download
        from huggingface_hub.utils import silent_tqdm

        return Path(self._call(lambda: hf_hub_download(
            model_id, filename, revision=revision, cache_dir=self.cache_dir, endpoint=self.endpoint,
            token=self._token or False, etag_timeout=self.timeout,
            library_name="draftfinder", library_version=__version__, tqdm_class=silent_tqdm,
        ), model_id, f"'{filename}' of '{model_id}'"))

    # --- offline: the HF cache only --------------------------------------------------------------------
    def _resolve_cached(self, model_id: str, revision: Optional[str]) -> ModelRecord:
        """Resolve from the HF cache without any HTTP request; ``OfflineUnavailableError`` if not cached.

        Uses ``try_to_load_from_cache`` (a pure file-system lookup: refs -> commit -> snapshot), because even
        ``hf_hub_download(local_files_only=True)`` builds request headers, which may contact the Hub once.
        """
        from huggingface_hub import try_to_load_from_cache

        paths: Dict[str, Path] = {}
        for name in METADATA_FILES:
            found = self._call(lambda name=name: try_to_load_from_cache(
                model_id, name, cache_dir=self.cache_dir, revision=revision or DEFAULT_REVISION), model_id,
                f"'{name}' of '{model_id}'")
            if isinstance(found, str):
                paths[name] = Path(found)
        if not paths:
            raise errors.OfflineUnavailableError(model_id)
        snapshot = next(iter(paths.values())).parent
        meta = self._load_sidecar(model_id, snapshot.name) or _snapshot_summary(snapshot)
        return _record(model_id, "hf-cache", meta, paths)

    def _sidecar_path(self, model_id: str, sha: str) -> Path:
        return constants.data_home() / _SIDECAR_DIR / ("models--" + model_id.replace("/", "--")) / f"{sha}.json"

    def _save_sidecar(self, model_id: str, meta: Dict[str, Any]) -> None:
        """Keep the Hub's answer (under ``data_home()``) so an offline resolve returns the same facts.

        Best effort: a write failure is logged at debug level and ignored. Holds no token.
        """
        if not meta.get("sha"):
            return
        path = self._sidecar_path(model_id, meta["sha"])
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_text(json.dumps(meta, indent=1, sort_keys=True), encoding="utf-8")
            tmp.replace(path)
        except OSError as err:
            log.debug("could not save Hub metadata for offline use: %s", errors.redact(str(err)))

    def _load_sidecar(self, model_id: str, sha: str) -> Optional[Dict[str, Any]]:
        try:
            return json.loads(self._sidecar_path(model_id, sha).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    # --- search ---------------------------------------------------------------------------------------
    def search(self, family: str, *, target: ModelRecord, limit: int) -> List[CandidateRef]:
        """Models whose id contains ``family``, the target's author first, most downloaded first.

        Returns ``[]`` in offline mode. Raises the same errors as :meth:`list_models`.
        """
        if self.offline or not family:
            return []
        found: Dict[str, CandidateRef] = {}
        author = target.author or _author_of(target.model_id)
        for by in ([author] if author else []) + [None]:
            for ref in self.list_models(search=family, author=by, limit=limit):
                if ref.model_id.lower() != target.model_id.lower():
                    found.setdefault(ref.model_id.lower(), ref)
        return sorted(found.values(), key=lambda r: (-(r.downloads or 0), r.model_id.lower()))[:limit]

    def list_models(
        self, search: Optional[str] = None, author: Optional[str] = None, limit: int = 50, sort: str = "downloads"
    ) -> List[CandidateRef]:
        """``HfApi.list_models`` as candidate references, in the Hub's order (``sort``, descending).

        The whole listing must finish within ``timeout`` seconds (huggingface_hub 2.4 gives ``list_models`` no
        timeout of its own), else ``HubTimeoutError``. Raises ``RateLimitedError`` (429, after
        huggingface_hub's own retries), ``NetworkError``, ``DraftFinderError`` (other HTTP errors);
        ``OfflineUnavailableError`` in offline mode.
        """
        terms = [f"name contains '{search}'" if search else "", f"author {author}" if author else ""]
        terms = [t for t in terms if t]
        what = "the model list" + (f" ({', '.join(terms)})" if terms else "")
        if self.offline:
            raise errors.OfflineUnavailableError(search or author or "the Hub model list")
        models = self._call(lambda: _with_deadline(
            lambda: list(self.api.list_models(search=search, author=author, limit=limit, sort=sort)),
            self.timeout), search or author or "", what, listing=True)
        reason = "hub search: " + (", ".join(terms) or f"top by {sort}")
        return [
            CandidateRef(model_id=m.id, source="hub", reason=reason, downloads=m.downloads,
                         author=m.author or _author_of(m.id), tags=list(m.tags or []))
            for m in models
        ]

    # --- plumbing -------------------------------------------------------------------------------------
    @property
    def api(self):
        if self._api is None:
            from huggingface_hub import HfApi

            self._api = HfApi(endpoint=self.endpoint, token=self._token or False,
                              library_name="draftfinder", library_version=__version__)
        return self._api

    def _call(self, fn: Callable[[], T], model_id: str, what: str, *, listing: bool = False) -> T:
        """Run one huggingface_hub call, turning any failure into a draftfinder error (cause chained)."""
        try:
            return fn()
        except errors.DraftFinderError:
            raise
        except Exception as err:  # noqa: BLE001 - every failure is mapped, none is swallowed
            raise hub_error(err, model_id=model_id, what=what, has_token=self.has_token,
                            endpoint=self.endpoint, offline=self.offline, listing=listing) from err


# --- error mapping --------------------------------------------------------------------------------------

def hub_error(
    err: BaseException, *, model_id: str, what: str, has_token: bool, endpoint: str = "", offline: bool = False,
    listing: bool = False,
) -> errors.DraftFinderError:
    """The draftfinder error for a huggingface_hub / httpx failure (the caller chains ``from err``).

    The exception and its causes are examined in order (``hf_hub_download`` wraps network failures in
    ``LocalEntryNotFoundError``); the first one recognised decides. ``listing``: the request was a model
    listing, where 401/403 means a refused token rather than a gated model.
    """
    for exc in _chain(err):
        mapped = _map_one(exc, model_id=model_id, what=what, has_token=has_token, endpoint=endpoint,
                          offline=offline, listing=listing)
        if mapped is not None:
            return mapped
    return errors.DraftFinderError(
        f"could not get {what} from the Hub: {_first_line(err)}",
        hint="retry; set DRAFTFINDER_DEBUG=1 to see the full traceback",
    )


def _map_one(exc: BaseException, *, model_id: str, what: str, has_token: bool, endpoint: str,
             offline: bool, listing: bool) -> Optional[errors.DraftFinderError]:
    import httpx2
    from huggingface_hub import errors as hf

    if listing and isinstance(exc, hf.HfHubHTTPError) and exc.response is not None \
            and exc.response.status_code in (401, 403):
        return errors.DraftFinderError(
            f"the Hub refused {what} (HTTP {exc.response.status_code})",
            hint="check the token (HF_TOKEN), or run without one",
            hints=errors.per_command(errors.TOKEN_FLAG_COMMANDS, "check the token (--token / HF_TOKEN), or run without one"))
    if isinstance(exc, hf.GatedRepoError):
        return errors.GatedModelError(model_id, has_token=has_token)
    if isinstance(exc, hf.RevisionNotFoundError):
        return errors.ModelNotFoundError(model_id, where="the Hugging Face Hub at that revision",
                                         hint="check the revision (a branch, tag or commit of the repository)")
    if isinstance(exc, hf.DisabledRepoError):
        return errors.ModelNotFoundError(model_id, hint="the repository has been disabled on the Hub")
    if isinstance(exc, hf.RepositoryNotFoundError):
        if has_token:
            return errors.ModelNotFoundError(model_id)
        err = errors.ModelNotFoundError(model_id, hint="check the spelling (owner/name); if the model is private, "
                                                       "set HF_TOKEN")
        err.hints = errors.per_command(errors.TOKEN_FLAG_COMMANDS, "check the spelling (owner/name); if the model "
                                                                   "is private, pass --token or set HF_TOKEN")
        return err
    if isinstance(exc, hf.RemoteEntryNotFoundError):
        return errors.DraftFinderError(f"the Hub lists {what} but answered 404 when it was downloaded",
                                       hint="retry later; the repository may be changing right now")
    if isinstance(exc, hf.HfHubHTTPError) and exc.response is not None:
        return _http_status_error(exc, model_id=model_id, what=what, has_token=has_token)
    if isinstance(exc, hf.HFValidationError):
        return errors.ModelNotFoundError(model_id, hint="a Hub id looks like owner/name (e.g. Qwen/Qwen2.5-7B); "
                                         "for a local model pass its folder or .gguf file")
    if isinstance(exc, httpx2.TimeoutException):
        return errors.HubTimeoutError(what)
    if isinstance(exc, (httpx2.NetworkError, httpx2.ProxyError, httpx2.UnsupportedProtocol, ConnectionError)) and \
            not isinstance(exc, hf.OfflineModeIsEnabled):
        return errors.NetworkError(what, problem=_network_problem(exc, endpoint))
    if isinstance(exc, hf.OfflineModeIsEnabled) or (isinstance(exc, hf.LocalEntryNotFoundError) and offline):
        if offline:
            return errors.OfflineUnavailableError(model_id)
        return errors.NetworkError(what, problem="huggingface_hub is in offline mode (HF_HUB_OFFLINE was set when it "
                                                 "was imported)")
    if isinstance(exc, hf.FileMetadataError):
        return errors.NetworkError(what, problem=f"{_safe_url(endpoint)} does not answer like a Hugging Face Hub")
    return None


def _http_status_error(exc, *, model_id: str, what: str, has_token: bool) -> errors.DraftFinderError:
    status = exc.response.status_code
    if status == 401 and "invalid credentials" in (exc.response.headers.get("X-Error-Message") or "").lower():
        return errors.DraftFinderError(f"the Hub rejected the token while fetching {what} (invalid credentials)",
                                       hint="check HF_TOKEN (or `hf auth login` again), or run without one",
                                       hints=errors.per_command(errors.TOKEN_FLAG_COMMANDS, "check --token / HF_TOKEN "
                                                                "(or `hf auth login` again), or run without one"))
    if status in (401, 403):
        return errors.GatedModelError(model_id, has_token=has_token)
    if status == 404:
        return errors.ModelNotFoundError(model_id)
    if status == 429:
        return errors.RateLimitedError(what, retry_after=exc.response.headers.get("Retry-After"))
    detail = _first_line(exc.server_message or exc.response.reason_phrase or "")
    return errors.DraftFinderError(
        f"the Hub answered HTTP {status} for {what}" + (f": {detail}" if detail else ""),
        hint="retry later; set DRAFTFINDER_DEBUG=1 to see the full traceback",
    )


def _network_problem(exc: BaseException, endpoint: str) -> str:
    text = str(exc).lower()
    where = _safe_url(endpoint) or "the Hub"
    if "refused" in text:
        return f"the connection to {where} was refused"
    if any(s in text for s in ("name or service not known", "nodename nor servname", "name resolution",
                               "getaddrinfo", "no address associated")):
        return f"the host of {where} could not be resolved (DNS)"
    if "unreachable" in text:
        return f"{where} is unreachable (no route to host)"
    return f"{where} could not be reached"


def _chain(err: BaseException) -> Iterable[BaseException]:
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        yield err
        err = err.__cause__ or err.__context__


def _first_line(value: Any) -> str:
    text = str(value).strip().splitlines()
    line = text[0] if text else type(value).__name__
    return errors.redact(line[:200])


def _safe_url(url: str) -> str:
    """``url`` without any user:password part."""
    if not url:
        return ""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


# --- environment ----------------------------------------------------------------------------------------

def hf_cache_dir() -> Path:
    """The HF cache folder huggingface_hub would use, read from the environment now (not at its import)."""
    for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(name):
            return Path(os.path.expandvars(os.environ[name])).expanduser()
    return _hf_home() / "hub"


def saved_token() -> Optional[str]:
    """The token saved by ``hf auth login`` (``$HF_TOKEN_PATH`` or ``$HF_HOME/token``), or None.

    None when ``HF_HUB_DISABLE_IMPLICIT_TOKEN`` is set, as huggingface_hub itself would.
    """
    if constants.env_flag("HF_HUB_DISABLE_IMPLICIT_TOKEN"):
        return None
    path = Path(os.environ.get("HF_TOKEN_PATH") or _hf_home() / "token").expanduser()
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return token or None


def _hf_home() -> Path:
    if os.environ.get("HF_HOME"):
        return Path(os.path.expandvars(os.environ["HF_HOME"])).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "huggingface"


def _with_deadline(fn: Callable[[], T], seconds: float) -> T:
    """Run ``fn`` in a daemon thread; raise ``httpx2.ReadTimeout`` if it has not returned after ``seconds``."""
    import httpx2

    box: "queue.Queue[Tuple[bool, Any]]" = queue.Queue(maxsize=1)

    def run() -> None:
        try:
            box.put((True, fn()))
        except BaseException as err:  # noqa: BLE001 - handed to the caller
            box.put((False, err))

    threading.Thread(target=run, name="draftfinder-hub-list", daemon=True).start()
    try:
        ok, value = box.get(timeout=seconds)
    except queue.Empty:
        raise httpx2.ReadTimeout(f"no answer within {seconds:g} s") from None
    if ok:
        return value
    raise value


# --- records --------------------------------------------------------------------------------------------

def _siblings(info) -> Dict[str, Optional[int]]:
    """File name -> size in bytes (None when the Hub did not send sizes)."""
    out: Dict[str, Optional[int]] = {}
    for s in info.siblings or []:
        size = s.size if s.size is not None else (s.lfs.size if s.lfs is not None else None)
        out[s.rfilename] = size
    return out


def _info_summary(info, siblings: Dict[str, Optional[int]]) -> Dict[str, Any]:
    """The facts a record needs, as plain JSON (also what is kept for offline resolves)."""
    st = info.safetensors
    return {
        "id": info.id,
        "sha": info.sha,
        "author": info.author or _author_of(info.id),
        "tags": list(info.tags or []),
        "gated": info.gated in ("auto", "manual", True),
        "downloads": info.downloads,
        "siblings": siblings,
        "safetensors_parameters": {k: int(v) for k, v in st.parameters.items()} if st else None,
    }


def _snapshot_summary(snapshot: Path) -> Dict[str, Any]:
    """What the HF cache alone tells about a model: its commit and the files downloaded so far."""
    files = {p.relative_to(snapshot).as_posix(): None for p in sorted(snapshot.rglob("*")) if p.is_file()}
    return {"sha": snapshot.name, "siblings": files}


def _record(model_id: str, source: str, meta: Dict[str, Any], paths: Dict[str, Path]) -> ModelRecord:
    siblings: Dict[str, Optional[int]] = meta.get("siblings") or {}
    local_dir = next(iter(paths.values())).parent if paths else None
    config = _read_json(paths["config.json"]) if "config.json" in paths else {}
    adapter = _read_json(paths["adapter_config.json"]) if "adapter_config.json" in paths else None
    params = meta.get("safetensors_parameters")
    return ModelRecord(
        model_id=model_id,
        source=source,
        config=config,
        files=sorted(siblings),
        local_dir=local_dir,
        safetensors_parameters=params,
        safetensors_source=SAFETENSORS_SOURCE if params else None,
        weights_bytes=weights_bytes(siblings),
        author=meta.get("author") or _author_of(model_id),
        tags=list(meta.get("tags") or []),
        gated=bool(meta.get("gated")),
        downloads=meta.get("downloads"),
        revision=meta.get("sha"),
        adapter_config=adapter,
    )


def weights_bytes(siblings: Dict[str, Optional[int]]) -> Optional[int]:
    """Total size of one copy of the weights at the repo root, or None when sizes are unknown.

    One format is counted, the first present: ``*.safetensors`` (without ``consolidated*`` duplicates when
    ``model*`` shards exist), then ``pytorch_model*.bin`` / ``model*.bin``, then a single ``*.gguf``. Repos with
    several GGUF files hold alternative quantizations, so no single total is meaningful: None.
    """
    root = {n: s for n, s in siblings.items() if "/" not in n}
    safetensors = [n for n in root if n.endswith(".safetensors")]
    if any(n.startswith("model") for n in safetensors):
        safetensors = [n for n in safetensors if not n.startswith("consolidated")]
    bins = [n for n in root if n.endswith(".bin") and n.startswith(("pytorch_model", "model"))]
    ggufs = [n for n in root if n.endswith(".gguf")]
    for group in (safetensors, bins, ggufs if len(ggufs) == 1 else []):
        if group:
            sizes = [root[n] for n in group]
            return None if any(s is None for s in sizes) else int(sum(sizes))
    return None


def _read_json(path: Path) -> Dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise errors.ModelFileError(path, f"not valid JSON ({_first_line(err)})") from err
    if not isinstance(data, dict):
        raise errors.ModelFileError(path, f"expected a JSON object, found {type(data).__name__}")
    return data


def _author_of(model_id: str) -> Optional[str]:
    return model_id.split("/", 1)[0] if "/" in model_id else None
