"""Email delivery for notifications: plain text and HTML, sent over SMTP by the outbox."""

from __future__ import annotations

import html
import logging
from email.message import EmailMessage
from typing import Any
from urllib.parse import unquote, urlparse

import aiosmtplib

from api.outbox import Undeliverable

log = logging.getLogger("nimbus.email")


def build_message(sender: str, public_url: str, payload: dict[str, Any]) -> EmailMessage:
    link = public_url.rstrip("/") + str(payload.get("link", "/"))
    title = str(payload["subject"])
    body = str(payload.get("body", ""))
    message = EmailMessage()
    message["From"] = sender
    message["To"] = str(payload["to"])
    message["Subject"] = title
    text = f"{title}\n\n{body}\n\nOpen in Nimbus: {link}\n\n" + UNSUBSCRIBE_TEXT
    message.set_content(text)
    message.add_alternative(
        f"<p><strong>{html.escape(title)}</strong></p>"
        + (f"<p>{html.escape(body)}</p>" if body else "")
        + f'<p><a href="{html.escape(link, quote=True)}">Open in Nimbus</a></p>'
        + f'<p style="color:#666;font-size:small">{html.escape(UNSUBSCRIBE_TEXT)}</p>',
        subtype="html",
    )
    return message


UNSUBSCRIBE_TEXT = (
    "You receive this because of your Nimbus notification settings (Profile → email)."
)


async def send_via_smtp(smtp_url: str, message: EmailMessage) -> None:
    url = urlparse(smtp_url)
    implicit_tls = url.scheme == "smtps"
    await aiosmtplib.send(
        message,
        hostname=url.hostname or "localhost",
        port=url.port or (465 if implicit_tls else 25),
        username=unquote(url.username) if url.username else None,
        password=unquote(url.password) if url.password else None,
        use_tls=implicit_tls,
        start_tls=None if implicit_tls else (True if url.username else None),
        timeout=20,
    )


def email_handler(smtp_url: str | None, sender: str, public_url: str) -> Any:
    """The outbox handler: SMTP when configured, else the mail is only logged (embedded mode)."""

    async def deliver(payload: dict[str, Any]) -> None:
        message = build_message(sender, public_url, payload)
        if smtp_url is None:
            log.info(
                "email (no SMTP configured) to=%s subject=%s", message["To"], message["Subject"]
            )
            return
        try:
            await send_via_smtp(smtp_url, message)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            if all(r.code >= 500 and r.code != 552 for r in exc.recipients):
                # 5xx for the recipient is final (no such mailbox, relay denied): retrying
                # every hour forever would not change it. 4xx (mailbox busy) is retried, and
                # so is 552 (RFC 5321 4.5.3.1.10: at RCPT it means "full", i.e. 452).
                refused = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
                raise Undeliverable(f"the mail server refused {message['To']}: {refused}") from exc
            raise
        except aiosmtplib.SMTPDataError as exc:
            if exc.code >= 500 and exc.code != 552:
                # the server took the recipient but rejects this message itself (policy, spam):
                # the same bytes would be rejected again. 4xx is retried, and so is 552 (also
                # sent for a mailbox over its quota, which frees up).
                raise Undeliverable(
                    f"the mail server rejected the message to {message['To']}: "
                    f"{exc.code} {exc.message}"
                ) from exc
            raise

    return deliver
