"""GET /account/sessions pages by keyset: a user who logs in often sees every live session."""

from __future__ import annotations

from httpx import AsyncClient

from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.runtime import Runtime
from tests.factories import login, user_login


async def test_sessions_are_listed_newest_first_a_page_at_a_time(
    client: AsyncClient, runtime: Runtime
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    for _ in range(4):
        await login(client, agent.email)
    seen: list[dict[str, object]] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 2}
        if cursor is not None:
            params["cursor"] = cursor
        page = await client.get("/api/v1/account/sessions", headers=agent.headers, params=params)
        assert page.status_code == 200, page.text
        body = page.json()
        assert len(body["items"]) <= 2
        seen.extend(body["items"])
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert len({s["id"] for s in seen}) == 5, "every session once, none skipped or repeated"
    created = [str(s["created_at"]) for s in seen]
    assert created == sorted(created, reverse=True)
    assert sum(bool(s["current"]) for s in seen) == 1


async def test_a_forged_session_cursor_is_a_problem(client: AsyncClient, runtime: Runtime) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    forged = await client.get(
        "/api/v1/account/sessions", headers=agent.headers, params={"cursor": "not-a-cursor"}
    )
    assert forged.status_code == 422
    assert forged.headers["content-type"].startswith("application/problem+json")
    assert forged.json()["code"] == "pagination.bad_cursor"
