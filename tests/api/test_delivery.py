"""Email and webhooks leave through the outbox: real SMTP (aiosmtpd) and a real HTTP receiver."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
import uuid
from datetime import timedelta
from email import message_from_bytes

import httpx
import pytest
from aiohttp import web
from aiosmtpd.controller import Controller
from sqlalchemy import select, update

from api import migrations
from api.config import Settings
from api.db import utcnow
from api.main import create_app, outbox_handlers
from api.models import OutboxMessage, Webhook
from api.outbox import MAX_BACKOFF, OutboxDrainer
from api.webhooks.delivery import pinned_request
from tests.api.bug_helpers import make_bug, make_project
from tests.conftest import TEST_SECRET, auth_headers
from tests.support.postgres import free_port


class Inbox:
    def __init__(self) -> None:
        self.messages: list = []
        self.refuse: dict[str, str] = {}  # recipient -> SMTP reply to RCPT TO
        self.reject_data: str | None = None  # SMTP reply to the message itself

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.reject_data is not None:
            return self.reject_data
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield inbox, f"smtp://127.0.0.1:{controller.port}"
    finally:
        controller.stop()


@pytest.fixture
async def receiver():
    """A webhook target on loopback that records requests and answers with a chosen status."""
    state = {"requests": [], "status": 200}

    async def hook(request: web.Request) -> web.Response:
        state["requests"].append((dict(request.headers), await request.read()))
        return web.Response(status=state["status"])

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    state["url"] = f"http://127.0.0.1:{port}/hook"
    yield state
    await runner.cleanup()


@pytest.fixture
async def dns(monkeypatch):
    """DNS answers for made-up names, changeable mid-test as a real record can be; every lookup
    of them is recorded. Other names resolve as usual."""
    answers: dict[str, str] = {}
    lookups: list[str] = []
    loop = asyncio.get_running_loop()
    real = loop.getaddrinfo

    async def getaddrinfo(host, port, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else host
        if name not in answers:
            return await real(host, port, *args, **kwargs)
        lookups.append(name)
        address = answers[name]
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, int(port)))]

    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
    return answers, lookups


def drainer(settings, sessionmaker, app) -> OutboxDrainer:
    return OutboxDrainer(sessionmaker, outbox_handlers(settings, sessionmaker, app.state.storage))


async def test_notification_email_reaches_an_smtp_server(
    client, admin, developer, tester, settings, sessionmaker, app, smtp
):
    inbox, url = smtp
    settings.smtp_url = url
    await make_project(client, admin, developer, tester)
    await make_bug(client, admin, assignee_id=developer.id, title="Checkout <crashes>")
    assert await drainer(settings, sessionmaker, app).run_once() >= 1
    await asyncio.sleep(0)
    assert len(inbox.messages) == 1
    mail = inbox.messages[0]
    assert mail["To"] == developer.email
    assert "Checkout <crashes>" in mail["Subject"]
    parts = {
        p.get_content_type(): p.get_payload(decode=True).decode()
        for p in mail.walk()
        if not p.is_multipart()
    }
    assert "http://127.0.0.1:8000/bugs/WEB-1" in parts["text/plain"]
    assert "Checkout &lt;crashes&gt;" in parts["text/html"]  # escaped in HTML


async def test_the_running_app_mails_right_after_the_commit(pg_cluster, tmp_path, smtp):
    """The real lifespan's background drainer, no run_once(): the commit that queued the mail
    wakes it, long before its next poll."""
    inbox, url = smtp
    name = f"outbox_{uuid.uuid4().hex[:10]}"
    pg_cluster.psql(f"CREATE DATABASE {name}")
    await asyncio.to_thread(migrations.upgrade, pg_cluster.url(name))
    settings = Settings(
        secret_key=TEST_SECRET,
        data_dir=tmp_path,
        database_url=pg_cluster.url(name),
        executor_backend="off",
        spa_dir=tmp_path / "no-spa",
        smtp_url=url,
        outbox_poll_interval_s=600,  # only a wake-up can deliver within the test
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t/api/v1") as c:
            account = {"email": "a@example.com", "password": "long-enough", "full_name": "Ann"}
            await c.post("/auth/register", json=account)
            form = {"username": account["email"], "password": account["password"]}
            token = (await c.post("/auth/token", data=form)).json()["access_token"]
            h = {"Authorization": f"Bearer {token}"}
            dev = {**account, "email": "d@example.com", "full_name": "Dev", "role": "developer"}
            dev_id = (await c.post("/users", json=dev, headers=h)).json()["id"]
            await c.post("/projects", json={"key": "WEB", "name": "Web"}, headers=h)
            await c.put(f"/projects/WEB/members/{dev_id}", headers=h)
            await asyncio.sleep(0.2)  # the drainer's first pass is over; it waits for a wake
            bug = {"title": "Wake up", "assignee_id": dev_id}
            assert (await c.post("/projects/WEB/bugs", json=bug, headers=h)).status_code == 201
            async with asyncio.timeout(10):
                while not inbox.messages:  # noqa: ASYNC110 - aiosmtpd offers no event
                    await asyncio.sleep(0.02)
    assert inbox.messages[0]["To"] == "d@example.com"
    assert "Wake up" in inbox.messages[0]["Subject"]


async def test_users_who_opt_out_get_no_email(client, admin, developer, tester, db):
    developer.email_notifications = False
    db.add(developer)
    await db.commit()
    await make_project(client, admin, developer, tester)
    await make_bug(client, admin, assignee_id=developer.id)
    topics = (await db.scalars(select(OutboxMessage.topic))).all()
    assert "email" not in topics


async def test_smtp_down_delays_but_loses_nothing(
    client, admin, developer, tester, settings, sessionmaker, app, db, smtp
):
    inbox, url = smtp
    settings.smtp_url = f"smtp://127.0.0.1:{free_port()}"  # nobody listens here
    await make_project(client, admin, developer, tester)
    await make_bug(client, admin, assignee_id=developer.id)
    await drainer(settings, sessionmaker, app).run_once()
    message = (await db.scalars(select(OutboxMessage).where(OutboxMessage.topic == "email"))).one()
    await db.refresh(message)
    assert message.done_at is None and message.attempts == 1 and message.last_error
    settings.smtp_url = url
    message.next_attempt_at = message.created_at  # due again now
    await db.commit()
    await drainer(settings, sessionmaker, app).run_once()
    assert len(inbox.messages) == 1


async def test_an_smtp_outage_of_days_still_ends_delivered(
    client, admin, developer, tester, settings, sessionmaker, app, db, smtp
):
    inbox, url = smtp
    settings.smtp_url = f"smtp://127.0.0.1:{free_port()}"  # nobody listens here
    await make_project(client, admin, developer, tester)
    await make_bug(client, admin, assignee_id=developer.id)
    message = (await db.scalars(select(OutboxMessage).where(OutboxMessage.topic == "email"))).one()
    # As if it had failed every hour for two days: far past any fixed retry budget.
    message.attempts = 50
    await db.commit()
    before = utcnow()
    await drainer(settings, sessionmaker, app).run_once()
    await db.refresh(message)
    assert message.attempts == 51 and message.done_at is None and message.failed_at is None
    assert before + MAX_BACKOFF <= message.next_attempt_at <= utcnow() + MAX_BACKOFF
    settings.smtp_url = url  # the server is back
    message.next_attempt_at = utcnow()
    await db.commit()
    await drainer(settings, sessionmaker, app).run_once()
    await db.refresh(message)
    assert len(inbox.messages) == 1 and inbox.messages[0]["To"] == developer.email
    assert message.done_at is not None and message.failed_at is None


async def test_a_recipient_the_server_refuses_for_good_is_not_retried(
    client, admin, developer, tester, settings, sessionmaker, app, db, smtp
):
    inbox, url = smtp
    settings.smtp_url = url
    inbox.refuse[developer.email] = "550 5.1.1 No such mailbox"
    await make_project(client, admin, developer, tester)
    await make_bug(client, admin, assignee_id=developer.id)
    await drainer(settings, sessionmaker, app).run_once()
    message = (await db.scalars(select(OutboxMessage).where(OutboxMessage.topic == "email"))).one()
    await db.refresh(message)
    assert message.failed_at is not None  # settled: never picked up again
    assert "550 5.1.1 No such mailbox" in (message.last_error or "")
    assert inbox.messages == []


@pytest.mark.parametrize(
    "reply",
    ["450 4.2.1 Mailbox busy, try later", "552 5.2.2 Mailbox full"],  # 552 at RCPT: temporary
)
async def test_a_recipient_refused_for_now_is_retried(
    client, admin, developer, tester, settings, sessionmaker, app, db, smtp, reply
):
    inbox, url = smtp
    settings.smtp_url = url
    inbox.refuse[developer.email] = reply
    await make_project(client, admin, developer, tester)
    await make_bug(client, admin, assignee_id=developer.id)
    await drainer(settings, sessionmaker, app).run_once()
    message = (await db.scalars(select(OutboxMessage).where(OutboxMessage.topic == "email"))).one()
    await db.refresh(message)
    assert message.failed_at is None and message.done_at is None and message.attempts == 1
    del inbox.refuse[developer.email]
    message.next_attempt_at = utcnow()
    await db.commit()
    await drainer(settings, sessionmaker, app).run_once()
    await db.refresh(message)
    assert message.done_at is not None and len(inbox.messages) == 1


@pytest.mark.parametrize(
    ("reply", "final"),
    [
        ("554 5.7.1 Message rejected as spam", True),
        ("451 4.3.0 Try again later", False),
        ("552 5.2.2 Mailbox over quota", False),
    ],
)
async def test_a_message_the_server_rejects_is_settled_only_for_good(
    client, admin, developer, tester, settings, sessionmaker, app, db, smtp, reply, final
):
    inbox, url = smtp
    settings.smtp_url = url
    inbox.reject_data = reply
    await make_project(client, admin, developer, tester)
    await make_bug(client, admin, assignee_id=developer.id)
    await drainer(settings, sessionmaker, app).run_once()
    message = (await db.scalars(select(OutboxMessage).where(OutboxMessage.topic == "email"))).one()
    await db.refresh(message)
    if final:  # 5xx: settled, never picked up again
        assert message.failed_at is not None
    else:  # 4xx: tried again later
        assert message.failed_at is None and message.done_at is None and message.attempts == 1
    assert reply.split(" ", 1)[1] in (message.last_error or "")
    assert inbox.messages == []


async def test_webhook_delivery_is_signed(
    client, admin, developer, tester, settings, sessionmaker, app, receiver
):
    settings.webhook_allow_private_targets = True
    await make_project(client, admin, developer, tester)
    created = await client.post(
        "/api/v1/projects/WEB/webhooks",
        json={"url": receiver["url"], "events": ["bug.created", "bug.transitioned"]},
        headers=auth_headers(admin),
    )
    assert created.status_code == 201, created.text
    secret = created.json()["secret"]
    listed = (await client.get("/api/v1/projects/WEB/webhooks", headers=auth_headers(admin))).json()
    assert "secret" not in listed["items"][0]
    await make_bug(client, tester, title="Hooked")
    await drainer(settings, sessionmaker, app).run_once()
    assert len(receiver["requests"]) == 1
    headers, body = receiver["requests"][0]
    t, v1 = (part.split("=", 1)[1] for part in headers["X-Nimbus-Signature"].split(","))
    expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(v1, expected)
    event = json.loads(body)
    assert event["event"] == "bug.created" and event["data"]["bug"]["key"] == "WEB-1"
    assert headers["X-Nimbus-Delivery"] == event["id"]


async def test_bug_updated_and_comment_created_events_are_delivered(
    client, admin, developer, tester, settings, sessionmaker, app, receiver
):
    settings.webhook_allow_private_targets = True
    await make_project(client, admin, developer, tester)
    created = await client.post(
        "/api/v1/projects/WEB/webhooks",
        json={"url": receiver["url"], "events": ["bug.updated", "comment.created"]},
        headers=auth_headers(admin),
    )
    assert created.status_code == 201, created.text
    bug = await make_bug(client, tester, title="Before")  # bug.created: not subscribed
    r = await client.patch(
        f"/api/v1/bugs/{bug['id']}", json={"title": "After"}, headers=auth_headers(tester)
    )
    assert r.status_code == 200, r.text
    r = await client.post(
        f"/api/v1/bugs/{bug['id']}/comments", json={"body": "seen"}, headers=auth_headers(tester)
    )
    assert r.status_code == 201, r.text
    comment_id = r.json()["id"]
    await drainer(settings, sessionmaker, app).run_once()
    events = [(h["X-Nimbus-Event"], json.loads(body)) for h, body in receiver["requests"]]
    assert [name for name, _ in events] == ["bug.updated", "comment.created"]
    assert [e["event"] for _, e in events] == ["bug.updated", "comment.created"]
    updated, commented = (e["data"] for _, e in events)
    assert updated["bug"]["title"] == "After" and updated["fields"] == ["title"]
    assert updated["actor_id"] == tester.id
    assert commented["bug"]["key"] == "WEB-1" and commented["comment_id"] == comment_id


async def test_failed_webhook_delivery_is_retried_later_with_the_same_id(
    client, admin, developer, tester, settings, sessionmaker, app, receiver, db
):
    settings.webhook_allow_private_targets = True
    receiver["status"] = 500
    await make_project(client, admin, developer, tester)
    hook = (
        await client.post(
            "/api/v1/projects/WEB/webhooks",
            json={"url": receiver["url"], "events": ["bug.created"]},
            headers=auth_headers(admin),
        )
    ).json()
    await make_bug(client, tester)
    message = (await db.scalars(select(OutboxMessage))).one()
    outbox = drainer(settings, sessionmaker, app)
    delays = []
    for failures in (1, 2, 3):
        before = utcnow()
        await outbox.run_once()
        await db.refresh(message)
        assert message.attempts == failures and message.done_at is None
        delays.append((message.next_attempt_at - before).total_seconds())
        await outbox.run_once()  # not due yet: no new request
        assert len(receiver["requests"]) == failures
        message.next_attempt_at = utcnow()  # due now, instead of sleeping
        await db.commit()
    assert [round(d) for d in delays] == [2, 4, 8]  # doubling after each failure
    receiver["status"] = 200
    await outbox.run_once()
    await db.refresh(message)
    assert message.done_at is not None and message.failed_at is None
    assert len(receiver["requests"]) == 4
    delivery_ids = {headers["X-Nimbus-Delivery"] for headers, _ in receiver["requests"]}
    event_ids = {json.loads(body)["id"] for _, body in receiver["requests"]}
    assert len(delivery_ids) == 1 and delivery_ids == event_ids
    row = await db.get(Webhook, hook["id"])
    await db.refresh(row)
    assert row.is_active and row.consecutive_failures == 0


async def test_failing_webhook_is_retried_then_disabled(
    client, admin, developer, tester, settings, sessionmaker, app, receiver, db
):
    settings.webhook_allow_private_targets = True
    receiver["status"] = 500
    await make_project(client, admin, developer, tester)
    hook = (
        await client.post(
            "/api/v1/projects/WEB/webhooks",
            json={"url": receiver["url"], "events": ["bug.created"]},
            headers=auth_headers(admin),
        )
    ).json()
    for _ in range(10):
        await make_bug(client, tester)
    await drainer(settings, sessionmaker, app).run_once()
    row = await db.get(Webhook, hook["id"])
    await db.refresh(row)
    assert row.is_active is False and row.consecutive_failures >= 10
    pending = (
        await db.scalars(select(OutboxMessage).where(OutboxMessage.topic == "webhook"))
    ).all()
    assert all(m.attempts == 1 and m.done_at is None for m in pending)


async def test_deliveries_to_a_disabled_webhook_stay_recorded_as_failed(
    client, admin, developer, tester, settings, sessionmaker, app, receiver, db
):
    settings.webhook_allow_private_targets = True
    receiver["status"] = 500
    await make_project(client, admin, developer, tester)
    hook = (
        await client.post(
            "/api/v1/projects/WEB/webhooks",
            json={"url": receiver["url"], "events": ["bug.created"]},
            headers=auth_headers(admin),
        )
    ).json()
    for _ in range(10):
        await make_bug(client, tester)
    await drainer(settings, sessionmaker, app).run_once()  # ten failures: disabled
    receiver["status"] = 200  # too late: the webhook is off
    seen = len(receiver["requests"])
    await db.execute(update(OutboxMessage).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    await db.commit()
    await drainer(settings, sessionmaker, app).run_once()
    assert len(receiver["requests"]) == seen
    rows = (await db.scalars(select(OutboxMessage).where(OutboxMessage.topic == "webhook"))).all()
    for row in rows:
        await db.refresh(row)
    assert len(rows) == 10
    assert all(m.failed_at is not None and m.done_at is not None for m in rows)
    assert all(f"webhook {hook['id']} is disabled" in (m.last_error or "") for m in rows)


async def test_a_host_that_now_resolves_internally_is_refused_at_delivery(
    client, admin, developer, tester, settings, sessionmaker, app, receiver, db, dns
):
    answers, _ = dns
    port = receiver["url"].split(":")[2].split("/")[0]
    await make_project(client, admin, developer, tester)
    answers["hooks.example.test"] = "93.184.216.34"  # public when the webhook is created
    created = await client.post(
        "/api/v1/projects/WEB/webhooks",
        json={"url": f"http://hooks.example.test:{port}/hook", "events": ["bug.created"]},
        headers=auth_headers(admin),
    )
    assert created.status_code == 201, created.text
    answers["hooks.example.test"] = "127.0.0.1"  # ...then pointed at the inside
    await make_bug(client, tester)
    await drainer(settings, sessionmaker, app).run_once()
    assert receiver["requests"] == []
    message = (await db.scalars(select(OutboxMessage))).one()
    await db.refresh(message)
    assert message.attempts == 1 and message.done_at is None
    assert "resolves to the internal address 127.0.0.1" in (message.last_error or "")


async def test_a_delivery_connects_to_the_checked_address_not_a_new_lookup(receiver, dns):
    """The DNS-rebinding guard: once an address is checked the request goes there, whatever
    the name resolves to by the time the connection is made."""
    answers, lookups = dns
    port = receiver["url"].split(":")[2].split("/")[0]
    answers["hooks.example.test"] = "127.0.0.2"  # a new answer: nothing listens there
    url = f"http://hooks.example.test:{port}/hook"
    async with httpx.AsyncClient() as c:
        response = await c.send(pinned_request(c, url, "127.0.0.1", b"{}", {"X-A": "1"}))
    assert response.status_code == 200 and lookups == []
    headers, body = receiver["requests"][0]
    assert headers["Host"] == f"hooks.example.test:{port}" and headers["X-A"] == "1"
    assert body == b"{}"


def test_a_pinned_https_request_keeps_the_host_name_for_tls():
    request = pinned_request(
        httpx.AsyncClient(), "https://hooks.example.com/in?x=1", "2001:db8::1", b"", {}
    )
    assert str(request.url) == "https://[2001:db8::1]/in?x=1"
    assert request.headers["Host"] == "hooks.example.com"
    assert request.extensions["sni_hostname"] == "hooks.example.com"  # SNI and cert check


async def test_deliveries_resolve_the_host_once(
    client, admin, developer, tester, settings, sessionmaker, app, receiver, dns
):
    settings.webhook_allow_private_targets = True
    answers, lookups = dns
    port = receiver["url"].split(":")[2].split("/")[0]
    answers["hooks.example.test"] = "127.0.0.1"
    await make_project(client, admin, developer, tester)
    created = await client.post(
        "/api/v1/projects/WEB/webhooks",
        json={"url": f"http://hooks.example.test:{port}/hook", "events": ["bug.created"]},
        headers=auth_headers(admin),
    )
    assert created.status_code == 201, created.text
    lookups.clear()
    await make_bug(client, tester)
    await drainer(settings, sessionmaker, app).run_once()
    assert len(receiver["requests"]) == 1 and lookups == ["hooks.example.test"]
    assert receiver["requests"][0][0]["Host"] == f"hooks.example.test:{port}"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://localhost:8080/x",
        "http://10.1.2.3/",
        "http://169.254.169.254/latest",
        "http://[::1]/",
        "ftp://example.com/",
        "not a url",
    ],
)
async def test_internal_webhook_targets_are_refused(client, admin, developer, tester, db, url):
    await make_project(client, admin, developer, tester)
    r = await client.post(
        "/api/v1/projects/WEB/webhooks",
        json={"url": url, "events": ["bug.created"]},
        headers=auth_headers(admin),
    )
    assert r.status_code == 422
    assert r.json()["code"] == "unsafe_webhook_target"
    assert (await db.scalars(select(Webhook))).first() is None


async def test_only_admins_manage_webhooks(client, admin, developer, tester):
    await make_project(client, admin, developer, tester)
    r = await client.post(
        "/api/v1/projects/WEB/webhooks",
        json={"url": "https://example.com", "events": ["bug.created"]},
        headers=auth_headers(developer),
    )
    assert r.status_code == 403
    assert (
        await client.delete("/api/v1/webhooks/1", headers=auth_headers(developer))
    ).status_code == 403
    assert (
        await client.delete("/api/v1/webhooks/999", headers=auth_headers(admin))
    ).status_code == 404
