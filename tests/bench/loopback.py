"""A minimal keep-alive HTTP/1.1 client for an app served on loopback (`tests.support.served`).

Benchmarks time requests the way a client sees them: over a real socket, through the server the
API runs under (`nimbus serve` is uvicorn). httpx's in-process ASGI transport would add its own
client-side work (URL and cookie handling, ~0.6 ms a request here) to every sample; this client
sends prebuilt bytes and reads one response, so what it times is the server.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit


class Client:
    """One keep-alive connection; `send` returns (status, body). Not for concurrent use."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    @classmethod
    async def connect(cls, url: str) -> Client:
        address = urlsplit(url)
        reader, writer = await asyncio.open_connection(address.hostname, address.port)  # NODELAY
        return cls(reader, writer)

    @staticmethod
    def request(path: str, params: Mapping[str, Any], headers: Mapping[str, str]) -> bytes:
        """The bytes of ``GET path?params`` (build once, send many times)."""
        target = f"{path}?{urlencode(params, doseq=True)}" if params else path
        lines = [
            f"GET {target} HTTP/1.1",
            "Host: bench",
            *(f"{k}: {v}" for k, v in headers.items()),
        ]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    async def send(self, request: bytes) -> tuple[int, bytes]:
        self._writer.write(request)
        head = await self._reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        length = 0
        for line in header_lines:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        body = await self._reader.readexactly(length)
        return int(status_line.split()[1]), body

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()
