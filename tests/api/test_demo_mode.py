"""Demo mode: demo accounts sign in only in demo mode, a read-only demo refuses their writes,
and outside demo mode the platform refuses to start on a default, missing or demo secret."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from httpx import ASGITransport, AsyncClient
from pydantic import SecretStr
from sqlalchemy import func, select, update

from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.checkpoint_keys import generate_pem
from pd_prime_demo.core.config import Environment, Settings
from pd_prime_demo.core.keys import (
    export_key_material_env,
    generate_key_material,
    load_key_material,
)
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.core.secret_policy import UnsafeSecretsError, secret_problems
from pd_prime_demo.customers.models import Customer
from pd_prime_demo.identity.models import User
from pd_prime_demo.main import create_app
from pd_prime_demo.seed import DEMO_PASSWORD
from tests.conftest import make_settings
from tests.factories import PASSWORD, Login, login, person, user_login


async def _make_demo(runtime: Runtime, user_id: uuid.UUID) -> None:
    async with runtime.db.unit_of_work() as session:
        await session.execute(update(User).where(User.id == user_id).values(is_demo=True))


def _in_mode(runtime: Runtime, **settings: object) -> None:
    runtime.settings = runtime.settings.model_copy(update=settings)


@pytest.fixture
async def demo_client(runtime: Runtime) -> AsyncIterator[AsyncClient]:
    """A client of an app whose settings the test changes through ``_in_mode`` (read live)."""
    app: FastAPI = create_app(runtime=runtime)
    transport = ASGITransport(app=app, raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def _demo_login(client: AsyncClient, runtime: Runtime, role: Role) -> Login:
    who = await user_login(client, runtime, role)
    await _make_demo(runtime, who.user_id)
    return who


async def test_a_demo_account_signs_in_only_in_demo_mode(
    demo_client: AsyncClient, runtime: Runtime
) -> None:
    agent = await _demo_login(demo_client, runtime, Role.AGENT)
    form = {"grant_type": "password", "username": agent.email, "password": "x" * 20}
    # Outside demo mode (the test environment): refused even with the right password ...
    _in_mode(runtime, env=Environment.TEST)
    refused = await demo_client.post("/api/v1/auth/token", data={**form, "password": PASSWORD})
    assert refused.status_code == 401, refused.text
    assert refused.json()["code"] == "auth.demo_account"
    # ... and a token it got before (while the demo ran) no longer works either.
    assert (await demo_client.get("/api/v1/users/me", headers=agent.headers)).status_code == 401
    # In demo mode it signs in and works.
    _in_mode(runtime, env=Environment.DEMO)
    tokens = await login(demo_client, agent.email)
    me = await demo_client.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert me.status_code == 200, me.text
    # A wrong password is still just wrong, in any mode.
    wrong = await demo_client.post("/api/v1/auth/token", data=form)
    assert wrong.status_code == 401
    assert wrong.json()["code"] == "auth.invalid_credentials"


async def test_a_demo_accounts_api_key_stops_working_outside_demo_mode(
    demo_client: AsyncClient, runtime: Runtime
) -> None:
    _in_mode(runtime, env=Environment.DEMO)
    agent = await _demo_login(demo_client, runtime, Role.AGENT)
    made = await demo_client.post(
        "/api/v1/api-keys",
        json={"name": "demo", "scopes": ["customers:read"]},
        headers=agent.headers,
    )
    assert made.status_code == 201, made.text
    key = {"Authorization": f"Bearer {made.json()['key']}"}
    assert (await demo_client.get("/api/v1/customers", headers=key)).status_code == 200
    _in_mode(runtime, env=Environment.TEST)
    refused = await demo_client.get("/api/v1/customers", headers=key)
    assert refused.status_code == 401
    assert refused.json()["code"] == "auth.invalid_api_key"


async def test_production_accounts_are_not_demo_accounts(
    demo_client: AsyncClient, runtime: Runtime
) -> None:
    _in_mode(runtime, env=Environment.TEST)
    agent = await user_login(demo_client, runtime, Role.AGENT)
    assert (await demo_client.get("/api/v1/users/me", headers=agent.headers)).status_code == 200


def _writes(app: FastAPI) -> list[tuple[str, str]]:
    # FastAPI keeps included routers whole in app.routes: iter_route_contexts flattens them.
    return sorted(
        (method, str(route.path))
        for route in iter_route_contexts(app.routes)
        if isinstance(route.original_route, APIRoute)
        for method in route.methods or ()
        if method not in {"GET", "HEAD", "OPTIONS"}
    )


# POSTs that read: a live-updates ticket, and OpenID Connect's userinfo (its POST form).
_READS_BY_POST = frozenset({"/api/v1/realtime/tickets", "/api/v1/oauth/userinfo"})


async def test_a_read_only_demo_refuses_every_write_of_a_demo_account_and_keeps_reads(
    demo_client: AsyncClient, runtime: Runtime, app: FastAPI
) -> None:
    _in_mode(runtime, env=Environment.DEMO, demo_read_only=True)
    admin = await _demo_login(demo_client, runtime, Role.ADMIN)
    agent = await _demo_login(demo_client, runtime, Role.AGENT)
    refused = 0
    skipped = []
    for method, path in _writes(app):
        url = path.replace("{", "").replace("}", "")  # any id: the refusal comes first
        url = "/".join(
            str(uuid.uuid4()) if part.endswith("_id") else part for part in url.split("/")
        )
        anonymous = await demo_client.request(method, url, json={})
        if anonymous.status_code != 401:
            skipped.append((method, path, anonymous.status_code))
            continue  # a route for the unauthenticated (login, registration): no demo actor
        if path == "/api/v1/auth/logout":
            continue  # allowed (below), and it would end the admin's session here
        response = await demo_client.request(method, url, json={}, headers=admin.headers)
        if path in _READS_BY_POST:
            assert response.status_code != 403 or response.json()["code"] != "demo.read_only"
            continue
        assert response.status_code == 403, (method, path, response.text)
        assert response.json()["code"] == "demo.read_only", (method, path)
        refused += 1
    assert refused > 20, f"the demo admin reached the app's writes, not {skipped}"
    # Nothing was written; reads work.
    customers_before = await _count_customers(runtime)
    created = await demo_client.post("/api/v1/customers", json=person(), headers=agent.headers)
    assert created.status_code == 403
    assert await _count_customers(runtime) == customers_before
    assert (await demo_client.get("/api/v1/customers", headers=agent.headers)).status_code == 200
    assert (await demo_client.get("/api/v1/users", headers=admin.headers)).status_code == 200
    # A real account in the same read-only demo writes as usual.
    staff = await user_login(demo_client, runtime, Role.AGENT)
    written = await demo_client.post("/api/v1/customers", json=person(), headers=staff.headers)
    assert written.status_code == 201, written.text
    # Logging out is no change to the demo's data: allowed.
    out = await demo_client.post("/api/v1/auth/logout", headers=agent.headers)
    assert out.status_code == 204, out.text


async def test_a_demo_that_is_not_read_only_lets_demo_accounts_write(
    demo_client: AsyncClient, runtime: Runtime
) -> None:
    _in_mode(runtime, env=Environment.DEMO, demo_read_only=False)
    agent = await _demo_login(demo_client, runtime, Role.AGENT)
    created = await demo_client.post("/api/v1/customers", json=person(), headers=agent.headers)
    assert created.status_code == 201, created.text


async def _count_customers(runtime: Runtime) -> int:
    async with runtime.db.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(Customer)) or 0)


def test_the_demo_password_is_published() -> None:
    assert DEMO_PASSWORD  # the value the secret policy refuses anywhere as a secret


# --- the production start-up refusal ----------------------------------------------------


def _production(tmp_path: Path, keys: dict[str, str], **overrides: object) -> Settings:
    return make_settings(
        "postgresql+asyncpg://nobody@127.0.0.1:1/none",
        env=Environment.PRODUCTION,
        data_dir=tmp_path,
        jwt_keys=keys["PD_PRIME_JWT_KEYS"],
        jwt_active_kid=keys["PD_PRIME_JWT_ACTIVE_KID"],
        pii_keys=keys["PD_PRIME_PII_KEYS"],
        pii_active_kid=keys["PD_PRIME_PII_ACTIVE_KID"],
        audit_checkpoint_key=generate_pem(),
        **overrides,
    )


def _start(settings: Settings) -> None:
    """Build the runtime as a server's start-up does (no connection is made)."""
    runtime = Runtime.create(settings)
    asyncio.run(runtime.close())


def test_production_starts_with_fresh_keys(tmp_path: Path) -> None:
    _start(_production(tmp_path, export_key_material_env(generate_key_material())))


def test_production_refuses_to_start_without_keys(tmp_path: Path) -> None:
    settings = make_settings(
        "postgresql+asyncpg://nobody@127.0.0.1:1/none",
        env=Environment.PRODUCTION,
        data_dir=tmp_path,
        jwt_keys="",
        pii_keys="",
    )
    with pytest.raises(RuntimeError, match="must be configured outside demo mode"):
        _start(settings)


def test_production_refuses_the_keys_demo_mode_generated(tmp_path: Path) -> None:
    demo = make_settings("postgresql+asyncpg://x@127.0.0.1:1/x", env=Environment.DEMO)
    demo = demo.model_copy(update={"data_dir": tmp_path, "jwt_keys": {}, "pii_keys": {}})
    material = load_key_material(demo)  # generated into tmp_path/secrets, as `make demo` does
    assert material.pii_active_kid.startswith("demo-")
    keys = export_key_material_env(material)
    with pytest.raises(UnsafeSecretsError, match="generated by demo mode"):
        _start(_production(tmp_path, keys))
    # Renaming the key ids does not hide them: the key material itself is the demo file's.
    renamed = {
        "PD_PRIME_JWT_KEYS": json.dumps(
            {"prod-jwt": next(iter(json.loads(keys["PD_PRIME_JWT_KEYS"]).values()))}
        ),
        "PD_PRIME_JWT_ACTIVE_KID": "prod-jwt",
        "PD_PRIME_PII_KEYS": json.dumps(
            {"prod-pii": next(iter(json.loads(keys["PD_PRIME_PII_KEYS"]).values()))}
        ),
        "PD_PRIME_PII_ACTIVE_KID": "prod-pii",
    }
    with pytest.raises(UnsafeSecretsError, match="is demo key material"):
        _start(_production(tmp_path, renamed))
    # Demo mode itself runs on them.
    _start(demo)


def test_production_refuses_a_placeholder_pii_key(tmp_path: Path) -> None:
    keys = export_key_material_env(generate_key_material())
    zeros = "A" * 43  # base64url of 32 zero bytes
    keys["PD_PRIME_PII_KEYS"] = json.dumps({"pii-1": zeros})
    keys["PD_PRIME_PII_ACTIVE_KID"] = "pii-1"
    with pytest.raises(UnsafeSecretsError, match="not random"):
        _start(_production(tmp_path, keys))


def _secret_settings() -> list[str]:
    return [
        name
        for name, field in Settings.model_fields.items()
        if "SecretStr" in str(field.annotation) and "dict" not in str(field.annotation)
    ]


@pytest.mark.parametrize("value", ["changeme", DEMO_PASSWORD, ""])
def test_production_refuses_any_secret_setting_with_a_placeholder_or_published_value(
    tmp_path: Path, value: str
) -> None:
    keys = export_key_material_env(generate_key_material())
    names = _secret_settings()
    if not names:
        pytest.skip("no secret setting besides the key rings")
    for name in names:
        settings = _production(tmp_path, keys).model_copy(update={name: SecretStr(value)})
        problems = secret_problems(settings, load_key_material(settings))
        assert any(f"PD_PRIME_{name.upper()}" in p for p in problems), (name, problems)
        with pytest.raises(UnsafeSecretsError, match=f"PD_PRIME_{name.upper()}"):
            _start(settings)


async def test_a_demo_accounts_session_is_not_refreshed_outside_demo_mode(
    demo_client: AsyncClient, runtime: Runtime
) -> None:
    _in_mode(runtime, env=Environment.DEMO)
    agent = await _demo_login(demo_client, runtime, Role.AGENT)
    _in_mode(runtime, env=Environment.TEST)
    refused = await demo_client.post(
        "/api/v1/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": agent.refresh_token},
    )
    assert refused.status_code == 401, refused.text
    assert refused.json()["code"] == "auth.demo_account"
