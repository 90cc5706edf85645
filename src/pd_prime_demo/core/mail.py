"""Sending e-mail: SMTP (aiosmtplib) when configured, a local directory in demo and test.

Callers never send from inside a request: a domain writes the message in its transaction and a
queue job calls :func:`send` after the commit (see ``identity.mailbox``). STARTTLS is the
default for a configured server (RFC 8314 prefers implicit TLS on 465, which ``smtp_port`` 465
with ``smtp_starttls`` false selects); with no server configured, demo, test and development
environments write each message as an ``.eml`` file under ``data_dir/mail`` and log the path,
and production refuses (a reset link must never vanish silently).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

import aiosmtplib
import structlog

from pd_prime_demo.core.config import Environment, Settings

log = structlog.get_logger(__name__)


class MailNotConfiguredError(RuntimeError):
    """Production with no SMTP server: the message stays queued (the job retries)."""


@dataclass(frozen=True, slots=True)
class Mail:
    to: str
    subject: str
    body: str


def build_message(settings: Settings, mail: Mail) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain="pd-prime.invalid")
    message.set_content(mail.body)
    return message


def mail_directory(settings: Settings) -> Path:
    return settings.data_dir / "mail"


async def send(settings: Settings, mail: Mail) -> str:
    """Send ``mail``; returns where it went (``smtp:host:port`` or the file written)."""
    message = build_message(settings, mail)
    if settings.smtp_host:
        implicit_tls = settings.smtp_port == 465 and not settings.smtp_starttls
        await aiosmtplib.send(
            message,
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_user,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            use_tls=implicit_tls,
            start_tls=settings.smtp_starttls if not implicit_tls else False,
            timeout=settings.smtp_timeout_seconds,
        )
        return f"smtp:{settings.smtp_host}:{settings.smtp_port}"
    if settings.env is Environment.PRODUCTION:
        raise MailNotConfiguredError("no SMTP server is configured (PD_PRIME_SMTP_HOST)")
    folder = mail_directory(settings)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4().hex}.eml"
    path.write_bytes(bytes(message))
    log.info("mail.written", path=str(path))  # the path only: the address and body are PII
    return str(path)
