"""The staff console over HTTP: sign-in with a cookie session, CSRF and CSP refusals, object
visibility, the generated quote form, and quoting through binding (tests/e2e drives the same
pages in a real browser)."""

from __future__ import annotations

import dataclasses
import re
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient

from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.config import Environment
from pd_prime_demo.core.ratelimit import RateLimiter
from pd_prime_demo.core.result_types import Ok
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.identity import mfa
from pd_prime_demo.main import create_app
from pd_prime_demo.products import service as products
from tests.conftest import make_settings
from tests.e2e.console_support import auto_form, csrf_of, field_ids_by_name, location, sign_in
from tests.factories import Login, create_user, days_ahead, person, user_login

SESSION = "__Host-pdp-console"  # the test environment is neither demo nor development


@pytest.fixture
async def browser(app: FastAPI) -> AsyncIterator[AsyncClient]:
    """A client that keeps cookies over https, as a browser does (the cookies are Secure)."""
    transport = ASGITransport(app=app, raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url="https://testserver") as client:
        yield client


async def _customer_of(client: AsyncClient, agent: Login) -> str:
    created = await client.post("/api/v1/customers", json=person(), headers=agent.headers)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def test_sign_in_opens_a_cookie_session_and_sign_out_ends_it(
    browser: AsyncClient, client: AsyncClient, runtime: Runtime
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    signed_in = await sign_in(browser, agent.email)
    assert location(signed_in) == "/app"
    cookie = next(
        v for k, v in signed_in.headers.multi_items() if k == "set-cookie" and SESSION in v
    ).lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "secure" in cookie
    home = await browser.get("/app")
    assert home.status_code == 200
    assert "Test Agent" in home.text
    assert "Open quotes" in home.text
    assert home.headers["cache-control"] == "no-store"
    out = await browser.post("/app/logout", data={"csrf_token": csrf_of(home)})
    assert location(out) == "/app/login"
    # The login session is revoked, not just the cookie dropped: replaying it fails.
    browser.cookies.set(SESSION, re.search(rf"{SESSION}=([^;]+)", cookie, re.I).group(1))  # type: ignore[union-attr]
    again = await browser.get("/app")
    assert location(again).startswith("/app/login")


async def test_a_wrong_password_is_an_accessible_message(
    browser: AsyncClient, client: AsyncClient, runtime: Runtime
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    refused = await sign_in(browser, agent.email, "not the password at all")
    assert refused.status_code == 401
    assert 'role="alert"' in refused.text
    assert "e-mail or password is wrong" in refused.text
    assert f"{SESSION}=" not in refused.headers.get("set-cookie", "")


async def test_a_post_without_the_csrf_token_is_refused(
    browser: AsyncClient, client: AsyncClient, runtime: Runtime
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    page = await browser.get("/app/login")
    forged = await browser.post("/app/login", data={"email": agent.email, "password": "x" * 20})
    assert forged.status_code == 403
    assert "csrf.invalid" in forged.text
    await sign_in(browser, agent.email)
    customer_id = await _customer_of(client, agent)
    body = auto_form(days_ahead(7))
    for headers in ({}, {"X-CSRF-Token": "forged"}, {"HX-Request": "true"}):
        refused = await browser.post(
            f"/app/customers/{customer_id}/quotes", data=body, headers=headers
        )
        assert refused.status_code == 403, refused.text
        assert "csrf.invalid" in refused.text
    logout = await browser.post("/app/logout", data={"csrf_token": csrf_of(page)})
    assert logout.status_code == 403  # the sign-in page's token is not the session's
    assert (await browser.get("/app")).status_code == 200  # still signed in: nothing happened
    listed = await client.get(f"/api/v1/quotes?customer_id={customer_id}", headers=agent.headers)
    assert listed.json()["items"] == []


async def test_pages_carry_a_csp_without_inline_code(
    browser: AsyncClient, client: AsyncClient, runtime: Runtime
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    await sign_in(browser, agent.email)
    customer_id = await _customer_of(client, agent)
    for url in (
        "/app/login",
        "/app",
        "/app/customers",
        f"/app/customers/{customer_id}",
        f"/app/customers/{customer_id}/quotes/new?product=personal_auto&state=TX",
    ):
        page = await browser.get(url)
        assert page.status_code == 200, (url, page.text[:500])
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp, csp
        assert "style-src 'self'" in csp, csp
        assert "frame-ancestors 'none'" in csp
        assert "form-action 'self'" in csp
        assert "unsafe-inline" not in csp
        assert "unsafe-eval" not in csp
        assert not re.search(r"<script(?![^>]*\ssrc=)", page.text), url  # no inline script
        assert " style=" not in page.text, url
        assert "<style" not in page.text, url
        assert re.search(r" on[a-z]+=", page.text) is None, url  # no inline handlers


async def test_an_agent_cannot_open_another_agents_customer(
    browser: AsyncClient, client: AsyncClient, runtime: Runtime
) -> None:
    owner = await user_login(client, runtime, Role.AGENT)
    other = await user_login(client, runtime, Role.AGENT)
    customer_id = await _customer_of(client, owner)
    await sign_in(browser, other.email)
    for url in (f"/app/customers/{customer_id}", f"/app/customers/{customer_id}/quotes/new"):
        page = await browser.get(url)
        assert page.status_code == 404, url
        assert "customer not found" in page.text
        assert 'role="alert"' in page.text
    searched = await browser.get("/app/customers")
    assert customer_id not in searched.text


async def test_the_quote_form_has_a_labelled_field_per_product_variable(
    browser: AsyncClient, client: AsyncClient, runtime: Runtime
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    await sign_in(browser, agent.email)
    customer_id = await _customer_of(client, agent)
    async with runtime.db.sessionmaker() as session:
        found = await products.version_in_force(
            session, "personal_auto", "TX", clock.today() + timedelta(days=7)
        )
    assert isinstance(found, Ok)
    defn = found.value.definition
    page = await browser.get(
        f"/app/customers/{customer_id}/quotes/new?product=personal_auto&state=TX&drivers=2"
    )
    assert page.status_code == 200
    ids = field_ids_by_name(page.text)
    expected = [
        f"risk.{prefix}.{v.name}"
        for v in defn.variables
        for prefix in (
            ["policy"]
            if v.scope == "policy"
            else [f"{v.scope}s.{i}" for i in range(2 if v.scope == "driver" else 1)]
        )
    ]
    assert len(expected) == len(defn.variables) + sum(v.scope == "driver" for v in defn.variables)
    for name in expected:
        assert name in ids, name
        assert f'<label for="{ids[name]}">' in page.text, name
    for cov in defn.coverages:
        assert any(n.startswith(f"options.0.coverages.{cov.code}.") for n in ids), cov.code


async def test_quote_and_bind_through_the_console(
    browser: AsyncClient, client: AsyncClient, runtime: Runtime
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    await sign_in(browser, agent.email)
    customer_id = await _customer_of(client, agent)
    form_page = await browser.get(
        f"/app/customers/{customer_id}/quotes/new?product=personal_auto&state=TX"
    )
    token = csrf_of(form_page)
    # A bad answer comes back on its field, described by its error, and nothing is written.
    bad = await browser.post(
        f"/app/customers/{customer_id}/quotes",
        data={**auto_form(days_ahead(7), **{"risk.drivers.0.age": "12"}), "csrf_token": token},
    )
    assert bad.status_code == 422
    assert 'aria-describedby="f-risk-drivers-0-age-hint f-risk-drivers-0-age-error"' in bad.text
    assert "must be at least 16" in bad.text
    quoted = await browser.post(
        f"/app/customers/{customer_id}/quotes",
        data={**auto_form(days_ahead(7)), "csrf_token": token},
    )
    quote_url = location(quoted)
    quote_page = await browser.get(quote_url)
    assert quote_page.status_code == 200
    assert "Packages side by side" in quote_page.text
    assert "Worksheet of the full package" in quote_page.text
    assert "Bodily injury liability" in quote_page.text
    bound = await browser.post(
        f"{quote_url}/bind",
        data={"csrf_token": token, "option": "full", "payment_plan": "monthly"},
    )
    policy_url = location(bound)
    policy = await browser.get(policy_url)
    assert policy.status_code == 200
    api = await client.get(
        f"/api/v1/policies/{policy_url.rsplit('/', 1)[1]}", headers=agent.headers
    )
    assert api.status_code == 200
    assert api.json()["number"] in policy.text
    assert "New business" in policy.text
    assert "Installments and invoices" in policy.text
    earlier = await browser.get(f"{policy_url}?as_of={clock.today().isoformat()}")
    assert "Not yet effective" in earlier.text


async def test_an_account_with_a_second_factor_signs_in_with_its_code(
    browser: AsyncClient, client: AsyncClient, runtime: Runtime
) -> None:
    start = datetime.fromtimestamp((int(time.time()) // 30 + 2) * 30, UTC)  # a fresh TOTP step
    with clock.frozen_at(start):
        agent = await user_login(client, runtime, Role.AGENT)
        begun = await client.post("/api/v1/account/mfa/totp", headers=agent.headers)
        secret = begun.json()["secret"]
        confirmed = await client.post(
            "/api/v1/account/mfa/totp/confirmation",
            json={"otp": mfa.totp_code(secret, at=start.timestamp())},
            headers=agent.headers,
        )
        assert confirmed.status_code == 200, confirmed.text
    later = start + timedelta(seconds=60)
    with clock.frozen_at(later):
        asked = await sign_in(browser, agent.email)
        assert asked.status_code == 200  # the password passed: the code is asked for next
        assert browser.cookies.get(SESSION) is None
        ticket = re.search(r'name="mfa_token" value="([^"]+)"', asked.text)
        assert ticket is not None
        assert '<label for="code">' in asked.text
        step = {"csrf_token": csrf_of(asked), "mfa_token": ticket.group(1), "then": "/app"}
        wrong = await browser.post("/app/login", data={**step, "code": "000000"})
        assert wrong.status_code == 401
        assert 'role="alert"' in wrong.text
        assert 'name="mfa_token"' in wrong.text  # the same ticket, for another try
        code = mfa.totp_code(secret, at=later.timestamp())
        signed_in = await browser.post(
            "/app/login", data={**step, "csrf_token": csrf_of(wrong), "code": code}
        )
        assert location(signed_in) == "/app"
        assert (await browser.get("/app")).status_code == 200


async def test_too_many_sign_ins_are_refused_with_a_page(runtime: Runtime) -> None:
    assert runtime.settings.database_url is not None
    settings = make_settings(runtime.settings.database_url, rate_limit_login_per_client="2/minute")
    limited = dataclasses.replace(
        runtime,
        settings=settings,
        limiter=RateLimiter.from_settings(settings, namespace=f"test-{uuid.uuid4().hex}"),
    )
    transport = ASGITransport(app=create_app(runtime=limited), raise_app_exceptions=False)
    try:
        async with AsyncClient(transport=transport, base_url="https://testserver") as browser:
            answers = [
                (await sign_in(browser, "nobody@example.com", "not the password")).status_code
                for _ in range(3)
            ]
            assert answers == [401, 401, 429]
            refused = await sign_in(browser, "nobody@example.com", "not the password")
            assert refused.headers["content-type"].startswith("text/html")
            assert "Retry-After" in refused.headers
            assert 'role="alert"' in refused.text
            assert "too many requests" in refused.text
    finally:
        await limited.limiter.close()


async def test_demo_mode_signs_in_over_plain_http(runtime: Runtime) -> None:
    """``make demo`` serves http on a laptop: the cookies there are not Secure (a browser
    would never send them back) and not ``__Host-``; everywhere else they are both."""
    assert runtime.settings.database_url is not None
    demo = dataclasses.replace(
        runtime,
        settings=make_settings(runtime.settings.database_url, env=Environment.DEMO),
    )
    email = f"agent-{uuid.uuid4().hex[:8]}@example.com"
    await create_user(demo, Role.AGENT, email=email)
    transport = ASGITransport(app=create_app(runtime=demo), raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url="http://testserver") as browser:
        signed_in = await sign_in(browser, email)
        assert location(signed_in) == "/app"
        cookie = signed_in.headers["set-cookie"].lower()
        assert "pdp-console=" in cookie
        assert "__host-" not in cookie
        assert "secure" not in cookie
        home = await browser.get("/app")
        assert home.status_code == 200
        assert "Open quotes" in home.text


# The console's own sign-in, its assets and its trailing-slash redirect: every other /app
# route answers only a live console session (the API's bearer routes are in
# tests/integration/test_authorization_matrix.py).
_CONSOLE_PUBLIC = {("GET", "/app/login"), ("POST", "/app/login"), ("GET", "/app/")}


async def test_every_console_route_needs_a_session(app: FastAPI, browser: AsyncClient) -> None:
    from fastapi.routing import iter_route_contexts

    checked = 0
    for route in iter_route_contexts(list(app.routes)):
        template = str(route.path)
        if not route.methods or not template.startswith("/app"):
            continue  # the static assets' mount
        path = re.sub(r"\{[^}:]+(:path)?\}", str(uuid.uuid4()), template)
        for method in sorted(set(route.methods) - {"HEAD"}):
            if (method, template) in _CONSOLE_PUBLIC:
                continue
            answer = await browser.request(method, path, follow_redirects=False)
            checked += 1
            # Without a session a page sends the browser to sign in (303); a form post is
            # refused at once, before any use case runs.
            assert answer.status_code in (303, 403), (method, template, answer.status_code)
            if answer.status_code == 303:
                assert answer.headers["location"].startswith("/app/login"), template
    assert checked >= 8, "the console's routes were found"
