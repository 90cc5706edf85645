"""Renewals across the term boundary: offered, accepted or lapsed; non-renewal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from httpx import AsyncClient

from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.clock import frozen_at
from pd_prime_demo.core.runtime import Runtime
from tests.factories import PASSWORD, auto_quote, changing, person, user_login


async def _policy(client: AsyncClient, runtime: Runtime) -> tuple[Any, dict[str, Any]]:
    agent = await user_login(client, runtime, Role.AGENT)
    customer = (await client.post("/api/v1/customers", json=person(), headers=agent.headers)).json()
    quote = (
        await client.post("/api/v1/quotes", json=auto_quote(customer["id"]), headers=agent.headers)
    ).json()
    policy = (
        await client.post(
            f"/api/v1/quotes/{quote['id']}/bind", json={"option": "standard"}, headers=agent.headers
        )
    ).json()
    return agent, policy


async def _relogin(client: AsyncClient, agent: Any) -> dict[str, str]:
    """Tokens issued before a clock jump have expired: log in again as the same agent."""
    tokens = (
        await client.post(
            "/api/v1/auth/token",
            data={"grant_type": "password", "username": agent.email, "password": PASSWORD},
        )
    ).json()
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def _at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC) + timedelta(hours=12)


async def test_offer_accept_and_as_of_across_the_term_boundary(
    client: AsyncClient, runtime: Runtime
) -> None:
    agent, policy = await _policy(client, runtime)
    url = f"/api/v1/policies/{policy['id']}"
    term_end = policy["in_force"]["term_end"]
    early = await client.post(f"{url}/renewal-offers", headers=agent.headers)
    assert early.status_code == 409
    assert early.json()["code"] == "policy.renewal_too_early"
    with frozen_at(_at(term_end) - timedelta(days=30)):
        headers = await _relogin(client, agent)
        offered = await client.post(f"{url}/renewal-offers", headers=headers)
        assert offered.status_code == 201, offered.text
        assert offered.json()["term_start"] == term_end
        assert offered.json()["rate_version"] == "TX-2026.1"
        again = await client.post(f"{url}/renewal-offers", headers=headers)
        assert again.json()["id"] == offered.json()["id"]
        accepted = await client.post(
            f"{url}/renewals", headers=await changing(client, headers, url)
        )
        assert accepted.status_code == 201, accepted.text
        assert accepted.json()["kind"] == "renewal"
        last_day = await client.get(
            url,
            params={
                "as_of": (datetime.fromisoformat(term_end) - timedelta(days=1)).date().isoformat()
            },
            headers=headers,
        )
        first_day = await client.get(url, params={"as_of": term_end}, headers=headers)
        assert last_day.json()["transaction_seq"] == 1
        assert first_day.json()["status"] == "in_force"
        assert first_day.json()["in_force"]["term_start"] == term_end
        billing = (await client.get(f"{url}/billing", headers=headers)).json()
        assert {i["term_start"] for i in billing["installments"]} == {
            policy["inception_on"],
            term_end,
        }


async def test_unaccepted_offer_lapses_and_policy_expires(
    client: AsyncClient, runtime: Runtime
) -> None:
    from pd_prime_demo.policies import service as renewals

    agent, policy = await _policy(client, runtime)
    url = f"/api/v1/policies/{policy['id']}"
    term_end = policy["in_force"]["term_end"]
    with frozen_at(_at(term_end) - timedelta(days=20)):
        async with runtime.db.unit_of_work() as session:
            assert await renewals.offer_due(session) >= 1
    with frozen_at(_at(term_end) + timedelta(days=2)):
        async with runtime.db.unit_of_work() as session:
            assert await renewals.lapse_due(session) >= 1
        headers = await _relogin(client, agent)
        late = await client.post(f"{url}/renewals", headers=await changing(client, headers, url))
        assert late.status_code == 404
        state = await client.get(url, params={"as_of": term_end}, headers=headers)
        assert state.json()["status"] == "expired"


async def test_non_renewal_blocks_offers(client: AsyncClient, runtime: Runtime) -> None:
    agent, policy = await _policy(client, runtime)
    url = f"/api/v1/policies/{policy['id']}"
    notice = await client.post(
        f"{url}/non-renewals",
        json={"reason": "roof condition"},
        headers=await changing(client, agent.headers, url),
    )
    assert notice.status_code == 201, notice.text
    assert notice.json()["snapshot"]["non_renewal"]["reason"] == "roof condition"
    with frozen_at(_at(policy["in_force"]["term_end"]) - timedelta(days=10)):
        headers = await _relogin(client, agent)
        refused = await client.post(f"{url}/renewal-offers", headers=headers)
    assert refused.status_code == 409
    assert refused.json()["code"] == "policy.non_renewed"


async def test_an_open_offer_follows_a_change_to_the_term_it_renews(
    client: AsyncClient, runtime: Runtime
) -> None:
    agent, policy = await _policy(client, runtime)
    url = f"/api/v1/policies/{policy['id']}"
    term_end = policy["in_force"]["term_end"]
    with frozen_at(_at(term_end) - timedelta(days=30)):
        headers = await _relogin(client, agent)
        offered = (await client.post(f"{url}/renewal-offers", headers=headers)).json()
        endorsed = await client.post(
            f"{url}/endorsements",
            json={
                "effective_on": (_at(term_end) - timedelta(days=20)).date().isoformat(),
                "coverages": {"bi": {"limit": "250/500"}},
            },
            headers=await changing(client, headers, url),
        )
        assert endorsed.status_code == 201, endorsed.text
        accepted = await client.post(
            f"{url}/renewals", headers=await changing(client, headers, url)
        )
        assert accepted.status_code == 201, accepted.text
    renewal = accepted.json()
    assert renewal["snapshot"]["coverages"]["bi"]["limit"] == "250/500", "renews what is in force"
    assert renewal["premium_change"] != offered["premium"], "re-priced with the change"
    cancelled_offer_policy_agent, other = await _policy(client, runtime)
    other_url = f"/api/v1/policies/{other['id']}"
    other_end = other["in_force"]["term_end"]
    with frozen_at(_at(other_end) - timedelta(days=30)):
        headers = await _relogin(client, cancelled_offer_policy_agent)
        assert (
            await client.post(f"{other_url}/renewal-offers", headers=headers)
        ).status_code == 201
        cancelled = await client.post(
            f"{other_url}/cancellations",
            json={
                "effective_on": (_at(other_end) - timedelta(days=25)).date().isoformat(),
                "reason_code": "insured_request",
            },
            headers=await changing(client, headers, other_url),
        )
        assert cancelled.status_code == 201, cancelled.text
        withdrawn = await client.post(
            f"{other_url}/renewals", headers=await changing(client, headers, other_url)
        )
        assert withdrawn.status_code == 404, "a cancelled term's offer is withdrawn"
