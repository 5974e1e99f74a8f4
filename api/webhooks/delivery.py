"""Outgoing webhooks: events enqueued in the changing transaction, signed, delivered with retries.

Signature: `X-Nimbus-Signature: t=<unix>,v1=<hex>` where hex = HMAC-SHA256(secret, "<t>.<body>").
Receivers deduplicate on `X-Nimbus-Delivery` (one id per event and webhook, stable across retries).
Targets that are (or resolve to) loopback, private, link-local or otherwise internal addresses are
refused unless NIMBUS_WEBHOOK_ALLOW_PRIVATE_TARGETS is set: checked at creation and every delivery,
so a DNS change cannot turn a webhook into a probe of the internal network. "Internal" is decided
on the address, whatever its spelling: IPv6 must be global unicast (2000::/3), and forms carrying
an IPv4 address (mapped, NAT64, 6to4) are judged by that address; redirects are never followed.
A delivery resolves the host once and connects to the address it checked (Host header and TLS
server name stay the URL's host), so a record that changes between check and connect (DNS
rebinding) cannot redirect it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import socket
import time
import uuid
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.errors import UnprocessableEntity
from api.outbox import Undeliverable, enqueue
from api.security import decrypt_at_rest, hmac_sha256_hex
from api.webhooks import repository

log = logging.getLogger("nimbus.webhooks")

EVENTS = ("bug.created", "bug.updated", "bug.transitioned", "comment.created")
DISABLE_AFTER_FAILURES = 10
TIMEOUT_S = 10.0


class UnsafeWebhookTarget(UnprocessableEntity):
    code = "unsafe_webhook_target"
    title = "Webhook targets must be public http(s) addresses"


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: the last 32 bits are the IPv4 address
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215: a network's own translators
_TEREDO = ipaddress.IPv6Network("2001::/32")


def internal_reason(address: IPAddress) -> str | None:
    """Why `address` is not somewhere on the public internet, or None when it is.

    Python's `is_global` knows the special-purpose registries but not what an IPv6 address
    carries: `::127.0.0.1`, `64:ff9b::7f00:1` and `2002:7f00:1::` all count as global there,
    and the deprecated site-local `fec0::/10` too.
    """
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return internal_reason(address.ipv4_mapped)
        if address in _NAT64:
            inner = internal_reason(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
            return f"NAT64 of an address that is {inner}" if inner else None
        if address in _NAT64_LOCAL:
            return "a local-use NAT64 prefix"
        if address in _TEREDO:
            return "a Teredo tunnel address"
        if address.sixtofour is not None:
            inner = internal_reason(address.sixtofour)
            return f"6to4 of an address that is {inner}" if inner else None
        if address not in _GLOBAL_UNICAST:
            return "outside the global unicast range 2000::/3"
    if address.is_multicast:
        return "multicast"
    if not address.is_global or address.is_reserved or address.is_unspecified:
        return "not a public internet address"
    return None


async def check_target(url: str, allow_private: bool) -> str:
    """Resolve the URL's host once and return the address to connect to, after refusing the
    URL if any address it resolves to is internal (unless private targets are allowed)."""
    try:
        parsed = httpx.URL(url)  # the parser that sends the request, so both see one host
    except (httpx.InvalidURL, TypeError) as exc:
        raise UnsafeWebhookTarget("The URL must be http(s)://host/...") from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise UnsafeWebhookTarget("The URL must be http(s)://host/...")
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            parsed.host,
            parsed.port or (443 if parsed.scheme == "https" else 80),
            type=socket.SOCK_STREAM,
        )
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeWebhookTarget(f"{parsed.host} does not resolve") from exc
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    if not addresses:
        raise UnsafeWebhookTarget(f"{parsed.host} does not resolve")
    if not allow_private:
        for address in addresses:
            why = internal_reason(address)
            if why is not None:
                raise UnsafeWebhookTarget(
                    f"{parsed.host} resolves to the internal address {address} ({why})"
                )
    return str(addresses[0])


def pinned_request(
    client: httpx.AsyncClient, url: str, address: str, body: bytes, headers: dict[str, str]
) -> httpx.Request:
    """A POST to `url` that goes to `address` without asking DNS again. The Host header and, for
    https, the TLS server name (SNI, and so the certificate check) are still the URL's host."""
    target = httpx.URL(url)
    return client.build_request(
        "POST",
        target.copy_with(host=address),
        content=body,
        headers={**headers, "Host": target.netloc.decode("ascii")},
        extensions={"sni_hostname": target.host} if target.scheme == "https" else {},
    )


async def emit(session: AsyncSession, project_id: int, event: str, data: dict[str, Any]) -> None:
    """Queue `event` for every active webhook of the project subscribed to it."""
    for hook in await repository.active_webhooks(session, project_id):
        if event in hook.events:
            enqueue(
                session,
                "webhook",
                {
                    "webhook_id": hook.id,
                    "delivery_id": uuid.uuid4().hex,
                    "event": event,
                    "data": data,
                },
            )


def sign(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={hmac_sha256_hex(secret, str(timestamp).encode() + b'.' + body)}"


def webhook_handler(
    sessionmaker: async_sessionmaker[AsyncSession], secret_key: str, allow_private: bool
) -> Any:
    async def deliver(payload: dict[str, Any]) -> None:
        async with sessionmaker() as session, session.begin():
            hook = await repository.webhook_by_id(session, payload["webhook_id"])
            # Deleted or disabled since: the delivery stays recorded as failed, not delivered.
            if hook is None:
                raise Undeliverable(f"webhook {payload['webhook_id']} was deleted")
            if not hook.is_active:
                raise Undeliverable(f"webhook {hook.id} is disabled after repeated failures")
            body = json.dumps(
                {"id": payload["delivery_id"], "event": payload["event"], "data": payload["data"]},
                separators=(",", ":"),
            ).encode()
            timestamp = int(time.time())
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "Nimbus-Webhooks/1",
                "X-Nimbus-Event": payload["event"],
                "X-Nimbus-Delivery": payload["delivery_id"],
                "X-Nimbus-Signature": sign(
                    decrypt_at_rest(hook.secret_encrypted, secret_key), timestamp, body
                ),
            }
            try:
                address = await check_target(hook.url, allow_private)
                async with httpx.AsyncClient(timeout=TIMEOUT_S, follow_redirects=False) as client:
                    request = pinned_request(client, hook.url, address, body, headers)
                    response = await client.send(request)
                response.raise_for_status()
            except Exception:
                hook.consecutive_failures += 1
                if hook.consecutive_failures >= DISABLE_AFTER_FAILURES:
                    hook.is_active = False
                    log.warning(
                        "webhook %s disabled after %s failures", hook.id, hook.consecutive_failures
                    )
                await session.commit()
                raise
            hook.consecutive_failures = 0

    return deliver
