"""Signing in to the console and filling its forms over HTTP, for the web UI's tests."""

from __future__ import annotations

import re
from typing import Any

from httpx import AsyncClient, Response

from tests.factories import PASSWORD

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(page: Response | str) -> str:
    html = page if isinstance(page, str) else page.text
    found = _CSRF.search(html)
    assert found is not None, "the page has no form with a CSRF token"
    return found.group(1)


async def sign_in(client: AsyncClient, email: str, password: str = PASSWORD) -> Response:
    """The sign-in page's form, as a browser posts it (its double-submit token included)."""
    page = await client.get("/app/login")
    assert page.status_code == 200, page.text
    return await client.post(
        "/app/login",
        data={"csrf_token": csrf_of(page), "email": email, "password": password, "then": "/app"},
    )


def auto_form(effective_on: str, **changes: str) -> dict[str, str]:
    """The Personal Auto form filled in for one driver and one vehicle, two packages."""
    form = {
        "product_code": "personal_auto",
        "state": "TX",
        "packages": "2",
        "drivers": "1",
        "vehicles": "1",
        "effective_on": effective_on,
        "risk.policy.territory": "austin",
        "risk.policy.prior_insurance": "true",
        "risk.drivers.0.age": "42",
        "risk.drivers.0.years_licensed": "24",
        "risk.drivers.0.accidents_3y": "0",
        "risk.drivers.0.violations_3y": "0",
        "risk.vehicles.0.driver": "0",
        "risk.vehicles.0.model_year": "2022",
        "risk.vehicles.0.symbol": "B",
        "risk.vehicles.0.use": "commute",
        "risk.vehicles.0.annual_miles": "12000",
        "options.0.name": "standard",
        "options.0.coverages.bi.limit": "50/100",
        "options.0.coverages.pd.limit": "50",
        "options.1.name": "full",
        "options.1.coverages.bi.limit": "100/300",
        "options.1.coverages.pd.limit": "100",
        "options.1.coverages.collision.deductible": "500",
        "options.1.coverages.comprehensive.deductible": "250",
    }
    form.update(changes)
    return form


def location(response: Response) -> str:
    assert response.status_code == 303, (response.status_code, response.text[:2000])
    return str(response.headers["location"])


def field_ids_by_name(html: str) -> dict[str, str]:
    """Each form control's name -> id (inputs and selects)."""
    out: dict[str, str] = {}
    for tag in re.finditer(r"<(?:input|select)\b[^>]*>", html):
        attrs: dict[str, Any] = dict(re.findall(r'(\w[\w-]*)="([^"]*)"', tag.group(0)))
        if "name" in attrs and "id" in attrs:
            out[attrs["name"]] = attrs["id"]
    return out
