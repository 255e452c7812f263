"""Server-sent events (the ``text/event-stream`` body of a streamed completion), shared by the ``openai`` and
``llamacpp`` backends: the WHATWG event-stream rules that matter here (``data:`` lines, multi-line data joined
by newlines, a blank line ends an event, other fields and ``:`` comments ignored; ``[DONE]`` ends the stream,
an OpenAI convention llama-server follows too)."""

from __future__ import annotations

import socket
import time
from typing import Any, Iterator, List


def sse_events(resp: Any, deadline: float) -> Iterator[str]:
    """The ``data`` of each server-sent event (multi-line data joined by newlines) until ``[DONE]`` or the end
    of the body; ``socket.timeout`` once ``time.perf_counter()`` passes ``deadline``."""
    data: List[str] = []
    while True:
        if time.perf_counter() > deadline:
            raise socket.timeout()
        raw = resp.readline()
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if line.startswith("data:"):                         # event:, id:, retry: and ": comments" are skipped
            data.append(line[5:].lstrip(" "))
        elif (not line or not raw) and data:                # a blank line ends an event
            payload, data = "\n".join(data), []
            if payload.strip() == "[DONE]":
                return
            yield payload
        if not raw:
            return
