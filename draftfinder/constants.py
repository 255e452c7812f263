"""Environment variables and fixed defaults, read in one place.

Environment is read through small functions (not at import time) so that a process, or a test, that sets a
variable before calling into draftfinder is honoured. huggingface_hub reads ``HF_ENDPOINT``,
``HF_HUB_OFFLINE``, ``HF_HOME``/``HF_HUB_CACHE`` itself; we only read them to report and decide.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

# Provenance labels: every number the tool prints carries one of these.
MEASURED = "measured"     # timed or counted on this machine by draftfinder
ESTIMATED = "estimated"   # computed by a model (formula, prior) — see the method field next to it
PUBLISHED = "published"   # a figure published by someone else (paper, model card), cited
EXACT = "exact"           # read from the model's own files (safetensors header, GGUF tensors)

_TRUE = {"1", "true", "yes", "on"}


def env_flag(name: str, default: bool = False) -> bool:
    """True when the variable is set to 1/true/yes/on (case-insensitive)."""
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in _TRUE


def debug_enabled() -> bool:
    """``DRAFTFINDER_DEBUG=1`` makes the CLI print tracebacks instead of one-line errors."""
    return env_flag("DRAFTFINDER_DEBUG")


def color_enabled(stream=None) -> bool:
    """Colour unless ``NO_COLOR`` is set (https://no-color.org) or the stream is not a terminal."""
    if "NO_COLOR" in os.environ:
        return False
    if stream is not None and hasattr(stream, "isatty"):
        return bool(stream.isatty())
    return True


def hub_offline() -> bool:
    """``HF_HUB_OFFLINE=1`` (huggingface_hub's own switch) or ``DRAFTFINDER_OFFLINE=1``."""
    return env_flag("HF_HUB_OFFLINE") or env_flag("DRAFTFINDER_OFFLINE")


def ray_address() -> Optional[str]:
    """``RAY_ADDRESS`` (Ray's own variable): the cluster ``sweep --executor ray`` joins when ``--address`` is not
    given; None (a local cluster) when unset or empty."""
    return os.environ.get("RAY_ADDRESS", "").strip() or None


def hub_endpoint() -> str:
    """The Hub base URL huggingface_hub will use (``HF_ENDPOINT``), without a trailing slash."""
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def env_token() -> Optional[str]:
    """``HF_TOKEN`` (or the older ``HUGGING_FACE_HUB_TOKEN``); None when unset or empty."""
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


def hub_timeout_s() -> float:
    """Per-request timeout for metadata calls; ``HF_HUB_DOWNLOAD_TIMEOUT`` raises it (manual §9.4)."""
    try:
        return float(os.environ.get("HF_HUB_DOWNLOAD_TIMEOUT", "10"))
    except ValueError:
        return 10.0


def zoo_dir() -> Path:
    """Where zoo models shipped in chunks are assembled (``zoo:gemma3-270m``: 253 MB, once):
    ``DRAFTFINDER_ZOO_DIR``, else ``data_home()/zoo``."""
    base = os.environ.get("DRAFTFINDER_ZOO_DIR")
    return Path(base).expanduser() if base else data_home() / "zoo"


def data_home() -> Path:
    """Where draftfinder keeps its own files (measurements, assembled zoo GGUFs, Hub metadata for offline use,
    chat history): ``DRAFTFINDER_HOME``, else ``$XDG_CACHE_HOME/draftfinder``, else ``~/.cache/draftfinder``."""
    base = os.environ.get("DRAFTFINDER_HOME")
    if base:
        return Path(base)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "draftfinder"


# Defaults of the find workflow (manual §5.3, §6.3).
DEFAULT_TOP_N = 5
DEFAULT_MAX_CANDIDATES = 100
DEFAULT_HARDWARE = "a100-80gb"
MAX_K = 16
