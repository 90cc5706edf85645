"""Registration without enumeration, e-mail verification, password change and reset, e-mail
change, and the mail itself: a real SMTP server (aiosmtpd) on 127.0.0.1 reads what is sent."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import event, func, select

from pd_prime_demo.core import mail as core_mail
from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.config import Environment
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.customers.schemas import REGISTRATION_EXAMPLE
from pd_prime_demo.identity import jobs
from pd_prime_demo.identity.mfa_models import MailMessage
from pd_prime_demo.identity.models import User
from pd_prime_demo.main import create_app
from pd_prime_demo.worker import run_once
from tests.conftest import make_settings
from tests.factories import (
    PASSWORD,
    create_user,
    link_token,
    login,
    mails_to,
    user_login,
)

TOKEN = "/api/v1/auth/token"
NEW_PASSWORD = "plum tuesday glacier ostrich"


# --- a real SMTP server ---


@dataclass
class Inbox:
    handler_messages: list[EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.handler_messages.append(parsed)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.handler_messages if m["To"] == address]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def _smtp_settings(runtime: Runtime, port: int) -> Runtime:
    runtime.settings = make_settings(
        str(runtime.settings.database_url),
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_starttls=False,
        mail_from="PD Prime <no-reply@pd-prime.test>",
        public_base_url="https://pd-prime.test",
        redis_url=runtime.settings.redis_url,
    )
    return runtime


def _body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def _registration(address: str, **changes: object) -> dict[str, object]:
    return {**REGISTRATION_EXAMPLE, "email": address, **changes}


async def _users_with(runtime: Runtime, address: str) -> int:
    async with runtime.db.unit_of_work() as session:
        return int(await session.scalar(select(func.count()).where(User.email == address)) or 0)


# --- registration: the same answer either way (regression: 409 user.email_taken) ---


async def test_registration_answers_alike_whether_or_not_the_address_is_taken(
    client: AsyncClient, runtime: Runtime
) -> None:
    address = f"sam.{uuid.uuid4().hex[:6]}@example.com"
    first = await client.post("/api/v1/registrations", json=_registration(address))
    again = await client.post(
        "/api/v1/registrations",
        json=_registration(address, first_name="Robin", password="another long passphrase"),
    )
    assert first.status_code == again.status_code == 202, (first.text, again.text)
    assert first.json() == again.json()
    assert "location" not in again.headers
    assert await _users_with(runtime, address) == 1
    # Only the mailbox's owner learns which case it was.
    subjects = [m.subject for m in await mails_to(runtime, address)]
    assert subjects == ["Confirm your e-mail address", "You already have a PD Prime account"]


async def test_a_new_login_opens_only_once_its_address_is_verified(
    client: AsyncClient, runtime: Runtime
) -> None:
    address = f"kim.{uuid.uuid4().hex[:6]}@example.com"
    password = str(REGISTRATION_EXAMPLE["password"])
    assert (await client.post("/api/v1/registrations", json=_registration(address))).status_code
    early = await client.post(
        TOKEN, data={"grant_type": "password", "username": address, "password": password}
    )
    assert early.status_code == 403
    assert early.json()["code"] == "auth.email_unverified"
    wrong = await client.post(
        TOKEN, data={"grant_type": "password", "username": address, "password": "not it at all"}
    )
    assert wrong.json()["code"] == "auth.invalid_credentials", "no tell without the password"
    token = link_token((await mails_to(runtime, address))[0])
    assert (
        await client.post("/api/v1/auth/email-verification", json={"token": token})
    ).status_code == 204
    reused = await client.post("/api/v1/auth/email-verification", json={"token": token})
    assert reused.status_code == 422
    assert reused.json()["code"] == "auth.invalid_link_token"
    tokens = await login(client, address, password)
    me = await client.get(
        "/api/v1/customers", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert [c["email"] for c in me.json()["items"]] == [address]


@pytest.mark.parametrize("weak", ["password1234", "123456789012", "Password123!"])
async def test_weak_passwords_are_refused_with_zxcvbn_feedback(
    client: AsyncClient, runtime: Runtime, weak: str
) -> None:
    address = f"weak.{uuid.uuid4().hex[:6]}@example.com"
    refused = await client.post("/api/v1/registrations", json=_registration(address, password=weak))
    assert refused.status_code == 422
    body = refused.json()
    assert body["code"] == "user.weak_password"
    assert {e["pointer"] for e in body["errors"]} == {"#/password"}
    details = [e["detail"] for e in body["errors"]]
    assert details[0].startswith("too easy to guess")
    assert any("common" in d or "Add another word" in d for d in details)
    assert await _users_with(runtime, address) == 0
    assert await mails_to(runtime, address) == []
    admin = await user_login(client, runtime, Role.ADMIN)
    staff = await client.post(
        "/api/v1/users",
        json={"email": address, "full_name": "W", "role": "agent", "password": weak},
        headers=admin.headers,
    )
    assert staff.status_code == 422


# --- password reset ---


async def test_password_reset_by_e_mail(client: AsyncClient, runtime: Runtime) -> None:
    address = f"reset.{uuid.uuid4().hex[:6]}@example.com"
    await create_user(runtime, Role.AGENT, email=address)
    before = await login(client, address)
    unknown = await client.post("/api/v1/auth/password-reset", json={"email": "no.one@example.com"})
    known = await client.post("/api/v1/auth/password-reset", json={"email": address})
    assert unknown.status_code == known.status_code == 202
    assert unknown.json() == known.json(), "the same answer for unknown addresses"
    (notice,) = await mails_to(runtime, "no.one@example.com")  # the same work either way (S3)
    assert "no active PD Prime account" in notice.body
    (message,) = await mails_to(runtime, address)
    assert message.subject == "Reset your PD Prime password"
    token = link_token(message)
    weak = await client.post(
        "/api/v1/auth/password-reset/confirmation",
        json={"token": token, "new_password": "password1234"},
    )
    assert weak.status_code == 422
    done = await client.post(
        "/api/v1/auth/password-reset/confirmation",
        json={"token": token, "new_password": NEW_PASSWORD},
    )
    assert done.status_code == 204, done.text
    again = await client.post(
        "/api/v1/auth/password-reset/confirmation",
        json={"token": token, "new_password": "yet another fine passphrase"},
    )
    assert again.status_code == 422, "a reset link works once"
    headers = {"Authorization": f"Bearer {before['access_token']}"}
    assert (await client.get("/api/v1/users/me", headers=headers)).status_code == 401
    old = await client.post(
        TOKEN, data={"grant_type": "password", "username": address, "password": PASSWORD}
    )
    assert old.status_code == 401
    assert await login(client, address, NEW_PASSWORD)


async def test_a_newer_reset_link_replaces_the_older(client: AsyncClient, runtime: Runtime) -> None:
    address = f"twice.{uuid.uuid4().hex[:6]}@example.com"
    await create_user(runtime, Role.AGENT, email=address)
    for _ in range(2):
        await client.post("/api/v1/auth/password-reset", json={"email": address})
    older, newer = (link_token(m) for m in await mails_to(runtime, address))
    stale = await client.post(
        "/api/v1/auth/password-reset/confirmation",
        json={"token": older, "new_password": NEW_PASSWORD},
    )
    assert stale.status_code == 422
    fresh = await client.post(
        "/api/v1/auth/password-reset/confirmation",
        json={"token": newer, "new_password": NEW_PASSWORD},
    )
    assert fresh.status_code == 204


# --- password change ---


async def test_password_change_needs_the_current_one_and_ends_the_other_sessions(
    client: AsyncClient, runtime: Runtime
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    other = await login(client, agent.email)
    other_headers = {"Authorization": f"Bearer {other['access_token']}"}
    wrong = await client.post(
        "/api/v1/account/password",
        json={"current_password": "not my password", "new_password": NEW_PASSWORD},
        headers=agent.headers,
    )
    assert wrong.status_code == 401
    assert (await client.get("/api/v1/users/me", headers=other_headers)).status_code == 200
    changed = await client.post(
        "/api/v1/account/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=agent.headers,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json() == {"other_sessions_ended": 1}
    assert (await client.get("/api/v1/users/me", headers=agent.headers)).status_code == 200
    assert (await client.get("/api/v1/users/me", headers=other_headers)).status_code == 401
    refresh = await client.post(
        TOKEN, data={"grant_type": "refresh_token", "refresh_token": other["refresh_token"]}
    )
    assert refresh.status_code == 401
    assert await login(client, agent.email, NEW_PASSWORD)
    notices = [m.subject for m in await mails_to(runtime, agent.email)]
    assert notices == ["Your PD Prime password was changed"]


# --- e-mail change (regression: a customer could set their e-mail to another user's) ---


async def test_a_customer_cannot_put_another_users_address_on_their_record(
    client: AsyncClient, runtime: Runtime
) -> None:
    from tests.factories import register_and_login

    victim = await user_login(client, runtime, Role.AGENT)
    address = f"holder.{uuid.uuid4().hex[:6]}@example.com"
    holder = await register_and_login(client, address)
    own = (await client.get("/api/v1/customers", headers=holder)).json()["items"][0]
    url = f"/api/v1/customers/{own['id']}"
    etag = (await client.get(url, headers=holder)).headers["etag"]
    patched = await client.patch(
        url, json={"email": victim.email}, headers={**holder, "If-Match": etag}
    )
    assert patched.status_code == 422, patched.text
    assert patched.json()["code"] == "customer.email_is_login"
    assert (await client.get(url, headers=holder)).json()["email"] == address
    same = await client.patch(url, json={"email": address}, headers={**holder, "If-Match": etag})
    assert same.status_code == 200, "re-sending the current address is no change"


async def test_e_mail_change_goes_through_the_new_address(
    client: AsyncClient, runtime: Runtime
) -> None:
    from tests.factories import register_and_login

    address = f"mover.{uuid.uuid4().hex[:6]}@example.com"
    new_address = f"moved.{uuid.uuid4().hex[:6]}@example.com"
    holder = await register_and_login(client, address)
    password = str(REGISTRATION_EXAMPLE["password"])
    wrong = await client.post(
        "/api/v1/account/email",
        json={"new_email": new_address, "current_password": "not my password"},
        headers=holder,
    )
    assert wrong.status_code == 401
    asked = await client.post(
        "/api/v1/account/email",
        json={"new_email": new_address, "current_password": password},
        headers=holder,
    )
    assert asked.status_code == 202, asked.text
    assert await login(client, address, password), "nothing changes before the confirmation"
    (confirm,) = await mails_to(runtime, new_address)
    notice = (await mails_to(runtime, address))[-1]
    assert "was requested" in notice.subject
    done = await client.post(
        "/api/v1/account/email-change/confirmation", json={"token": link_token(confirm)}
    )
    assert done.status_code == 204, done.text
    assert await login(client, new_address, password)
    old = await client.post(
        TOKEN, data={"grant_type": "password", "username": address, "password": password}
    )
    assert old.status_code == 401
    own = (await client.get("/api/v1/customers", headers=holder)).json()["items"][0]
    assert own["email"] == new_address, "the owned customer record follows the login"


async def test_an_address_taken_meanwhile_is_refused_at_confirmation(
    client: AsyncClient, runtime: Runtime
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    wanted = f"wanted.{uuid.uuid4().hex[:6]}@example.com"
    asked = await client.post(
        "/api/v1/account/email",
        json={"new_email": wanted, "current_password": PASSWORD},
        headers=agent.headers,
    )
    assert asked.status_code == 202, "whether the address is free is not said yet"
    await create_user(runtime, Role.ADJUSTER, email=wanted)
    token = link_token((await mails_to(runtime, wanted))[0])
    refused = await client.post("/api/v1/account/email-change/confirmation", json={"token": token})
    assert refused.status_code == 409
    assert refused.json()["code"] == "user.email_taken"
    assert await login(client, agent.email)


# --- the mail: SMTP, after commit, and a local directory in demo ---


async def test_a_queued_message_is_sent_over_smtp_once(
    client: AsyncClient, runtime: Runtime, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    address = f"smtp.{uuid.uuid4().hex[:6]}@example.com"
    await create_user(runtime, Role.AGENT, email=address)
    _smtp_settings(runtime, port)
    assert (
        await client.post("/api/v1/auth/password-reset", json={"email": address})
    ).status_code == 202
    async with runtime.db.unit_of_work() as session:
        (message_id,) = (
            await session.scalars(select(MailMessage.id).where(MailMessage.sent_at.is_(None)))
        ).all()
    assert await jobs.deliver(runtime, message_id) is True
    assert await jobs.deliver(runtime, message_id) is False, "sent once, however many attempts"
    (received,) = inbox.to(address)
    assert received["Subject"] == "Reset your PD Prime password"
    assert received["From"] == "PD Prime <no-reply@pd-prime.test>"
    assert "https://pd-prime.test/account/reset-password#token=" in _body(received)
    async with runtime.db.unit_of_work() as session:
        row = await session.get(MailMessage, message_id)
        assert row is not None
        assert row.sent_at is not None
        assert row.body_enc is None, "the body (a live link) is erased once sent"
        assert address not in row.to_enc, "the recipient is encrypted"


@pytest.fixture
async def served_committed(
    committed_runtime: Runtime, smtp: tuple[Inbox, int]
) -> AsyncIterator[tuple[AsyncClient, Runtime, Inbox]]:
    inbox, port = smtp
    runtime = _smtp_settings(committed_runtime, port)
    app: FastAPI = create_app(runtime=runtime)
    transport = ASGITransport(app=app, raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client, runtime, inbox


async def test_the_worker_sends_registration_mail_after_commit(
    served_committed: tuple[AsyncClient, Runtime, Inbox],
) -> None:
    client, runtime, inbox = served_committed
    address = f"worker.{uuid.uuid4().hex[:6]}@example.com"
    weak = await client.post(
        "/api/v1/registrations", json=_registration(address, password="password1234")
    )
    assert weak.status_code == 422
    registered = await client.post("/api/v1/registrations", json=_registration(address))
    assert registered.status_code == 202
    assert inbox.to(address) == [], "nothing is sent inside the request"
    await run_once(runtime)
    (received,) = inbox.to(address)  # the refused attempt rolled back: it sent nothing
    assert received["Subject"] == "Confirm your e-mail address"
    token = _body(received).split("token=", 1)[1].split()[0]
    verified = await client.post("/api/v1/auth/email-verification", json={"token": token})
    assert verified.status_code == 204
    assert await login(client, address, str(REGISTRATION_EXAMPLE["password"]))
    await run_once(runtime)
    assert len(inbox.to(address)) == 1


async def test_without_smtp_demo_writes_messages_to_a_directory(tmp_path: Path) -> None:
    settings = make_settings(
        "postgresql+asyncpg://unused/db", env=Environment.DEMO, data_dir=tmp_path
    )
    where = await core_mail.send(settings, core_mail.Mail("a@example.com", "Hi", "Hello there"))
    path = Path(where)
    assert path.parent == tmp_path / "mail"
    written = await asyncio.to_thread(path.read_bytes)
    parsed = email.message_from_bytes(written, policy=email.policy.default)
    assert parsed["To"] == "a@example.com"
    assert parsed["Subject"] == "Hi"
    production = make_settings("postgresql+asyncpg://unused/db", env=Environment.PRODUCTION)
    with pytest.raises(core_mail.MailNotConfiguredError):
        await core_mail.send(production, core_mail.Mail("a@example.com", "Hi", "Hello"))


async def test_guessing_the_current_password_is_throttled_like_a_login(
    client: AsyncClient, runtime: Runtime
) -> None:
    """A stolen session is no faster oracle for the password than the login."""
    runtime.settings = make_settings(
        str(runtime.settings.database_url),
        redis_url=runtime.settings.redis_url,
        login_free_failures=2,
        login_delay_base_seconds=60,
    )
    agent = await user_login(client, runtime, Role.AGENT)
    answers = []
    for url, body in (
        (
            "/api/v1/account/password",
            {"current_password": "guess one", "new_password": NEW_PASSWORD},
        ),
        ("/api/v1/account/email", {"current_password": "guess two", "new_email": "x@example.com"}),
        ("/api/v1/account/password", {"current_password": "guess 3", "new_password": NEW_PASSWORD}),
        ("/api/v1/account/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
    ):
        answers.append((await client.post(url, json=body, headers=agent.headers)).status_code)
    assert answers == [401, 401, 401, 429]


# --- review S4 (mail flooding, chosen names) and N6 (an e-mail change and the old address) ---

SPOOF = "Visit https://evil.example now"


async def _registered(client: AsyncClient, address: str, first_name: str) -> dict[str, str]:
    from tests.factories import verify_address

    body = _registration(address, first_name=first_name)
    assert (await client.post("/api/v1/registrations", json=body)).status_code == 202
    await verify_address(client, address)
    tokens = await login(client, address, str(REGISTRATION_EXAMPLE["password"]))
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def test_no_chosen_name_goes_to_an_unverified_address(
    client: AsyncClient, runtime: Runtime
) -> None:
    """Regression (S4): the sign-up's first name, written by whoever signs up, opened the
    verification mail sent to an address nobody has confirmed (a spoofing channel)."""
    address = f"spoofed.{uuid.uuid4().hex[:6]}@example.com"
    body = _registration(address, first_name=SPOOF)
    assert (await client.post("/api/v1/registrations", json=body)).status_code == 202
    reset = await client.post("/api/v1/auth/password-reset", json={"email": address})
    assert reset.status_code == 202
    mails = await mails_to(runtime, address)
    assert [m.subject for m in mails] == [
        "Confirm your e-mail address",
        "Reset your PD Prime password",
    ]
    assert all(SPOOF not in m.body for m in mails), [m.body for m in mails]


async def test_e_mail_change_mail_is_capped_per_recipient_and_names_nobody(
    client: AsyncClient, runtime: Runtime
) -> None:
    """Regression (S4): a signed-in user could send any number of "confirm your new address"
    mails, opening with their chosen name, to any address."""
    holder = await _registered(client, f"flooder.{uuid.uuid4().hex[:6]}@example.com", SPOOF)
    victim = f"victim.{uuid.uuid4().hex[:6]}@example.com"
    password = str(REGISTRATION_EXAMPLE["password"])
    for _ in range(6):
        asked = await client.post(
            "/api/v1/account/email",
            json={"new_email": victim, "current_password": password},
            headers=holder,
        )
        assert asked.status_code == 202, asked.text
    mails = await mails_to(runtime, victim)
    assert len(mails) == 3, "three an hour to one recipient"
    assert all(SPOOF not in m.body for m in mails)


async def test_reset_mail_is_capped_per_recipient(client: AsyncClient, runtime: Runtime) -> None:
    address = f"capped.{uuid.uuid4().hex[:6]}@example.com"
    await create_user(runtime, Role.AGENT, email=address)
    for _ in range(5):
        await client.post("/api/v1/auth/password-reset", json={"email": address})
    assert len(await mails_to(runtime, address)) == 3


async def test_an_e_mail_change_ends_reset_links_and_tells_the_old_address(
    client: AsyncClient, runtime: Runtime
) -> None:
    """Regression (N6): a reset link sent to the old address kept working after the login
    moved to a new one, and the old address was never told the move happened."""
    address = f"old.{uuid.uuid4().hex[:6]}@example.com"
    new_address = f"new.{uuid.uuid4().hex[:6]}@example.com"
    holder = await _registered(client, address, "Alex")
    await client.post("/api/v1/auth/password-reset", json={"email": address})
    (reset,) = [m for m in await mails_to(runtime, address) if "Reset" in m.subject]
    asked = await client.post(
        "/api/v1/account/email",
        json={"new_email": new_address, "current_password": REGISTRATION_EXAMPLE["password"]},
        headers=holder,
    )
    assert asked.status_code == 202
    (confirm,) = await mails_to(runtime, new_address)
    done = await client.post(
        "/api/v1/account/email-change/confirmation", json={"token": link_token(confirm)}
    )
    assert done.status_code == 204, done.text
    stale = await client.post(
        "/api/v1/auth/password-reset/confirmation",
        json={"token": link_token(reset), "new_password": NEW_PASSWORD},
    )
    assert stale.status_code == 422, "the old address's reset link no longer works"
    notice = (await mails_to(runtime, address))[-1]
    assert notice.subject == "Your PD Prime e-mail address was changed"
    assert new_address not in notice.body, "the new address is not disclosed to the old one"


async def test_registration_does_the_same_work_whether_or_not_the_address_is_taken(
    client: AsyncClient, runtime: Runtime
) -> None:
    """Regression (S3): a new address ran the password check a second time, inserted a login
    and a customer and encrypted their PII, a taken one only hashed: the time told them apart.
    Now a taken address makes the same statements (under a savepoint that rolls back)."""
    written: list[str] = []

    def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        words = statement.split()
        if words[:2] == ["INSERT", "INTO"]:
            written.append(words[2].strip('"'))
        elif words and words[0] == "UPDATE":
            written.append(words[1].strip('"'))
        elif "procrastinate_defer_jobs" in statement:
            written.append("job")

    address = f"twice.{uuid.uuid4().hex[:6]}@example.com"
    engine = runtime.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        first = await client.post("/api/v1/registrations", json=_registration(address))
        new = sorted(set(written))
        written.clear()
        again = await client.post("/api/v1/registrations", json=_registration(address))
        taken = sorted(set(written))
    finally:
        event.remove(engine, "before_cursor_execute", note)
    assert first.status_code == again.status_code == 202
    assert {"users", "customers", "email_tokens", "mail_messages", "job"} <= set(new), new
    assert set(new) <= set(taken), (new, taken)
    assert await _users_with(runtime, address) == 1, "the savepoint's login is gone"


async def test_link_tokens_ride_in_the_fragment(client: AsyncClient, runtime: Runtime) -> None:
    """Regression (N7): the token sat in the link's query, so it reached the page's server
    logs and, by Referer, every third party the page loads from. A fragment is never sent."""
    address = f"fragment.{uuid.uuid4().hex[:6]}@example.com"
    await create_user(runtime, Role.AGENT, email=address)
    await client.post("/api/v1/auth/password-reset", json={"email": address})
    (message,) = await mails_to(runtime, address)
    token = link_token(message)
    assert f"/account/reset-password#token={token}" in message.body
    assert "?token=" not in message.body
