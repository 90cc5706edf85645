"""The consent ledger: append-only in the database itself, the current state derived from the
latest record per purpose, grants tied to a published notice version."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.result_types import Err, Ok
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.customers import service as customers
from pd_prime_demo.privacy.enums import Channel, Purpose, Regime, RequestKind, Source
from pd_prime_demo.privacy.service import consent, requests
from tests.factories import person

STAFF = Actor.system("tests")


async def _customer(session: AsyncSession, runtime: Runtime) -> uuid.UUID:
    made = await customers.create_customer(
        session, customers.PersonCreate(**person()), actor=STAFF, cipher=runtime.cipher
    )
    assert isinstance(made, Ok), made
    return made.value.id


async def _publish(session: AsyncSession, version: str) -> None:
    published = await consent.publish_notice(
        session,
        version=version,
        text=f"notice {version}",
        url="https://x.test/privacy",
        actor=STAFF,
    )
    assert isinstance(published, Ok), published


async def test_grant_needs_a_published_notice_and_withdrawal_does_not(
    session: AsyncSession, runtime: Runtime
) -> None:
    customer_id = await _customer(session, runtime)
    refused = await consent.change(
        session, customer_id, Purpose.TELEMATICS, granted=True, actor=STAFF
    )
    assert isinstance(refused, Err)
    assert refused.error.code == "privacy.no_notice"
    withdrawn = await consent.change(
        session, customer_id, Purpose.SALE_SHARING, granted=False, actor=STAFF
    )
    assert isinstance(withdrawn, Ok), withdrawn
    assert withdrawn.value.notice_version is None
    await _publish(session, "2026-12")
    unknown = await consent.change(
        session, customer_id, Purpose.TELEMATICS, granted=True, actor=STAFF, notice_version="1999"
    )
    assert isinstance(unknown, Err)
    assert unknown.error.code == "privacy.unknown_notice"


async def test_current_state_is_the_latest_record(session: AsyncSession, runtime: Runtime) -> None:
    customer_id = await _customer(session, runtime)
    await _publish(session, "v1")
    assert not await consent.current(session, customer_id, Purpose.MARKETING_EMAIL)
    with clock.frozen_at(clock.now()):
        granted = await consent.change(
            session, customer_id, Purpose.MARKETING_EMAIL, granted=True, actor=STAFF
        )
    assert isinstance(granted, Ok)
    assert granted.value.notice_version == "v1"
    assert granted.value.source == Source.AGENT.value  # staff recording the person's wish
    assert await consent.current(session, customer_id, Purpose.MARKETING_EMAIL)
    await _publish(session, "v2")
    regranted = await consent.change(
        session, customer_id, Purpose.MARKETING_EMAIL, granted=True, actor=STAFF
    )
    assert isinstance(regranted, Ok)
    assert regranted.value.notice_version == "v2"  # the latest notice by default
    await consent.change(session, customer_id, Purpose.MARKETING_EMAIL, granted=False, actor=STAFF)
    assert not await consent.current(session, customer_id, Purpose.MARKETING_EMAIL)
    states = {s.purpose: s.granted for s in await consent.state(session, customer_id)}
    assert states == dict.fromkeys(Purpose, False)
    others = await _customer(session, runtime)
    assert not await consent.current(session, others, Purpose.MARKETING_EMAIL)
    await session.commit()  # the audit entries are chained at commit (the test's savepoint)
    entries = await session.execute(
        text("SELECT action FROM audit_log WHERE resource_id = :c ORDER BY id"),
        {"c": str(customer_id)},
    )
    assert [e[0] for e in entries][-3:] == [
        "consent.granted",
        "consent.granted",
        "consent.withdrawn",
    ]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE consent_records SET granted = NOT granted WHERE id = :id",
        "DELETE FROM consent_records WHERE id = :id",
    ],
)
async def test_the_ledger_refuses_update_and_delete(
    session: AsyncSession, runtime: Runtime, statement: str
) -> None:
    customer_id = await _customer(session, runtime)
    record = await consent.change(
        session, customer_id, Purpose.PROFILING, granted=False, actor=STAFF
    )
    assert isinstance(record, Ok)
    with pytest.raises(DBAPIError, match="append-only"):
        async with session.begin_nested():
            await session.execute(text(statement), {"id": record.value.id})
    assert not await consent.current(session, customer_id, Purpose.PROFILING)


async def test_a_request_history_refuses_update(session: AsyncSession, runtime: Runtime) -> None:
    customer_id = await _customer(session, runtime)
    opened = await requests.open_request(
        session,
        customer_id,
        RequestKind.ACCESS,
        Regime.GDPR,
        channel=Channel.STAFF,
        actor=STAFF,
        cipher=runtime.cipher,
    )
    assert isinstance(opened, Ok)
    with pytest.raises(DBAPIError, match="append-only"):
        async with session.begin_nested():
            await session.execute(
                text(
                    "UPDATE privacy_request_events SET to_status = 'completed'"
                    " WHERE request_id = :id"
                ),
                {"id": opened.value.id},
            )
