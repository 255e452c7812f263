"""Data to stdout in the format asked for; hints and progress to stderr.

``emit(payload, fmt, table=...)``: ``fmt`` is table | json | yaml. JSON and YAML are rendered from the same
plain dict (``schema.to_plain``); ``table`` is a callable returning the human text for that dict.
A command prints at most one document on stdout: :func:`document_written` tells the CLI whether it has, so an
error after the data adds no second document.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Callable, Optional, TextIO

from draftfinder.errors import UsageError
from draftfinder.find.results import to_plain

FORMATS = ("table", "json", "yaml")


def render(payload: Any, fmt: str, table: Optional[Callable[[Any], str]] = None) -> str:
    """Return ``payload`` as text in ``fmt``."""
    data = to_plain(payload)
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False)
    if fmt == "yaml":
        import yaml

        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True).rstrip("\n")
    if fmt == "table":
        if table is None:
            return json.dumps(data, indent=2, ensure_ascii=False)
        return table(data)
    raise UsageError(f"unknown output format '{fmt}'", hint=f"use one of: {', '.join(FORMATS)}")


_document_written = False


def reset_document_state() -> None:
    """Forget that a document was written (the CLI calls it when a command starts)."""
    global _document_written
    _document_written = False


def document_written() -> bool:
    """Whether :func:`emit` already wrote a document to stdout in this command (then no error document follows:
    stdout carries one document, whatever happens after)."""
    return _document_written


def emit(payload: Any, fmt: str, table: Optional[Callable[[Any], str]] = None, stream: TextIO = None) -> None:
    """Write ``payload`` to stdout (or ``stream``) in ``fmt``."""
    global _document_written
    out = stream or sys.stdout
    text = render(payload, fmt, table)
    if out is sys.stdout:
        _document_written = True
    out.write(text + "\n")
    out.flush()


def info(message: str) -> None:
    """A hint or progress line: always stderr, never mixed into data."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()
