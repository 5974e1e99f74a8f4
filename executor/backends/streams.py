"""Live output handling shared by the backends: UTF-8 decoding, a combined byte cap, the sink."""

from __future__ import annotations

import asyncio
import codecs

from executor.backends.base import OutputSink, StreamName


class OutputCollector:
    """Keeps stdout and stderr (together at most ``limit`` bytes) and forwards chunks live.

    Bytes beyond the cap are dropped and the stream that overflowed is flagged truncated.
    Decoding is incremental, so a multi-byte character split across chunks is not mangled;
    invalid UTF-8 and NUL become U+FFFD.
    """

    def __init__(self, limit: int, sink: OutputSink | None) -> None:
        self._remaining = limit
        self._sink = sink
        self._decoders = {
            name: codecs.getincrementaldecoder("utf-8")(errors="replace")
            for name in ("stdout", "stderr")
        }
        self._text: dict[StreamName, list[str]] = {"stdout": [], "stderr": []}
        self.truncated: dict[StreamName, bool] = {"stdout": False, "stderr": False}
        self.overflowed = asyncio.Event()
        """Set once output went past the cap (the caller then kills the program)."""

    @property
    def exceeded(self) -> bool:
        return self.truncated["stdout"] or self.truncated["stderr"]

    async def feed(self, stream: StreamName, data: bytes) -> None:
        if self._remaining <= 0:
            if data:
                self.truncated[stream] = True
                self.overflowed.set()
            return
        if len(data) > self._remaining:
            data = data[: self._remaining]
            self.truncated[stream] = True
            self.overflowed.set()
        self._remaining -= len(data)
        await self._emit(stream, self._decoders[stream].decode(data))

    async def finish(self) -> None:
        streams: tuple[StreamName, ...] = ("stdout", "stderr")
        for stream in streams:
            await self._emit(stream, self._decoders[stream].decode(b"", final=True))

    async def _emit(self, stream: StreamName, text: str) -> None:
        if not text:
            return
        # NUL is valid UTF-8, but no PostgreSQL text can hold it: the output could not be stored
        # and the job ended in error. Shown like any byte we cannot render.
        text = text.replace("\x00", "\ufffd")
        self._text[stream].append(text)
        if self._sink is not None:
            await self._sink(stream, text)

    def text(self, stream: StreamName) -> str:
        return "".join(self._text[stream])
