"""Attack class: a webhook aimed at the inside (issue 18, finding 12).

`is_global` alone let through IPv6 spellings that carry an internal IPv4 address or that are not
routable on the internet: IPv4-compatible `::127.0.0.1`, NAT64 `64:ff9b::7f00:1`, 6to4
`2002:7f00:1::`, site-local `fec0::1`. Every spelling below must be refused when the webhook is
created (422 unsafe_webhook_target, nothing stored) and again when it is delivered, against a
real loopback server that must see no connection at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select

from api.main import outbox_handlers
from api.models import OutboxMessage, Webhook
from api.outbox import OutboxDrainer
from tests.api.bug_helpers import make_bug, make_project
from tests.conftest import auth_headers

INTERNAL = [
    # IPv6 forms that embed an internal IPv4 address
    "http://[::127.0.0.1]/",  # IPv4-compatible (deprecated)
    "http://[::7f00:1]/",
    "http://[::169.254.169.254]/latest/meta-data",
    "http://[::ffff:127.0.0.1]/",  # IPv4-mapped
    "http://[::ffff:a9fe:a9fe]/",
    "http://[::ffff:0:7f00:1]/",  # IPv4-translated (RFC 2765)
    "http://[64:ff9b::7f00:1]/",  # NAT64 well-known prefix
    "http://[64:ff9b::a9fe:a9fe]/",
    "http://[64:ff9b:1::7f00:1]/",  # NAT64 local-use prefix
    "http://[2002:7f00:1::]/",  # 6to4
    "http://[2002:a9fe:a9fe::1]/",
    "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",  # Teredo
    # IPv6 ranges that are not the public internet
    "http://[fec0::1]/",  # site-local
    "http://[fc00::1]/",  # unique local
    "http://[fd00:ec2::254]/",  # a cloud metadata service
    "http://[fe80::1]/",  # link-local
    "http://[::1]/",
    "http://[::]/",
    "http://[ff02::1]/",  # multicast
    "http://[100::1]/",  # discard
    "http://[2001:db8::1]/",  # documentation
    "http://[5f00::1]/",  # SRv6 SIDs (RFC 9602), outside global unicast 2000::/3
    # IPv4 in the spellings inet_aton accepts: decimal, hex, octal, short forms
    "http://2130706433/",
    "http://0x7f000001/",
    "http://0x7f.1/",
    "http://017700000001/",
    "http://0177.0.0.1/",
    "http://127.1/",
    "http://0/",
    "http://0.0.0.0/",
    # IPv4 ranges that are not the public internet
    "http://100.64.0.1/",  # CGNAT
    "http://192.0.0.170/",  # NAT64 discovery
    "http://198.18.0.1/",  # benchmarking
    "http://192.0.2.1/",  # documentation
    "http://224.0.0.1/",  # multicast
    "http://239.255.255.250:1900/",
    "http://240.0.0.1/",  # reserved
    "http://255.255.255.255/",
    "http://169.254.169.254/latest/meta-data",
    "http://[::ffff:169.254.169.254]/",
    # names
    "http://localhost/",
    "http://LOCALHOST./",
    "http://user:pw@localhost:80/",
]
# Spellings of public addresses that must keep working (the check is not "refuse all IPv6").
PUBLIC = [
    "https://8.8.8.8/hook",
    "https://[2606:4700:4700::1111]/hook",
    "http://[64:ff9b::808:808]/hook",  # NAT64 of a public address
    "http://[2002:808:808::1]/hook",  # 6to4 of a public address
]


@pytest.mark.parametrize("url", INTERNAL)
async def test_an_internal_target_is_refused_at_creation(client, admin, db, url):
    project = await make_project(client, admin, key="HOOK")
    r = await client.post(
        f"/api/v1/projects/{project['id']}/webhooks",
        json={"url": url, "events": ["bug.created"]},
        headers=auth_headers(admin),
    )
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "unsafe_webhook_target"
    assert (await db.scalars(select(Webhook))).first() is None


@pytest.mark.parametrize("url", PUBLIC)
async def test_a_public_target_is_accepted(client, admin, url):
    project = await make_project(client, admin, key="HOOK")
    r = await client.post(
        f"/api/v1/projects/{project['id']}/webhooks",
        json={"url": url, "events": ["bug.created"]},
        headers=auth_headers(admin),
    )
    assert r.status_code == 201, r.text


@dataclass
class Listener:
    """A loopback HTTP server that counts every connection made to it (IPv4 and, where the
    host has it, IPv6 on the same port)."""

    port: int
    connections: list[str] = field(default_factory=list)


@contextlib.asynccontextmanager
async def listener() -> AsyncIterator[Listener]:
    state = Listener(port=0)

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state.connections.append(str(writer.get_extra_info("peername")))
        with contextlib.suppress(Exception):
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            await writer.drain()
        writer.close()

    v4 = await asyncio.start_server(answer, "127.0.0.1", 0)
    state.port = v4.sockets[0].getsockname()[1]
    servers = [v4]
    with contextlib.suppress(OSError):
        servers.append(
            await asyncio.start_server(answer, "::1", state.port, family=socket.AF_INET6)
        )
    try:
        yield state
    finally:
        for server in servers:
            server.close()
            await server.wait_closed()


async def _deliver_once(client, admin, settings, sessionmaker, app, db, url: str) -> OutboxMessage:
    """Store a webhook for `url` as a lab install may (private targets allowed), then deliver
    an event to it with the default setting (private targets refused)."""
    project = await make_project(client, admin, key="HOOK")
    settings.webhook_allow_private_targets = True
    r = await client.post(
        f"/api/v1/projects/{project['id']}/webhooks",
        json={"url": url, "events": ["bug.created"]},
        headers=auth_headers(admin),
    )
    assert r.status_code == 201, r.text
    settings.webhook_allow_private_targets = False
    await make_bug(client, admin, project)
    drainer = OutboxDrainer(
        sessionmaker, outbox_handlers(settings, sessionmaker, app.state.storage)
    )
    await drainer.run_once()
    message = (await db.scalars(select(OutboxMessage))).one()
    await db.refresh(message)
    return message


@pytest.mark.parametrize(
    "host",
    ["localhost", "127.0.0.1", "[::ffff:127.0.0.1]", "[::127.0.0.1]", "[64:ff9b::7f00:1]"],
)
async def test_a_delivery_to_an_internal_target_makes_no_connection(
    client, admin, settings, sessionmaker, app, db, host
):
    async with listener() as server:
        url = f"http://{host}:{server.port}/hook"
        message = await _deliver_once(client, admin, settings, sessionmaker, app, db, url)
        assert server.connections == []
    assert message.done_at is None and message.attempts == 1  # failed, to be retried
    assert "internal address" in (message.last_error or ""), message.last_error


async def test_allowing_private_targets_still_delivers_to_loopback(
    client, admin, settings, sessionmaker, app, db
):
    async with listener() as server:
        project = await make_project(client, admin, key="HOOK")
        settings.webhook_allow_private_targets = True
        r = await client.post(
            f"/api/v1/projects/{project['id']}/webhooks",
            json={"url": f"http://localhost:{server.port}/hook", "events": ["bug.created"]},
            headers=auth_headers(admin),
        )
        assert r.status_code == 201, r.text
        await make_bug(client, admin, project)
        handlers = outbox_handlers(settings, sessionmaker, app.state.storage)
        await OutboxDrainer(sessionmaker, handlers).run_once()
        assert len(server.connections) == 1
    message = (await db.scalars(select(OutboxMessage))).one()
    await db.refresh(message)
    assert message.done_at is not None and message.failed_at is None


async def test_a_redirect_is_not_followed(client, admin, settings, sessionmaker, app, db):
    """A public-looking target could answer 307 to an internal one: redirects are never
    followed, so the check of the first address is the only one needed."""
    async with listener() as inside:
        redirecting = await asyncio.start_server(
            lambda r, w: _redirect(r, w, f"http://127.0.0.1:{inside.port}/hook"), "127.0.0.1", 0
        )
        port = redirecting.sockets[0].getsockname()[1]
        try:
            project = await make_project(client, admin, key="HOOK")
            settings.webhook_allow_private_targets = True
            r = await client.post(
                f"/api/v1/projects/{project['id']}/webhooks",
                json={"url": f"http://127.0.0.1:{port}/hook", "events": ["bug.created"]},
                headers=auth_headers(admin),
            )
            assert r.status_code == 201, r.text
            await make_bug(client, admin, project)
            handlers = outbox_handlers(settings, sessionmaker, app.state.storage)
            await OutboxDrainer(sessionmaker, handlers).run_once()
        finally:
            redirecting.close()
            await redirecting.wait_closed()
        assert inside.connections == []
    message = (await db.scalars(select(OutboxMessage))).one()
    await db.refresh(message)
    assert message.done_at is None and "307" in (message.last_error or "")


async def _redirect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, to: str) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        writer.write(
            f"HTTP/1.1 307 Temporary Redirect\r\nlocation: {to}\r\ncontent-length: 0\r\n"
            "connection: close\r\n\r\n".encode()
        )
        await writer.drain()
    writer.close()
