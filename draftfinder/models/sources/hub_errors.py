"""How a huggingface_hub / httpx failure becomes a draftfinder error.

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
"""

from __future__ import annotations

from typing import Any, Iterable, Optional
from urllib.parse import urlsplit, urlunsplit

from draftfinder import errors


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
        f"could not get {what} from the Hub: {first_line(err)}",
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
        return errors.NetworkError(what, problem=f"{safe_url(endpoint)} does not answer like a Hugging Face Hub")
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
    detail = first_line(exc.server_message or exc.response.reason_phrase or "")
    return errors.DraftFinderError(
        f"the Hub answered HTTP {status} for {what}" + (f": {detail}" if detail else ""),
        hint="retry later; set DRAFTFINDER_DEBUG=1 to see the full traceback",
    )


def _network_problem(exc: BaseException, endpoint: str) -> str:
    text = str(exc).lower()
    where = safe_url(endpoint) or "the Hub"
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


def first_line(value: Any) -> str:
    text = str(value).strip().splitlines()
    line = text[0] if text else type(value).__name__
    return errors.redact(line[:200])


def safe_url(url: str) -> str:
    """``url`` without any user:password part."""
    if not url:
        return ""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
