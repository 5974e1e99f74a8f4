"""uvicorn's HTTP protocols with a cap on a request's head: 431 beyond it, before it is kept.

httptools (what uvicorn picks when it is installed, as `uvicorn[standard]` installs it) keeps
request headers of any size: a 16 MB and a 64 MB header were accepted whole and grew the
process by 65 MB. h11's own cap answers 400, not 431. Both count here the bytes of a request
line and headers as they arrive and answer 431 once they pass the cap.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

REQUEST_HEAD_TOO_LARGE = "Request header fields too large"


def _431(limit: int) -> bytes:
    problem = json.dumps(
        {
            "type": "https://nimbus.dev/problems/request_headers_too_large",
            "title": REQUEST_HEAD_TOO_LARGE,
            "status": 431,
            "detail": f"The request line and headers are limited to {limit:,} bytes",
            "code": "request_headers_too_large",
        }
    ).encode()
    return (
        b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
        b"content-type: application/problem+json\r\n"
        b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(problem), problem)
    )


class _HeadLimit:
    """What both protocols share: the cap, and how a refusal is sent."""

    max_head_bytes: int
    transport: asyncio.Transport

    def _refuse_head(self) -> None:
        self.transport.write(_431(self.max_head_bytes))
        self.transport.close()


def _httptools_protocol() -> type[asyncio.Protocol] | None:
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # pragma: no cover - httptools comes with uvicorn[standard]
        return None

    class BoundedHttpToolsProtocol(_HeadLimit, HttpToolsProtocol):
        """Bytes fed while a request's head is incomplete are its head. (A chunk that ends one
        request and starts the next, pipelined, counts whole: a chunk too much at worst.)"""

        _in_head = True
        _head_bytes = 0

        def on_message_begin(self) -> None:
            self._in_head, self._head_bytes = True, 0
            super().on_message_begin()

        def on_headers_complete(self) -> None:
            self._in_head = False
            super().on_headers_complete()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self._in_head and not self.transport.is_closing():
                self._head_bytes += len(data)
                if self._head_bytes > self.max_head_bytes:
                    self._refuse_head()

    return BoundedHttpToolsProtocol


class BoundedH11Protocol(_HeadLimit, H11Protocol):
    """h11 buffers an incomplete head; its size is checked before more is added."""

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE:
            head = self.conn.trailing_data[0] + data
            end = head.find(b"\r\n\r\n")
            if (end if end >= 0 else len(head)) > self.max_head_bytes:
                self._refuse_head()
                return
        super().data_received(data)


def bounded_http_protocol(max_head_bytes: int, *, http: str = "auto") -> type[asyncio.Protocol]:
    """The protocol class for `uvicorn.Config(http=...)`: httptools when installed (or asked
    for), else h11, each refusing a request head over ``max_head_bytes`` with 431."""
    base: Any = _httptools_protocol() if http in ("auto", "httptools") else None
    if base is None:
        base = BoundedH11Protocol
    protocol: type[asyncio.Protocol] = type(
        base.__name__, (base,), {"max_head_bytes": max_head_bytes}
    )
    return protocol
