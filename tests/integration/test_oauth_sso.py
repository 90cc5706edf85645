"""Staff single sign-on against a real OpenID Connect provider: another PD Prime, served in
the test on a database of its own, whose staff sign in to this one by their role there."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient, Response
from sqlalchemy import text

from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.runtime import Runtime
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
    _, email = await verified_user(world.idp, Role.ADMIN)
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
