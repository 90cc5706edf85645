"""`pd-prime keys rotate`: a new PII key encrypts from then on, and every existing field is
re-encrypted in batches, resumably, while the API serves; on a database whose commits are real."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner

from pd_prime_demo import cli
from pd_prime_demo.core import pii_rotation
from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.config import get_settings
from pd_prime_demo.core.crypto import FieldCipher
from pd_prime_demo.core.database import Base, Database
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.main import create_app
from tests.conftest import KEYS, make_settings
from tests.factories import Login, person, register_and_login, user_login

OLD_KID = KEYS["PD_PRIME_PII_ACTIVE_KID"]
NEW_KID = "pii-rotated"
NEW_KEY = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
RING = {**json.loads(KEYS["PD_PRIME_PII_KEYS"]), NEW_KID: NEW_KEY}
FIELDS = ("date_of_birth", "ssn", "drivers_license_number")


@asynccontextmanager
async def api(runtime: Runtime) -> AsyncIterator[AsyncClient]:
    transport = ASGITransport(app=create_app(runtime=runtime), raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@asynccontextmanager
async def runtime_with(url: str, keys: dict[str, str], active: str) -> AsyncIterator[Runtime]:
    """A second process on the same database, with another PII key ring."""
    settings = make_settings(url, redis_url=None, pii_keys=json.dumps(keys), pii_active_kid=active)
    runtime = Runtime.create(settings, db=Database(create_async_engine(url, pool_size=4)))
    try:
        yield runtime
    finally:
        await runtime.close()


def _url(runtime: Runtime) -> str:
    return runtime.db.url


async def _customers(client: AsyncClient, admin: Login, count: int) -> dict[str, dict[str, Any]]:
    made: dict[str, dict[str, Any]] = {}
    for i in range(count):
        body = person(ssn=f"219-09-{1000 + i:04d}", drivers_license_number=f"TX{1000000 + i}")
        created = await client.post("/api/v1/customers", json=body, headers=admin.headers)
        assert created.status_code == 201, created.text
        made[created.json()["id"]] = {f: body[f] for f in FIELDS}
    return made


async def _read_all(client: AsyncClient, admin: Login, ids: list[str]) -> dict[str, dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for customer_id in ids:
        read = await client.get(f"/api/v1/customers/{customer_id}", headers=admin.headers)
        assert read.status_code == 200, read.text
        seen[customer_id] = {f: read.json()[f] for f in FIELDS}
    return seen


async def _kids(runtime: Runtime) -> dict[str, set[str]]:
    async with runtime.db.sessionmaker() as session:
        rows = await session.execute(
            text(
                "SELECT id::text, split_part(ssn_enc, '.', 2),"
                " split_part(date_of_birth_enc, '.', 2),"
                " split_part(drivers_license_number_enc, '.', 2) FROM customers"
            )
        )
        return {row[0]: set(row[1:]) for row in rows}


def _rotate_cli(url: str, monkeypatch: pytest.MonkeyPatch, *args: str) -> str:
    for name, value in {
        **KEYS,
        "PD_PRIME_PII_KEYS": json.dumps(RING),
        "PD_PRIME_PII_ACTIVE_KID": NEW_KID,
        "DATABASE_URL": url,
        "PD_PRIME_ENV": "test",
        "PD_PRIME_LOG_LEVEL": "WARNING",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("REDIS_URL", raising=False)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli.app, ["keys", "rotate", *args])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    return result.output


async def test_rotation_re_encrypts_every_field_resumably_and_the_old_key_can_go(
    committed_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with api(committed_runtime) as client:
        admin = await user_login(client, committed_runtime, Role.ADMIN)
        expected = await _customers(client, admin, 7)
    assert {k for kids in (await _kids(committed_runtime)).values() for k in kids} == {OLD_KID}
    url = _url(committed_runtime)

    # Step 1 (deployed): the new key is active, so new fields use it at once.
    async with runtime_with(url, RING, NEW_KID) as serving, api(serving) as client:
        fresh = await _customers(client, admin, 1)
        [fresh_id] = fresh
        assert (await _kids(serving))[fresh_id] == {NEW_KID}
        expected |= fresh

        # Step 2: rotate, interrupted after one batch of two rows.
        output = await asyncio.to_thread(
            _rotate_cli, url, monkeypatch, "--batch-size", "2", "--max-batches", "1"
        )
        assert "stopped after 1 batches" in output
        kids = await _kids(serving)
        assert sum(1 for k in kids.values() if k == {NEW_KID}) == 1 + 2
        assert sum(1 for k in kids.values() if k == {OLD_KID}) == 7 - 2
        # Half-way, every field still reads right (the ring holds both keys).
        assert await _read_all(client, admin, list(expected)) == expected

        # Resumed: it carries on from what the fields say, and names the key no field uses.
        output = await asyncio.to_thread(_rotate_cli, url, monkeypatch, "--batch-size", "2")
        assert "customers: 15 fields re-encrypted in 3 batches" in output
        assert f"every field is under {NEW_KID}; keys no field uses any more: {OLD_KID}" in output
        assert {k for kids in (await _kids(serving)).values() for k in kids} == {NEW_KID}

        # A run with nothing left to do changes nothing.
        output = await asyncio.to_thread(_rotate_cli, url, monkeypatch)
        assert "customers: 0 fields re-encrypted" in output

    # The old key leaves the ring: every field still decrypts, through the API.
    async with runtime_with(url, {NEW_KID: NEW_KEY}, NEW_KID) as serving, api(serving) as client:
        assert await _read_all(client, admin, list(expected)) == expected


async def test_rotation_runs_while_the_api_writes_and_loses_no_write(
    committed_runtime: Runtime,
) -> None:
    async with api(committed_runtime) as client:
        admin = await user_login(client, committed_runtime, Role.ADMIN)
        expected = await _customers(client, admin, 12)
    url = _url(committed_runtime)
    async with runtime_with(url, RING, NEW_KID) as serving, api(serving) as client:

        async def write() -> None:
            for i, customer_id in enumerate(list(expected)):
                read = await client.get(f"/api/v1/customers/{customer_id}", headers=admin.headers)
                ssn = f"219-09-{5000 + i:04d}"
                changed = await client.patch(
                    f"/api/v1/customers/{customer_id}",
                    json={"ssn": ssn},
                    headers={**admin.headers, "If-Match": read.headers["etag"]},
                )
                assert changed.status_code == 200, changed.text
                expected[customer_id]["ssn"] = ssn
                await asyncio.sleep(0)

        report, _ = await asyncio.gather(
            pii_rotation.rotate(serving.db, serving.cipher, batch_size=1, pause_seconds=0.001),
            write(),
        )
        assert report.finished
        assert report.tables["customers"].unreadable == 0
        assert await _read_all(client, admin, list(expected)) == expected
        assert {k for kids in (await _kids(serving)).values() for k in kids} == {NEW_KID}
        in_use = await pii_rotation.key_ids_in_use(serving.db)
        assert set(in_use) <= {NEW_KID}


async def test_a_field_under_a_key_not_in_the_ring_is_reported_not_lost(
    committed_runtime: Runtime,
) -> None:
    async with api(committed_runtime) as client:
        admin = await user_login(client, committed_runtime, Role.ADMIN)
        [customer_id] = await _customers(client, admin, 1)
    url = _url(committed_runtime)
    lost = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
    # A ring without the key the fields are under: they cannot be opened, so they stay.
    async with runtime_with(url, {NEW_KID: NEW_KEY, "other": lost}, NEW_KID) as serving:
        report = await pii_rotation.rotate(serving.db, serving.cipher, batch_size=10)
        assert report.tables["customers"].unreadable == 3
        assert report.tables["customers"].rewritten == 0
        assert (await _kids(serving))[customer_id] == {OLD_KID}


def test_every_encrypted_column_is_in_the_rotation() -> None:
    """A new encrypted column must be added to ENCRYPTED_FIELDS, or rotation would miss it."""
    import pd_prime_demo.main  # noqa: F401 - every domain's models, as the app loads them

    listed = {(t.name, c) for t in pii_rotation.ENCRYPTED_FIELDS for c in t.columns}
    for target in pii_rotation.ENCRYPTED_FIELDS:
        assert target.name in Base.metadata.tables, target.name
        table = Base.metadata.tables[target.name]
        assert [c.name for c in table.primary_key.columns] == list(target.keys)
        assert all(c in table.c for c in target.columns)
    encrypted = {
        (table.name, c.name)
        for table in Base.metadata.tables.values()
        for c in table.columns
        if c.name.endswith("_enc") or c.name in ("secret", "previous_secret")
    }
    assert encrypted <= listed, encrypted - listed


def test_the_rotations_contexts_are_the_domains() -> None:
    """The context each field is sealed with, as the domain that writes it builds it."""
    from pd_prime_demo.customers.service import pii
    from pd_prime_demo.webhooks.service.subscriptions import secret_context

    by_name = {t.name: t for t in pii_rotation.ENCRYPTED_FIELDS}
    key = uuid.uuid4()
    for field in FIELDS:
        assert by_name["customers"].context(f"{field}_enc", key) == pii._context(field, key)
    webhooks = by_name["webhook_subscriptions"]
    assert webhooks.context("secret", key) == secret_context(key)
    assert webhooks.context("previous_secret", key) == secret_context(key, previous=True)
    from pd_prime_demo.identity import mailbox, mfa

    assert by_name["totp_credentials"].context("secret_enc", key) == mfa._secret_context(key)
    mail = by_name["mail_messages"]
    assert mail.context("to_enc", key) == mailbox._context(key, "to")
    assert mail.context("body_enc", key) == mailbox._context(key, "body")
    # identity.passwords seals the new address of an e-mail change inline, thus:
    assert by_name["email_tokens"].context("new_email_enc", key) == (
        f"email_tokens.new_email:{key}"
    )
    # Sealed under one context, opened under the other: the same AES-GCM associated data.
    cipher = FieldCipher({"k": os.urandom(32)}, "k")
    sealed = cipher.encrypt("x", context=webhooks.context("secret", key))
    assert cipher.decrypt(sealed, context=secret_context(key)) == "x"
    from pd_prime_demo.privacy.service.fulfilment import export_context
    from pd_prime_demo.privacy.service.requests import corrections_context

    assert by_name["privacy_requests"].context("corrections_enc", key) == corrections_context(key)
    assert by_name["privacy_exports"].context("content_enc", key, "csv") == export_context(
        key, "csv"
    )


async def test_rotation_walks_a_two_column_key_and_answers_still_download(
    committed_runtime: Runtime,
) -> None:
    """privacy_exports is keyed by (request, format): the keyset and the context use both."""
    async with api(committed_runtime) as client:
        admin = await user_login(client, committed_runtime, Role.ADMIN)
        urls = []
        for _ in range(2):
            holder = await register_and_login(client, f"rot-{uuid.uuid4().hex[:8]}@example.com")
            made = await client.post(
                "/api/v1/privacy/requests",
                json={"kind": "access", "regime": "gdpr"},
                headers=holder,
            )
            url = f"/api/v1/privacy/requests/{made.json()['id']}"
            done = await client.post(url + "/fulfilment", headers=admin.headers)
            assert done.status_code == 200, done.text
            urls.append((url, holder))
    url = _url(committed_runtime)
    async with runtime_with(url, RING, NEW_KID) as serving:
        exports = next(t for t in pii_rotation.ENCRYPTED_FIELDS if t.name == "privacy_exports")
        # One row a batch: the walk crosses both a request's two formats and two requests.
        report = await pii_rotation.rotate(
            serving.db, serving.cipher, batch_size=1, tables=(exports,)
        )
        assert report.tables["privacy_exports"].rewritten == 4
        assert report.tables["privacy_exports"].unreadable == 0
        async with serving.db.sessionmaker() as session:
            kids = set(
                (
                    await session.scalars(
                        text("SELECT split_part(content_enc, '.', 2) FROM privacy_exports")
                    )
                ).all()
            )
        assert kids == {NEW_KID}
        async with api(serving) as client:
            for request_url, holder in urls:
                for fmt in ("json", "csv"):
                    got = await client.get(
                        request_url + "/export", params={"format": fmt}, headers=holder
                    )
                    assert got.status_code == 200, got.text
