"""Driving the OAuth provider as a browser and a client would: the page, the form, the token
endpoint. Used by tests/api/test_oauth_*.py and tests/integration/test_oauth_*.py."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient, Response

from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.config import Settings
from pd_prime_demo.core.runtime import Runtime
from tests.conftest import make_settings
from tests.factories import PASSWORD, create_user

ISSUER = "https://testserver"
REDIRECT = "https://app.example.com/callback"
AUTHORIZE = "/api/v1/oauth/authorize"
TOKEN = "/api/v1/oauth/token"


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def verified_user(runtime: Runtime, role: Role) -> tuple[uuid.UUID, str]:
    """A user who may log in (created by the system: the e-mail address counts as verified)."""
    email = f"{role.value}-{uuid.uuid4().hex[:8]}@example.com"
    return await create_user(runtime, role, email=email), email


async def bearer(web: AsyncClient, email: str) -> dict[str, str]:
    response = await web.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": email, "password": PASSWORD},
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def browser(app: FastAPI) -> AsyncClient:
    """A client at the issuer's origin: https, so the page's cookies are Secure (and __Host-),
    as a browser would hold them."""
    transport = ASGITransport(app=app, raise_app_exceptions=False)
    return AsyncClient(transport=transport, base_url=ISSUER)


async def admin_bearer(web: AsyncClient, runtime: Runtime) -> dict[str, str]:
    """Bearer headers of a new administrator (who may register clients)."""
    _, email = await verified_user(runtime, Role.ADMIN)
    return await bearer(web, email)


async def new_client(
    web: AsyncClient, runtime: Runtime, admin: dict[str, str], **overrides: Any
) -> dict[str, Any]:
    """A client registered by ``admin`` for a new agent who owns it."""
    owner, _ = await verified_user(runtime, Role.AGENT)
    return await register(web, admin, owner, **overrides)


# The fixtures the OAuth test modules share; a module imports the ones it uses (their names
# differ from the fixtures' own, so that a test's parameter does not shadow the import).
@pytest.fixture(scope="session", name="settings")
def settings_fixture(database_url: str) -> Settings:
    return make_settings(database_url, oauth_issuer=ISSUER)


@pytest.fixture(name="web")
async def web_fixture(app: FastAPI) -> AsyncIterator[AsyncClient]:
    async with browser(app) as client:
        yield client


@pytest.fixture(name="admin")
async def admin_fixture(web: AsyncClient, runtime: Runtime) -> dict[str, str]:
    return await admin_bearer(web, runtime)


@pytest.fixture(name="app_client")
async def app_client_fixture(
    web: AsyncClient, runtime: Runtime, admin: dict[str, str]
) -> dict[str, Any]:
    return await new_client(web, runtime, admin)


async def register(
    web: AsyncClient, admin: dict[str, str], owner_id: uuid.UUID, **overrides: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Policy app",
        "owner_id": str(owner_id),
        "scopes": ["openid", "profile", "email", "quotes:read", "policies:read"],
        "grant_types": ["authorization_code", "refresh_token"],
        "redirect_uris": [REDIRECT],
        **overrides,
    }
    if body.get("client_type") != "public":  # these helpers send the secret in the form
        body.setdefault("token_endpoint_auth_method", "client_secret_post")
    response = await web.post("/api/v1/api-clients", json=body, headers=admin)
    assert response.status_code == 201, response.text
    return dict(response.json())


def authorization_params(
    client: dict[str, Any], challenge: str, **overrides: str | None
) -> dict[str, str]:
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": client["id"],
        "redirect_uri": REDIRECT,
        "scope": "openid profile email quotes:read",
        "state": secrets.token_urlsafe(8),
        "nonce": secrets.token_urlsafe(8),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **overrides,
    }
    return {k: v for k, v in params.items() if v is not None}


_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def hidden_fields(page: str) -> dict[str, str]:
    import html

    return {name: html.unescape(value) for name, value in _HIDDEN.findall(page)}


async def consent(
    web: AsyncClient,
    params: dict[str, str],
    *,
    email: str | None,
    password: str = PASSWORD,
    decision: str = "allow",
) -> Response:
    """Open the authorization page and submit its form as a user would."""
    page = await web.get(AUTHORIZE, params=params)
    assert page.status_code == 200, page.text
    form = hidden_fields(page.text)
    form["decision"] = decision
    if email is not None:
        form |= {"email": email, "password": password}
    return await web.post(AUTHORIZE, data=form)


def redirect_query(response: Response) -> dict[str, str]:
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT + "?"), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def code_for(
    web: AsyncClient, client: dict[str, Any], email: str, **overrides: str | None
) -> tuple[str, str]:
    """An authorization code (and its PKCE verifier) for ``email`` and ``client``."""
    verifier, challenge = pkce_pair()
    params = authorization_params(client, challenge, **overrides)
    query = redirect_query(await consent(web, params, email=email))
    assert query["state"] == params["state"]
    return query["code"], verifier


def refresh_form(client: dict[str, Any], refresh_token: str) -> dict[str, str]:
    """The token endpoint's form for a refresh by ``client`` (which sends its secret)."""
    return {
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "client_id": client["id"],
        "client_secret": client["client_secret"],
    }


async def redeem(
    web: AsyncClient, client: dict[str, Any], code: str, verifier: str | None, **extra: str
) -> Response:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "client_id": client["id"],
        **({"code_verifier": verifier} if verifier is not None else {}),
        **extra,
    }
    if client.get("client_secret"):
        form["client_secret"] = client["client_secret"]
    return await web.post(TOKEN, data=form)
