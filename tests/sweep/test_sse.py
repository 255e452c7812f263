"""Server-sent events parsing shared by the openai and llamacpp backends (sweep/backends/sse.py)."""

import io
import socket
import time

import pytest

from draftfinder.sweep.backends.sse import sse_events


def events(body: bytes, deadline: float = float("inf")):
    return list(sse_events(io.BytesIO(body), deadline))


def test_data_lines_comments_and_done():
    body = (b": keep-alive comment\n\nevent: message\ndata: {\"a\": 1}\n\n"
            b"data: line one\r\ndata: line two\r\n\r\nid: 7\nretry: 10\ndata:{\"b\":2}\n\ndata: [DONE]\n\n"
            b"data: never read\n\n")
    assert events(body) == ['{"a": 1}', "line one\nline two", '{"b":2}']


def test_stream_without_done_or_final_blank_line():
    assert events(b"data: x\n\ndata: y") == ["x", "y"]
    assert events(b"") == []


def test_deadline_raises_timeout():
    with pytest.raises(socket.timeout):
        events(b"data: x\n\n", deadline=time.perf_counter() - 1)
