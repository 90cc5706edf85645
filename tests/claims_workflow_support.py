"""Helpers of the claims handling API tests (workflow, reads, events and the diary): the
claim's URLs, a status move with If-Match, a read that must succeed, publishing the outbox."""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient

from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.events.relay import publish_batch
from tests.factories import changing

API = "/api/v1/claims"


def url(claim: dict[str, Any], tail: str = "") -> str:
    return f"{API}/{claim['id']}{tail}"


async def move(
    client: AsyncClient, headers: dict[str, str], claim: dict[str, Any], **body: Any
) -> Any:
    conditional = await changing(client, headers, url(claim))
    return await client.post(url(claim, "/status"), json=body, headers=conditional)


async def read(client: AsyncClient, headers: dict[str, str], claim: dict[str, Any]) -> Any:
    response = await client.get(url(claim), headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def publish(runtime: Runtime) -> None:
    async with runtime.db.unit_of_work() as session:
        while len(await publish_batch(session, runtime.queue.app, ())) == 500:
            pass
