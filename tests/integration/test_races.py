"""Races between clients against the real server: no 5xx, and each effect exactly once."""

from __future__ import annotations

import asyncio
import copy
import uuid
from decimal import Decimal
from typing import Any

import httpx
from typer.testing import CliRunner

from pd_prime_demo import cli
from pd_prime_demo.quotes.schemas import AUTO_EXAMPLE
from pd_prime_demo.seed import DEMO_PASSWORD
from tests.factories import person


async def _login(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    response = await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": email, "password": DEMO_PASSWORD},
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def _at_once(
    client: httpx.AsyncClient, n: int, method: str, url: str, **kwargs: Any
) -> list[httpx.Response]:
    return list(await asyncio.gather(*(client.request(method, url, **kwargs) for _ in range(n))))


def _no_server_error(responses: list[httpx.Response]) -> None:
    assert all(r.status_code < 500 for r in responses), [(r.status_code, r.text) for r in responses]


def test_same_key_requests_in_parallel_take_effect_once_and_replay(served: str) -> None:
    asyncio.run(_same_key_races(served))
    ledger = CliRunner().invoke(cli.app, ["ledger", "check"])
    assert ledger.exit_code == 0, ledger.output


async def _same_key_races(served: str) -> None:
    limits = httpx.Limits(max_connections=40)
    async with httpx.AsyncClient(base_url=served, limits=limits, timeout=60) as client:
        agent = await _login(client, "agent@demo.pdprime.example")
        policy = (await client.get("/api/v1/policies", headers=agent)).json()["items"][0]
        key = {"Idempotency-Key": f"race-{uuid.uuid4().hex}"}
        billing_url = f"/api/v1/policies/{policy['id']}/billing"
        paid_before = Decimal((await client.get(billing_url, headers=agent)).json()["paid"])
        url = f"/api/v1/policies/{policy['id']}/payments"
        payments = await _at_once(
            client, 20, "POST", url, json={"amount": "10.00"}, headers={**agent, **key}
        )
        _no_server_error(payments)
        assert sorted(r.status_code for r in payments) == [200] * 19 + [201]
        assert len({r.json()["id"] for r in payments}) == 1
        account = (await client.get(billing_url, headers=agent)).json()
        assert Decimal(account["paid"]) == paid_before + 10, "paid once"

        body = person()
        customers = await _at_once(
            client, 20, "POST", "/api/v1/customers", json=body, headers={**agent, **key}
        )
        _no_server_error(customers)
        assert {r.status_code for r in customers} == {201}
        assert len({r.json()["id"] for r in customers}) == 1
        assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in customers) == 19

        quote = copy.deepcopy(AUTO_EXAMPLE)
        quote["customer_id"] = customers[0].json()["id"]
        quote["effective_on"] = policy["inception_on"]
        other_key = {"Idempotency-Key": f"race-{uuid.uuid4().hex}"}
        quotes = await _at_once(
            client, 20, "POST", "/api/v1/quotes", json=quote, headers={**agent, **other_key}
        )
        _no_server_error(quotes)
        assert {r.status_code for r in quotes} == {201}, [r.text for r in quotes][:2]
        assert len({r.json()["id"] for r in quotes}) == 1


async def test_parallel_registrations_of_one_e_mail_make_one_user(
    served: str, cli_env: str
) -> None:
    import asyncpg
    from sqlalchemy import make_url

    from pd_prime_demo.customers.schemas import REGISTRATION_EXAMPLE

    address = f"race-{uuid.uuid4().hex[:8]}@example.com"
    body = {**REGISTRATION_EXAMPLE, "email": address}
    async with httpx.AsyncClient(base_url=served, timeout=60) as client:
        responses = await _at_once(client, 10, "POST", "/api/v1/registrations", json=body)
    _no_server_error(responses)
    # Every one answers alike (no enumeration); one account, and one customer record, exist.
    assert {r.status_code for r in responses} == {202}
    dsn = make_url(cli_env).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        users = await conn.fetchval("SELECT count(*) FROM users WHERE email = $1", address)
        records = await conn.fetchval("SELECT count(*) FROM customers WHERE email = $1", address)
    finally:
        await conn.close()
    assert (users, records) == (1, 1)


async def test_parallel_changes_with_one_if_match_make_one_change(served: str) -> None:
    limits = httpx.Limits(max_connections=20)
    async with httpx.AsyncClient(base_url=served, limits=limits, timeout=60) as client:
        agent = await _login(client, "agent@demo.pdprime.example")
        policy = (await client.get("/api/v1/policies", headers=agent)).json()["items"][0]
        url = f"/api/v1/policies/{policy['id']}"
        read = await client.get(url, headers=agent)
        etag = read.headers["etag"]
        body = {
            "effective_on": read.json()["terms"]["term_start"],
            "coverages": {"pd": {"limit": "100"}},
        }
        responses = await _at_once(
            client,
            10,
            "POST",
            f"{url}/endorsements",
            json=body,
            headers={**agent, "If-Match": etag},
        )
        _no_server_error(responses)
        assert sorted(r.status_code for r in responses) == [201] + [412] * 9, [
            r.text for r in responses
        ]
        history = (await client.get(f"{url}/transactions", headers=agent)).json()["items"]
        assert sum(t["kind"] == "endorsement" for t in history) == 1


async def test_parallel_refreshes_one_wins_and_the_winner_keeps_working(served: str) -> None:
    """Exactly one of 20 parallel refreshes of one token wins, and the other 19 (a client's
    own retries, tabs or threads) no longer end the winner's login session."""
    limits = httpx.Limits(max_connections=20)
    async with httpx.AsyncClient(base_url=served, limits=limits, timeout=60) as client:
        login = await client.post(
            "/api/v1/auth/token",
            data={
                "grant_type": "password",
                "username": "agent@demo.pdprime.example",
                "password": DEMO_PASSWORD,
            },
        )
        assert login.status_code == 200, login.text
        original = login.json()["refresh_token"]
        form = {"grant_type": "refresh_token", "refresh_token": original}
        responses = await _at_once(client, 20, "POST", "/api/v1/auth/token", data=form)
        _no_server_error(responses)
        assert sorted(r.status_code for r in responses) == [200] + [401] * 19
        assert {r.json()["code"] for r in responses if r.status_code == 401} == {
            "auth.refresh_token_superseded"
        }
        winner = next(r.json() for r in responses if r.status_code == 200)
        bearer = {"Authorization": f"Bearer {winner['access_token']}"}
        assert (await client.get("/api/v1/users/me", headers=bearer)).status_code == 200
        again = await client.post(
            "/api/v1/auth/token",
            data={"grant_type": "refresh_token", "refresh_token": winner["refresh_token"]},
        )
        assert again.status_code == 200, again.text
        # The original token is now two rotations old: reuse, and the family is revoked.
        replay = await client.post("/api/v1/auth/token", data=form)
        assert replay.json()["code"] == "auth.refresh_token_reused"
        latest = {"Authorization": f"Bearer {again.json()['access_token']}"}
        assert (await client.get("/api/v1/users/me", headers=latest)).status_code == 401
