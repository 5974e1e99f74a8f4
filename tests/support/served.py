"""An ASGI app served by uvicorn on 127.0.0.1, on the caller's event loop (real sockets)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from typing import Any, TypeVar

import uvicorn

from tests.support.postgres import free_port


@contextlib.asynccontextmanager
async def served(app: Any) -> AsyncIterator[str]:
    """Serve ``app`` (no lifespan: the caller sets up its state) and yield its base URL."""
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        lifespan="off",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(10):
            while not server.started:
                if task.done():
                    task.result()  # raises what stopped it
                await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


T = TypeVar("T")


def run_like_nimbus_serve(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` on the event loop `nimbus serve` uses: uvicorn's "auto" loop, uvloop when it
    is installed. Benchmarks that serve the app in-process measure what production runs."""
    with asyncio.Runner(loop_factory=uvicorn.Config(app=None).get_loop_factory()) as runner:
        return runner.run(main)
