"""API clients: the OAuth 2.0 client credentials grant, within the owner's reach and scopes."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote_plus

from httpx import AsyncClient, Response
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.runtime import Runtime
from tests.factories import Login, auto_quote, person, user_login

QUOTING = ["products:read", "customers:read", "quotes:read", "quotes:write"]


async def _register(
    client: AsyncClient, admin: Login, owner: Login, scopes: list[str] = QUOTING
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/api-clients",
        json={"name": "Comparative rater", "owner_id": str(owner.user_id), "scopes": scopes},
        headers=admin.headers,
    )
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    return dict(response.json())


async def _ask_token(client: AsyncClient, client_id: str, secret: str, **extra: str) -> Response:
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    return await client.post("/api/v1/auth/token", data={**form, **extra})


async def _client_token(
    client: AsyncClient, registered: dict[str, Any], **extra: str
) -> dict[str, Any]:
    response = await _ask_token(client, registered["id"], registered["client_secret"], **extra)
    assert response.status_code == 200, response.text
    return dict(response.json())


def _bearer(token: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {token['access_token']}"}


async def _customer(client: AsyncClient, agent: Login) -> str:
    response = await client.post("/api/v1/customers", json=person(), headers=agent.headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_a_client_quotes_for_its_owners_customers_and_is_audited_as_itself(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    admin = await user_login(client, runtime, Role.ADMIN)
    agent = await user_login(client, runtime, Role.AGENT)
    customer_id = await _customer(client, agent)
    registered = await _register(client, admin, agent)
    assert registered["scopes"] == sorted(QUOTING)
    assert len(registered["client_secret"]) >= 40

    listed = (await client.get("/api/v1/api-clients", headers=admin.headers)).json()["items"]
    mine = next(c for c in listed if c["id"] == registered["id"])
    assert "client_secret" not in mine
    stored = (
        await session.execute(
            text("SELECT secret_hash FROM api_clients WHERE id = :id"), {"id": registered["id"]}
        )
    ).scalar_one()
    assert registered["client_secret"] not in stored

    token = await _client_token(client, registered)
    assert token["token_type"] == "Bearer"
    assert "refresh_token" not in token
    assert token["scope"] == " ".join(sorted(QUOTING))

    quoted = await client.post(
        "/api/v1/quotes", json=auto_quote(customer_id), headers=_bearer(token)
    )
    assert quoted.status_code == 201, quoted.text
    quote_id = quoted.json()["id"]
    # The owner sees the client's quote: it is in their book.
    seen = await client.get(f"/api/v1/quotes/{quote_id}", headers=agent.headers)
    assert seen.status_code == 200
    actors = (
        await session.execute(
            text("SELECT DISTINCT actor_kind, actor_id FROM audit_log WHERE resource_id = :id"),
            {"id": quote_id},
        )
    ).all()
    assert actors == [("client", f"client:{registered['id']}")]
    me = (await client.get("/api/v1/users/me", headers=_bearer(token))).json()
    assert me["id"] == str(agent.user_id)
    assert me["permissions"] == sorted(QUOTING)


async def test_a_client_is_held_to_its_owners_book_and_its_scopes(
    client: AsyncClient, runtime: Runtime
) -> None:
    admin = await user_login(client, runtime, Role.ADMIN)
    agent = await user_login(client, runtime, Role.AGENT)
    other_agent = await user_login(client, runtime, Role.AGENT)
    theirs = await _customer(client, other_agent)
    their_quote = await client.post(
        "/api/v1/quotes", json=auto_quote(theirs), headers=other_agent.headers
    )
    assert their_quote.status_code == 201
    registered = await _register(client, admin, agent)
    headers = _bearer(await _client_token(client, registered))

    refused = await client.post("/api/v1/quotes", json=auto_quote(theirs), headers=headers)
    assert refused.status_code == 422
    assert refused.json()["code"] == "quote.unknown_customer"
    hidden = await client.get(f"/api/v1/quotes/{their_quote.json()['id']}", headers=headers)
    assert hidden.status_code == 404
    # Its owner may bind and create customers; the client was not given those scopes.
    mine = await _customer(client, agent)
    own_quote = await client.post("/api/v1/quotes", json=auto_quote(mine), headers=headers)
    bind = await client.post(
        f"/api/v1/quotes/{own_quote.json()['id']}/bind",
        json={"option": "standard"},
        headers=headers,
    )
    assert bind.status_code == 403
    created = await client.post("/api/v1/customers", json=person(), headers=headers)
    assert created.status_code == 403

    narrowed = await _client_token(client, registered, scope="quotes:read")
    assert narrowed["scope"] == "quotes:read"
    write = await client.post("/api/v1/quotes", json=auto_quote(mine), headers=_bearer(narrowed))
    assert write.status_code == 403
    wider = await _ask_token(
        client, registered["id"], registered["client_secret"], scope="quotes:read policies:write"
    )
    assert wider.status_code == 422
    assert wider.json()["code"] == "auth.invalid_scope"


async def test_client_credentials_by_http_basic_and_the_wrong_ones(
    client: AsyncClient, runtime: Runtime
) -> None:
    admin = await user_login(client, runtime, Role.ADMIN)
    agent = await user_login(client, runtime, Role.AGENT)
    registered = await _register(client, admin, agent)
    pair = f"{quote_plus(registered['id'])}:{quote_plus(registered['client_secret'])}"
    basic = {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}
    by_basic = await client.post(
        "/api/v1/auth/token", data={"grant_type": "client_credentials"}, headers=basic
    )
    assert by_basic.status_code == 200, by_basic.text
    both = await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "client_credentials", "client_id": registered["id"]},
        headers=basic,
    )
    assert both.status_code == 422
    for client_id, secret in (
        (registered["id"], registered["client_secret"] + "x"),
        ("00000000-0000-0000-0000-000000000000", registered["client_secret"]),
        ("not-a-uuid", "whatever"),
    ):
        wrong = await _ask_token(client, client_id, secret)
        assert wrong.status_code == 401, client_id
        assert wrong.json()["code"] == "auth.invalid_client"
    missing = await client.post("/api/v1/auth/token", data={"grant_type": "client_credentials"})
    assert missing.status_code == 422


async def test_revoking_the_client_or_deactivating_its_owner_ends_its_tokens_at_once(
    client: AsyncClient, runtime: Runtime
) -> None:
    admin = await user_login(client, runtime, Role.ADMIN)
    agent = await user_login(client, runtime, Role.AGENT)
    registered = await _register(client, admin, agent)
    token = await _client_token(client, registered)
    assert (await client.get("/api/v1/quotes", headers=_bearer(token))).status_code == 200
    no_session = await client.post("/api/v1/auth/logout", headers=_bearer(token))
    assert no_session.status_code == 409

    revoked = await client.post(
        f"/api/v1/api-clients/{registered['id']}/revocation", headers=admin.headers
    )
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    again = await client.post(
        f"/api/v1/api-clients/{registered['id']}/revocation", headers=admin.headers
    )
    assert again.json()["revoked_at"] == revoked.json()["revoked_at"]
    assert (await client.get("/api/v1/quotes", headers=_bearer(token))).status_code == 401
    refused = await _ask_token(client, registered["id"], registered["client_secret"])
    assert refused.status_code == 401

    second = await _register(client, admin, agent)
    second_token = await _client_token(client, second)
    deactivated = await client.post(
        f"/api/v1/users/{agent.user_id}/deactivation", headers=admin.headers
    )
    assert deactivated.status_code == 200
    assert (await client.get("/api/v1/quotes", headers=_bearer(second_token))).status_code == 401


async def test_registration_is_for_admins_and_a_client_holds_no_more_than_its_owner(
    client: AsyncClient, runtime: Runtime
) -> None:
    admin = await user_login(client, runtime, Role.ADMIN)
    agent = await user_login(client, runtime, Role.AGENT)
    customer = await user_login(client, runtime, Role.CUSTOMER)
    body = {"name": "rater", "owner_id": str(agent.user_id), "scopes": QUOTING}
    denied = await client.post("/api/v1/api-clients", json=body, headers=agent.headers)
    assert denied.status_code == 403
    too_much = await client.post(
        "/api/v1/api-clients",
        json={**body, "scopes": ["quotes:write", "products:manage"]},
        headers=admin.headers,
    )
    assert too_much.status_code == 422
    assert too_much.json()["code"] == "api_client.scope_not_held"
    assert too_much.json()["errors"][0]["pointer"] == "#/scopes/1"
    for owner in (str(customer.user_id), "00000000-0000-0000-0000-000000000000"):
        unowned = await client.post(
            "/api/v1/api-clients", json={**body, "owner_id": owner}, headers=admin.headers
        )
        assert unowned.status_code == 422
        assert unowned.json()["code"] == "api_client.unknown_owner"
    unknown = await client.post(
        "/api/v1/api-clients/00000000-0000-0000-0000-000000000000/revocation",
        headers=admin.headers,
    )
    assert unknown.status_code == 404


async def test_a_stored_scope_that_is_no_permission_any_more_grants_nothing(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    """A permission renamed in a later release must not break the clients that held it."""
    admin = await user_login(client, runtime, Role.ADMIN)
    agent = await user_login(client, runtime, Role.AGENT)
    registered = await _register(client, admin, agent, scopes=["quotes:read"])
    await session.execute(
        text("UPDATE api_clients SET scopes = array_append(scopes, 'legacy:gone') WHERE id = :id"),
        {"id": registered["id"]},
    )
    await session.commit()
    token = await _client_token(client, registered)
    assert token["scope"] == "quotes:read"
    assert (await client.get("/api/v1/quotes", headers=_bearer(token))).status_code == 200
