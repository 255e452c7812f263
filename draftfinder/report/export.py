"""Write results files atomically (a crash never leaves a half-written file)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from ..errors import DraftFinderError
from ..schema import to_plain


def write_text(path: str, text: str) -> Path:
    """Write ``text`` to ``path`` via a temporary file in the same folder and an atomic rename."""
    target = Path(path).expanduser()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=str(target.parent))
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)            # mkstemp makes 0600; a results file is as readable as any
        os.replace(tmp, target)
    except OSError as exc:
        raise DraftFinderError(f"cannot write {target}: {exc.strerror or exc}",
                               hint="choose a writable path for --export") from exc
    return target


def write_json(path: str, payload: Any) -> Path:
    return write_text(path, json.dumps(to_plain(payload), indent=2, ensure_ascii=False) + "\n")
