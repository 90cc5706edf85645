"""Inputs are strict (docs/security.md): a date is YYYY-MM-DD, a moment is RFC 3339 and an
amount is a number or plain decimal text. A date and time or a Unix timestamp where a date
is expected, or an amount with a space, a sign or an exponent, is a 422 with a pointer, and
nothing changes."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from httpx import AsyncClient
from pydantic import BaseModel, ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.dates import BusinessDate, Moment
from pd_prime_demo.core.money import DecimalIn
from pd_prime_demo.core.runtime import Runtime
from tests.factories import Login, auto_quote, changing, person, user_login

# Where a date is expected: a date and time (even at midnight), a Unix timestamp (as a
# number and as text), padding, other notations.
NOT_DATES: list[Any] = [
    "2026-01-01T00:00:00",
    "2026-01-01T00:00:00Z",
    1735689600,
    "1735689600",
    1735689600.0,
    " 2026-01-01",
    "2026-01-01 ",
    "20260101",
    "2026-1-1",
    True,
]
# Where an amount is expected.
NOT_AMOUNTS: list[Any] = [" 12.00", "12.00 ", "+12.00", "1e2", "1_000", "12.", ".5", "", True]


def _pointed(response: Any, pointer: str) -> None:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "request.invalid"
    # A customer's fields sit under the union member's tag: #/person/date_of_birth.
    pointers = {e.get("pointer") for e in body["errors"]}
    assert pointer in pointers or pointer.replace("#/", "#/person/") in pointers, body["errors"]


async def _count(session: AsyncSession, table: str) -> int:
    return int(await session.scalar(text(f"SELECT count(*) FROM {table}")) or 0)


async def _bound(client: AsyncClient, agent: Login) -> dict[str, Any]:
    customer = (await client.post("/api/v1/customers", json=person(), headers=agent.headers)).json()
    quote = (
        await client.post("/api/v1/quotes", json=auto_quote(customer["id"]), headers=agent.headers)
    ).json()
    bound = await client.post(
        f"/api/v1/quotes/{quote['id']}/bind", json={"option": "standard"}, headers=agent.headers
    )
    assert bound.status_code == 201, bound.text
    return dict(bound.json())


async def test_a_date_of_birth_must_be_a_date(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    before = await _count(session, "customers")
    for value in [*NOT_DATES, "1985-04-12T00:00:00", 482112000]:
        response = await client.post(
            "/api/v1/customers", json=person(date_of_birth=value), headers=agent.headers
        )
        _pointed(response, "#/date_of_birth")
    assert await _count(session, "customers") == before
    created = await client.post(
        "/api/v1/customers", json=person(date_of_birth="1985-04-12"), headers=agent.headers
    )
    assert created.status_code == 201, created.text
    update = await client.patch(
        f"/api/v1/customers/{created.json()['id']}",
        json={"date_of_birth": "1985-04-12T00:00:00"},
        headers={**agent.headers, "If-Match": created.headers["etag"]},
    )
    _pointed(update, "#/date_of_birth")


async def test_a_quote_effective_date_must_be_a_date(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    customer = (await client.post("/api/v1/customers", json=person(), headers=agent.headers)).json()
    before = await _count(session, "quotes")
    effective = auto_quote(customer["id"])["effective_on"]
    for value in [*NOT_DATES, f"{effective}T00:00:00"]:
        response = await client.post(
            "/api/v1/quotes",
            json=auto_quote(customer["id"], effective_on=value),
            headers=agent.headers,
        )
        _pointed(response, "#/effective_on")
    assert await _count(session, "quotes") == before
    made = await client.post(
        "/api/v1/quotes", json=auto_quote(customer["id"]), headers=agent.headers
    )
    assert made.status_code == 201, made.text


async def test_a_payment_amount_is_a_number_or_plain_decimal_text(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    policy = await _bound(client, agent)
    url = f"/api/v1/policies/{policy['id']}/payments"
    before = await _count(session, "payments")
    headers = {**agent.headers, "Idempotency-Key": "refused"}
    for value in [*NOT_AMOUNTS, "12.005", 12.005]:
        response = await client.post(url, json={"amount": value}, headers=headers)
        _pointed(response, "#/amount")
    assert await _count(session, "payments") == before
    as_text = await client.post(
        url, json={"amount": "12.50"}, headers={**agent.headers, "Idempotency-Key": "text"}
    )
    assert as_text.status_code == 201, as_text.text
    assert as_text.json()["amount"] == "12.50"
    as_number = await client.post(
        url, json={"amount": 7.5}, headers={**agent.headers, "Idempotency-Key": "number"}
    )
    assert as_number.status_code == 201, as_number.text
    assert as_number.json()["amount"] == "7.50"


async def test_policy_change_dates_must_be_dates(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    policy = await _bound(client, agent)
    url = f"/api/v1/policies/{policy['id']}"
    inception = date.fromisoformat(policy["inception_on"])
    on = (inception + timedelta(days=30)).isoformat()
    before = await _count(session, "policy_transactions")
    headers = await changing(client, agent.headers, url)
    for value in [*NOT_DATES, f"{on}T00:00:00"]:
        endorsed = await client.post(
            f"{url}/endorsements",
            json={"effective_on": value, "risk": {"policy": {"multi_policy": True}}},
            headers=headers,
        )
        _pointed(endorsed, "#/effective_on")
        cancelled = await client.post(
            f"{url}/cancellations",
            json={"effective_on": value, "reason_code": "insured_request"},
            headers=headers,
        )
        _pointed(cancelled, "#/effective_on")
    assert await _count(session, "policy_transactions") == before
    endorsed = await client.post(
        f"{url}/endorsements",
        json={"effective_on": on, "risk": {"policy": {"multi_policy": True}}},
        headers=headers,
    )
    assert endorsed.status_code == 201, endorsed.text


async def test_dates_and_moments_in_query_parameters_are_strict(
    client: AsyncClient, runtime: Runtime
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    policy = await _bound(client, agent)
    url = f"/api/v1/policies/{policy['id']}"
    for value in ("2026-01-01T00:00:00", "1735689600", " 2026-01-01"):
        response = await client.get(url, params={"as_of": value}, headers=agent.headers)
        assert response.status_code == 422, (value, response.text)
        assert response.json()["errors"][0]["parameter"] == "as_of"
    for value in ("1735689600", "2026-01-01"):
        response = await client.get(url, params={"known_at": value}, headers=agent.headers)
        assert response.status_code == 422, (value, response.text)
        assert response.json()["errors"][0]["parameter"] == "known_at"
    fine = await client.get(
        url,
        params={"as_of": policy["inception_on"], "known_at": "2030-01-01T00:00:00Z"},
        headers=agent.headers,
    )
    assert fine.status_code == 200, fine.text


# --- The types themselves, as every schema uses them -----------------------------------


class _Strict(BaseModel):
    on: BusinessDate | None = None
    at: Moment | None = None
    amount: DecimalIn | None = None


@pytest.mark.parametrize("value", NOT_DATES)
def test_business_date_refuses(value: Any) -> None:
    with pytest.raises(ValidationError):
        _Strict.model_validate({"on": value})
    with pytest.raises(ValidationError):
        _Strict.model_validate_json('{"on": ' + _json(value) + "}")


@pytest.mark.parametrize("value", NOT_AMOUNTS)
def test_amount_refuses(value: Any) -> None:
    with pytest.raises(ValidationError):
        _Strict.model_validate({"amount": value})
    with pytest.raises(ValidationError):
        _Strict.model_validate_json('{"amount": ' + _json(value) + "}")


@pytest.mark.parametrize("value", [1735689600, "1735689600", "2026-01-01", "2026-01-01T00:00:00"])
def test_moment_refuses_timestamps_dates_and_naive_times(value: Any) -> None:
    with pytest.raises(ValidationError):
        _Strict.model_validate_json('{"at": ' + _json(value) + "}")


def test_what_the_types_accept() -> None:
    given = _Strict.model_validate_json(
        '{"on": "2026-01-31", "at": "2026-01-31T09:30:00+01:00", "amount": "-12.50"}'
    )
    assert given.on == date(2026, 1, 31)
    assert given.at is not None
    assert given.at.utcoffset() == timedelta(hours=1)
    assert given.amount == Decimal("-12.50")
    assert _Strict.model_validate_json('{"amount": 12}').amount == Decimal(12)
    assert _Strict.model_validate_json('{"amount": 0.1}').amount == Decimal("0.1")
    # Values built in code (query strings, internal callers) pass as before.
    assert _Strict(on=date(2026, 1, 31), amount=Decimal("3.10")).amount == Decimal("3.10")
    assert _Strict.model_validate({"on": "2026-01-31"}).on == date(2026, 1, 31)


def _json(value: Any) -> str:
    return json.dumps(value)


@pytest.mark.parametrize("value", [*NOT_AMOUNTS, "100.5", "-1", "10.125"])
def test_an_underwriting_surcharge_is_a_strict_percentage(value: Any) -> None:
    from pd_prime_demo.quotes.schemas import UnderwritingDecision

    body = {"decision": "approve", "note": "ok", "surcharge_percent": value}
    with pytest.raises(ValidationError):
        UnderwritingDecision.model_validate_json(json.dumps(body))
    fine = UnderwritingDecision.model_validate_json(json.dumps({**body, "surcharge_percent": 10}))
    assert fine.surcharge_percent == Decimal(10)


def test_a_product_versions_effective_dates_must_be_dates() -> None:
    from pd_prime_demo.products import shipped
    from pd_prime_demo.rating.definition import ProductVersionDefinition

    path = next(Path(shipped.__file__).parent.glob("personal_auto-TX-*.json"))
    definition = json.loads(path.read_text())
    assert ProductVersionDefinition.model_validate(definition).effective_new_business
    for value in ("2026-01-01T00:00:00", 1735689600):
        with pytest.raises(ValidationError, match="effective_new_business"):
            ProductVersionDefinition.model_validate({**definition, "effective_new_business": value})
