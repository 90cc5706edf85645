"""A new staff member in a real browser: signs in, finds a customer, quotes Personal Auto
through the form generated from the product, binds a package and reads the policy, with no
CSP violation on the way and no serious or critical axe-core finding on any page."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright

from pd_prime_demo.core.actor import Role
from tests.e2e.conftest import AXE, SHOTS, Served, chromium
from tests.factories import PASSWORD, create_user, person

TIMEOUT_MS = 15_000


@pytest.fixture
async def browser(served: Served) -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        # --no-sandbox: CI runs as root, where Chromium's sandbox cannot start.
        launched = await p.chromium.launch(
            executable_path=chromium(), headless=True, args=["--no-sandbox"]
        )
        try:
            yield launched
        finally:
            await launched.close()


async def _axe(page: Page, name: str) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations of the page (WCAG 2.1 A and AA rules).
    Evaluated through the DevTools protocol, which the page's CSP does not govern: a script
    tag would be refused by the CSP (and rightly so)."""
    if not await page.evaluate("() => typeof window.axe !== 'undefined'"):
        await page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    result = await page.evaluate(
        """async () => {
            const r = await axe.run(document, {runOnly: {type: 'tag',
                values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
        }"""
    )
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    return [v for v in result if v["impact"] in ("serious", "critical")]


async def _customer(served: Served) -> tuple[str, str, str]:
    """A new agent (with their password) and a customer in their book."""
    email = f"agent-{uuid.uuid4().hex[:8]}@example.com"
    await create_user(served.runtime, Role.AGENT, email=email)
    async with httpx.AsyncClient(base_url=served.url) as api:
        token = await api.post(
            "/api/v1/auth/token",
            data={"grant_type": "password", "username": email, "password": PASSWORD},
        )
        assert token.status_code == 200, token.text
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        body = person(first_name="Rosa", last_name=f"Quintana{uuid.uuid4().hex[:4]}")
        created = await api.post("/api/v1/customers", json=body, headers=headers)
        assert created.status_code == 201, created.text
    return email, str(created.json()["id"]), str(body["last_name"])


async def test_a_new_agent_quotes_and_binds_personal_auto(served: Served, browser: Browser) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    email, customer_id, last_name = await _customer(served)
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    problems: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on(
        "response",
        lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None,
    )
    findings: dict[str, list[dict[str, Any]]] = {}

    await page.goto(f"{served.url}/app/customers")  # signed out: to the sign-in page
    assert "/app/login" in page.url
    findings["login"] = await _axe(page, "01-login")
    await page.get_by_label("E-mail").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"{served.url}/app/customers")
    await page.get_by_role("link", name="Home").click()
    await page.get_by_role("heading", name="Open quotes").wait_for()
    findings["home"] = await _axe(page, "02-home")
    await page.get_by_role("link", name="Customers", exact=True).click()

    # htmx: the results follow the search box as the user types.
    await page.get_by_label("Name or e-mail").fill(last_name)
    await page.get_by_role("link", name=f"Rosa {last_name}").wait_for()
    findings["customers"] = await _axe(page, "03-customers")
    await page.get_by_role("link", name=f"Rosa {last_name}").click()
    await page.wait_for_url(f"**/app/customers/{customer_id}")
    findings["customer"] = await _axe(page, "04-customer")

    await page.get_by_role("link", name="New quote").click()
    await page.get_by_label("Product and state").select_option(label="Personal Auto — TX")
    await page.get_by_role("button", name="Continue").click()
    await page.get_by_role("heading", name="Personal Auto (TX)", exact=False).wait_for()
    findings["quote-form"] = await _axe(page, "05-quote-form")
    await page.locator("#f-risk-policy-territory").select_option("austin")
    await page.locator("#f-risk-policy-prior-insurance").check()
    for field, value in {
        "drivers-0-age": "42",
        "drivers-0-years-licensed": "24",
        "drivers-0-accidents-3y": "0",
        "drivers-0-violations-3y": "0",
        "vehicles-0-driver": "0",
        "vehicles-0-model-year": "2022",
        "vehicles-0-annual-miles": "12000",
    }.items():
        await page.locator(f"#f-risk-{field}").fill(value)
    await page.locator("#f-risk-vehicles-0-symbol").select_option("B")
    await page.locator("#f-risk-vehicles-0-use").select_option("commute")
    await page.get_by_role("button", name="Rate the packages").click()
    await page.get_by_role("heading", name="Packages side by side").wait_for()
    findings["quote"] = await _axe(page, "06-quote")

    await page.get_by_label("Payment plan for full").select_option("monthly")
    await page.get_by_role("button", name="Bind full").click()
    await page.wait_for_url("**/app/policies/*")
    heading = await page.get_by_role("heading", level=1).text_content()
    assert heading is not None
    assert heading.startswith("Policy ")
    assert await page.get_by_text("New business").count() >= 1
    findings["policy"] = await _axe(page, "07-policy")

    await page.get_by_label("As of").fill("2020-01-01")
    await page.get_by_role("button", name="Show").click()
    await page.get_by_text("Not yet effective").first.wait_for()

    await page.get_by_role("button", name="Sign out").click()
    await page.wait_for_url("**/app/login")
    await context.close()

    assert problems == [], problems  # a CSP violation is reported as a console error
    serious = {name: found for name, found in findings.items() if found}
    assert serious == {}, serious
