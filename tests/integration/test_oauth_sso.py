"""Staff single sign-on against a real OpenID Connect provider: another PD Prime, served in
the test on a database of its own, whose staff sign in to this one by their role there."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient, Response
from sqlalchemy import text

from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.result_types import Err, Ok
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.identity import sso
from pd_prime_demo.main import create_app
from tests.conftest import make_settings
from tests.factories import PASSWORD
from tests.oauth_support import bearer, hidden_fields, register, verified_user

IDP = "https://idp.example.test"
SP = "https://testserver"
CALLBACK = f"{SP}/api/v1/auth/sso/callback"
ROLE_MAP = {"admin": "underwriter", "agent": "agent"}


@dataclass
class World:
    idp: Runtime
    idp_app: FastAPI
    sp: Runtime
    sp_app: FastAPI
    client: dict[str, Any]


def _browser(app: FastAPI, base: str) -> AsyncClient:
    return AsyncClient(transport=ASGITransport(app=app, raise_app_exceptions=False), base_url=base)


def _configure_sp(world: World, **more: Any) -> None:
    world.sp.settings = make_settings(
        str(world.sp.settings.database_url),
        redis_url=world.sp.settings.redis_url,
        oauth_issuer=SP,
        sso_issuer=IDP,
        sso_client_id=world.client["id"],
        sso_client_secret=world.client["client_secret"],
        sso_scope="openid email profile roles",
        sso_role_map=ROLE_MAP,
        **more,
    )


@pytest.fixture
async def world(committed_runtime: Runtime, runtime: Runtime) -> World:
    idp = committed_runtime
    idp.settings = make_settings(str(idp.settings.database_url), redis_url=None, oauth_issuer=IDP)
    idp_app = create_app(runtime=idp)
    async with _browser(idp_app, IDP) as web:
        _, admin_email = await verified_user(idp, Role.ADMIN)
        admin = await bearer(web, admin_email)
        owner, _ = await verified_user(idp, Role.AGENT)
        client = await register(
            web,
            admin,
            owner,
            name="PD Prime staff SSO",
            scopes=["openid", "email", "profile", "roles"],
            grant_types=["authorization_code"],
            redirect_uris=[CALLBACK],
            token_endpoint_auth_method="client_secret_basic",
        )
    sp_app = create_app(runtime=runtime)
    # The relying party reaches the provider through the provider's own ASGI app.
    sp_app.state.sso_transport = ASGITransport(app=idp_app)
    built = World(idp, idp_app, runtime, sp_app, client)
    _configure_sp(built)
    return built


async def _sign_in_through_the_provider(world: World, email: str) -> Response:
    async with _browser(world.sp_app, SP) as sp, _browser(world.idp_app, IDP) as idp:
        started = await sp.get("/api/v1/auth/sso/login")
        assert started.status_code == 303, started.text
        location = started.headers["location"]
        assert location.startswith(f"{IDP}/api/v1/oauth/authorize?")
        assert "code_challenge_method=S256" in location
        page = await idp.get(location)
        assert page.status_code == 200, page.text
        form = hidden_fields(page.text) | {"decision": "allow", "email": email}
        form["password"] = PASSWORD
        back = await idp.post("/api/v1/oauth/authorize", data=form)
        assert back.status_code == 303, back.text
        assert back.headers["location"].startswith(CALLBACK + "?")
        return await sp.get(back.headers["location"])


async def test_staff_sign_in_with_the_role_their_provider_gives_them(world: World) -> None:
    idp_id, email = await verified_user(world.idp, Role.ADMIN)
    signed_in = await _sign_in_through_the_provider(world, email)
    assert signed_in.status_code == 200, signed_in.text
    assert signed_in.headers["cache-control"] == "no-store"
    headers = {"Authorization": f"Bearer {signed_in.json()['access_token']}"}
    async with _browser(world.sp_app, SP) as sp:
        me = (await sp.get("/api/v1/users/me", headers=headers)).json()
    assert me["email"] == email
    assert me["role"] == "underwriter"  # the provider's admin, mapped
    again = await _sign_in_through_the_provider(world, email)
    assert again.status_code == 200
    async with world.sp.db.unit_of_work() as session:
        users = await session.scalar(
            text("SELECT count(*) FROM users WHERE email = :e"), {"e": email}
        )
        methods = (
            await session.execute(
                text(
                    "SELECT s.method FROM auth_sessions s JOIN users u ON u.id = s.user_id "
                    "WHERE u.email = :e"
                ),
                {"e": email},
            )
        ).scalars()
        assert users == 1
        assert list(methods) == ["sso", "sso"]
        linked = (
            await session.execute(
                text(
                    "SELECT x.issuer, x.subject FROM user_external_identities x "
                    "JOIN users u ON u.id = x.user_id WHERE u.email = :e"
                ),
                {"e": email},
            )
        ).all()
        assert [tuple(row) for row in linked] == [(IDP, str(idp_id))]


async def test_a_role_not_in_the_map_signs_no_one_in(world: World) -> None:
    _, email = await verified_user(world.idp, Role.CUSTOMER)
    refused = await _sign_in_through_the_provider(world, email)
    assert refused.status_code == 403
    assert refused.json()["code"] == "sso.no_role"
    async with world.sp.db.unit_of_work() as session:
        found = await session.scalar(
            text("SELECT count(*) FROM users WHERE email = :e"), {"e": email}
        )
    assert found == 0


async def test_a_role_that_needs_mfa_needs_the_provider_to_have_checked_it(world: World) -> None:
    _configure_sp(world, mfa_required_roles=["underwriter"])
    _, email = await verified_user(world.idp, Role.ADMIN)
    refused = await _sign_in_through_the_provider(world, email)
    assert refused.status_code == 403
    assert refused.json()["code"] == "sso.mfa_required"


async def _at_the_provider(world: World, sql: str, **params: Any) -> None:
    async with world.idp.db.unit_of_work() as session:
        await session.execute(text(sql), params)


async def _sp_user(world: World, email: str) -> dict[str, Any]:
    async with world.sp.db.unit_of_work() as session:
        row = (
            await session.execute(
                text(
                    "SELECT u.id, u.role, count(s.id) AS sessions FROM users u "
                    "LEFT JOIN auth_sessions s ON s.user_id = u.id WHERE u.email = :e "
                    "GROUP BY u.id"
                ),
                {"e": email},
            )
        ).one()
    return dict(row._mapping)


async def _me(world: World, signed_in: Response) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {signed_in.json()['access_token']}"}
    async with _browser(world.sp_app, SP) as sp:
        me: dict[str, Any] = (await sp.get("/api/v1/users/me", headers=headers)).json()
    return me


async def test_another_provider_user_with_a_linked_members_address_is_not_them(
    world: World,
) -> None:
    first_id, email = await verified_user(world.idp, Role.ADMIN)
    assert (await _sign_in_through_the_provider(world, email)).status_code == 200
    member = await _sp_user(world, email)
    # At the provider the member moves to another address, and someone else gets theirs,
    # marked verified.
    other_id, _ = await verified_user(world.idp, Role.ADMIN)
    await _at_the_provider(
        world, "UPDATE users SET email = :e WHERE id = :i", e=f"moved-{email}", i=first_id
    )
    await _at_the_provider(world, "UPDATE users SET email = :e WHERE id = :i", e=email, i=other_id)
    refused = await _sign_in_through_the_provider(world, email)
    assert refused.status_code == 403, refused.text
    assert refused.json()["code"] == "sso.not_linked"
    assert await _sp_user(world, email) == member  # no session, role as it was
    # The member still signs in, found by the provider's subject, not by the address.
    again = await _sign_in_through_the_provider(world, f"moved-{email}")
    assert again.status_code == 200, again.text
    assert (await _me(world, again))["id"] == str(member["id"])


async def test_a_password_account_is_not_taken_over_by_its_address(world: World) -> None:
    _, email = await verified_user(world.sp, Role.AGENT)  # signs in here with a password
    idp_id, _ = await verified_user(world.idp, Role.ADMIN)
    await _at_the_provider(world, "UPDATE users SET email = :e WHERE id = :i", e=email, i=idp_id)
    before = await _sp_user(world, email)
    refused = await _sign_in_through_the_provider(world, email)
    assert refused.status_code == 403, refused.text
    assert refused.json()["code"] == "sso.not_linked"
    assert await _sp_user(world, email) == before  # still an agent, no session
    async with world.sp.db.unit_of_work() as session:
        links = await session.scalar(text("SELECT count(*) FROM user_external_identities"))
    assert links == 0


async def test_an_sso_account_moves_to_a_new_provider_once_by_its_address(world: World) -> None:
    _, email = await verified_user(world.idp, Role.AGENT)
    assert (await _sign_in_through_the_provider(world, email)).status_code == 200
    member = await _sp_user(world, email)
    async with world.sp.db.unit_of_work() as session:  # it was linked at an old provider
        await session.execute(
            text("UPDATE user_external_identities SET issuer = 'https://old-idp.example.test'")
        )
    moved = await _sign_in_through_the_provider(world, email)
    assert moved.status_code == 200, moved.text
    assert (await _me(world, moved))["id"] == str(member["id"])
    async with world.sp.db.unit_of_work() as session:
        issuers = (
            await session.scalars(
                text("SELECT issuer FROM user_external_identities ORDER BY issuer")
            )
        ).all()
    assert issuers == ["https://idp.example.test", "https://old-idp.example.test"]


async def test_a_role_change_at_the_provider_is_taken_and_audited(world: World) -> None:
    idp_id, email = await verified_user(world.idp, Role.ADMIN)
    assert (await _sign_in_through_the_provider(world, email)).status_code == 200
    await _at_the_provider(world, "UPDATE users SET role = 'agent' WHERE id = :i", i=idp_id)
    again = await _sign_in_through_the_provider(world, email)
    assert again.status_code == 200, again.text
    me = await _me(world, again)
    assert me["role"] == "agent"
    async with world.sp.db.unit_of_work() as session:
        changes = (
            await session.scalars(
                text(
                    "SELECT changes FROM audit_log WHERE action = 'user.role_changed' "
                    "AND resource_id = :i"
                ),
                {"i": me["id"]},
            )
        ).all()
    assert changes == [{"from": "underwriter", "to": "agent", "by": "sso"}]


@pytest.mark.parametrize(
    ("amr", "signed_in"),
    [
        ("nomfa", False),
        ("mfa", False),
        ({"mfa": True}, False),
        ([1], False),
        (["mfa", "otp", "pwd"], True),
    ],
)
async def test_amr_must_be_an_array_holding_mfa(world: World, amr: Any, signed_in: bool) -> None:
    _configure_sp(world, mfa_required_roles=["underwriter"])
    claims = {
        "sub": "someone-at-the-provider",
        "email": "mfa-check@example.com",
        "email_verified": True,
        "roles": ["admin"],
        "amr": amr,
    }
    async with world.sp.db.unit_of_work() as session:
        result = await sso.sign_in(session, world.sp, claims)
    if signed_in:
        assert isinstance(result, Ok), result
    else:
        assert isinstance(result, Err)
        assert result.error.code == "sso.mfa_required"


async def test_a_callback_without_its_state_or_with_another_fails(world: World) -> None:
    _, email = await verified_user(world.idp, Role.AGENT)
    async with _browser(world.sp_app, SP) as sp, _browser(world.idp_app, IDP) as idp:
        started = await sp.get("/api/v1/auth/sso/login")
        page = await idp.get(started.headers["location"])
        form = hidden_fields(page.text) | {"decision": "allow", "email": email}
        form["password"] = PASSWORD
        back = (await idp.post("/api/v1/oauth/authorize", data=form)).headers["location"]
        query = {k: v[0] for k, v in parse_qs(urlsplit(back).query).items()}
        forged = f"{CALLBACK}?code={query['code']}&state=someone-elses"
        assert (await sp.get(forged)).status_code == 401
        sp.cookies.clear()  # another browser: no state cookie
        assert (await sp.get(back)).status_code == 401


async def test_without_settings_there_is_no_sso(runtime: Runtime) -> None:
    async with _browser(create_app(runtime=runtime), SP) as sp:
        response = await sp.get("/api/v1/auth/sso/login")
    assert response.status_code == 404
    assert response.json()["code"] == "sso.not_configured"


async def test_two_first_sign_ins_of_one_subject_at_once_make_one_account(
    committed_runtime: Runtime,
) -> None:
    sp = committed_runtime
    sp.settings = make_settings(
        str(sp.settings.database_url),
        redis_url=None,
        oauth_issuer=SP,
        sso_issuer=IDP,
        sso_client_id="pd-prime",
        sso_role_map=ROLE_MAP,
    )
    claims = {
        "sub": "two-tabs",
        "email": "two-tabs@example.com",
        "email_verified": True,
        "roles": ["agent"],
        "amr": ["pwd"],
    }

    async def one_tab() -> bool:
        async with sp.db.unit_of_work() as session:
            return isinstance(await sso.sign_in(session, sp, claims), Ok)

    assert list(await asyncio.gather(one_tab(), one_tab())) == [True, True]
    async with sp.db.unit_of_work() as session:
        users = await session.scalar(
            text("SELECT count(*) FROM users WHERE email LIKE 'two-tabs%'")
        )
        links = await session.scalar(text("SELECT count(*) FROM user_external_identities"))
    assert (users, links) == (1, 1)
