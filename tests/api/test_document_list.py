"""A policy's documents list says which template drew each one (``template_version``), as the
stored row does: null while it is being drawn, the shipped template's version once ready."""

from __future__ import annotations

import hashlib
from typing import Any

from httpx import AsyncClient

from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.documents.templates import SHIPPED
from tests.factories import auto_quote, draw_documents, person, user_login


async def test_the_documents_list_shows_the_template_version(
    client: AsyncClient, runtime: Runtime
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    customer = (await client.post("/api/v1/customers", json=person(), headers=agent.headers)).json()
    quote = (
        await client.post("/api/v1/quotes", json=auto_quote(customer["id"]), headers=agent.headers)
    ).json()
    bound = await client.post(
        f"/api/v1/quotes/{quote['id']}/bind", json={"option": "standard"}, headers=agent.headers
    )
    assert bound.status_code == 201, bound.text
    url = f"/api/v1/policies/{bound.json()['id']}/documents"

    async def listed() -> list[dict[str, Any]]:
        response = await client.get(url, headers=agent.headers)
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    [pending] = await listed()
    assert pending["kind"] == "declarations"
    assert (pending["status"], pending["template_version"]) == ("pending", None)

    assert await draw_documents(runtime) >= 1
    [ready] = await listed()
    shipped = SHIPPED / "personal_auto" / "declarations.yaml"
    if not shipped.exists():
        shipped = SHIPPED / "declarations.yaml"
    digest = hashlib.sha256(shipped.read_bytes()).hexdigest()[:16]
    assert ready["status"] == "ready"
    assert ready["template_version"].startswith("declarations/")
    assert ready["template_version"].endswith(f"@{digest}")
