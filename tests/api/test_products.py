"""Product versions over the API: upload, lifecycle, immutability, selection by date."""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient

from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.products.shipped import shipped
from tests.factories import auto_quote, days_ahead, person, user_login


def _new_version(version: str, effective: str, base_bi: str = "300") -> dict[str, Any]:
    raw = shipped("personal_auto", "TX").model_dump(mode="json")
    raw["version"] = version
    raw["effective_new_business"] = raw["effective_renewal"] = effective
    for row in raw["tables"]["base_bi"]["rows"]:
        row["value"] = base_bi
    return raw


async def test_lifecycle_and_selection_by_effective_date(
    client: AsyncClient, runtime: Runtime
) -> None:
    admin = await user_login(client, runtime, Role.ADMIN)
    uploaded = await client.post(
        "/api/v1/products/versions",
        json=_new_version("TX-2027.1", days_ahead(60)),
        headers=admin.headers,
    )
    assert uploaded.status_code == 201, uploaded.text
    version = uploaded.json()
    assert version["status"] == "draft"
    url = f"/api/v1/products/versions/{version['id']}"
    replaced = await client.put(
        url, json=_new_version("TX-2027.1", days_ahead(60), "320"), headers=admin.headers
    )
    assert replaced.status_code == 200
    assert replaced.json()["content_hash"] != version["content_hash"]
    early_activate = await client.post(f"{url}/activate", headers=admin.headers)
    assert early_activate.status_code == 409
    assert (await client.post(f"{url}/approve", headers=admin.headers)).json()[
        "status"
    ] == "approved"
    frozen = await client.put(
        url, json=_new_version("TX-2027.1", days_ahead(60)), headers=admin.headers
    )
    assert frozen.status_code == 409
    assert frozen.json()["code"] == "product.version_immutable"
    assert (await client.post(f"{url}/activate", headers=admin.headers)).json()[
        "status"
    ] == "active"

    agent = await user_login(client, runtime, Role.AGENT)
    customer = (await client.post("/api/v1/customers", json=person(), headers=agent.headers)).json()
    before = await client.post(
        "/api/v1/quotes",
        json=auto_quote(customer["id"], effective_on=days_ahead(30)),
        headers=agent.headers,
    )
    after = await client.post(
        "/api/v1/quotes",
        json=auto_quote(customer["id"], effective_on=days_ahead(90)),
        headers=agent.headers,
    )
    assert before.json()["rate_version"] == "TX-2026.1"
    assert after.json()["rate_version"] == "TX-2027.1"
    assert after.json()["product_version_id"] == version["id"]
    assert (
        after.json()["rating"][0]["coverage_premiums"]["bi"]
        > before.json()["rating"][0]["coverage_premiums"]["bi"]
    )

    assert (await client.post(f"{url}/retire", headers=admin.headers)).json()["status"] == "retired"
    retired = await client.post(
        "/api/v1/quotes",
        json=auto_quote(customer["id"], effective_on=days_ahead(90)),
        headers=agent.headers,
    )
    assert retired.json()["rate_version"] == "TX-2026.1", "retired versions no longer rate"
    detail = (await client.get(url, headers=agent.headers)).json()
    assert detail["definition"]["version"] == "TX-2027.1"
    listed = await client.get(
        "/api/v1/products/versions",
        params={"state": "TX", "status": "retired"},
        headers=agent.headers,
    )
    assert [v["version"] for v in listed.json()["items"]] == ["TX-2027.1"]


async def test_invalid_upload_is_rejected_with_pointers(
    client: AsyncClient, runtime: Runtime
) -> None:
    admin = await user_login(client, runtime, Role.ADMIN)
    raw = _new_version("TX-bad", days_ahead(60))
    del raw["tables"]["territory"]
    raw["tables"]["driver_age"]["bands"][0]["max"] = 25
    response = await client.post("/api/v1/products/versions", json=raw, headers=admin.headers)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "product.invalid_definition"
    details = {e["pointer"]: e["detail"] for e in body["errors"]}
    assert "unknown table 'territory'" in details["#/algorithm/coverages/bi/1/table"]
    assert "overlap" in details["#/tables/driver_age/bands"]
    duplicate = await client.post(
        "/api/v1/products/versions",
        json=shipped("personal_auto", "TX").model_dump(mode="json"),
        headers=admin.headers,
    )
    assert duplicate.status_code == 409


async def test_only_product_managers_upload(client: AsyncClient, runtime: Runtime) -> None:
    underwriter = await user_login(client, runtime, Role.UNDERWRITER)
    response = await client.post(
        "/api/v1/products/versions",
        json=_new_version("TX-x", days_ahead(60)),
        headers=underwriter.headers,
    )
    assert response.status_code == 403
    schema = (await client.get("/api/v1/products/schema")).json()
    assert "algorithm" in schema["properties"]
