"""No memory growth from repeated work: 1,000 engine quotes and 1,000 policy reads through the
app, after a warm-up, leave at most 1 MB more traced Python memory (issue 19's gate).

A memory bound, not a timing: tracemalloc counts the bytes still allocated, which on a busy
machine stays what it is. What a warm-up fills (imports, compiled plans, caches with a bound)
is in the starting figure; what would grow is a cache without a bound or a list that something
appends to on every request.
"""

from __future__ import annotations

import gc
import sys
import tracemalloc
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

import pytest
from httpx import AsyncClient

from pd_prime_demo.bench.rating import reference_auto_quote
from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.products.shipped import shipped
from pd_prime_demo.rating.engine import compile_product
from tests.factories import auto_quote, person, user_login

REPETITIONS = 1000
WARM_UP = 100
BOUND = 1024 * 1024  # bytes


@contextmanager
def traced() -> Iterator[Callable[[], int]]:
    """Traced memory from now on; the callable gives the bytes grown since (after a full
    collection, so garbage not yet collected is not counted as growth)."""
    tracemalloc.start()
    try:
        gc.collect()
        start = tracemalloc.get_traced_memory()[0]

        def grown() -> int:
            gc.collect()
            return tracemalloc.get_traced_memory()[0] - start

        yield grown
    finally:
        tracemalloc.stop()


def test_rating_a_quote_a_thousand_times_does_not_grow_memory() -> None:
    product = compile_product(shipped("personal_auto", "TX"))
    quote = reference_auto_quote(product)
    with traced() as grown:
        for _ in range(WARM_UP):
            product.rate(quote, explain=False)
        warmed = grown()
        for _ in range(REPETITIONS):
            product.rate(quote, explain=False)
        growth = grown() - warmed
    assert growth <= BOUND, f"{REPETITIONS} quotes grew traced memory by {growth:,} bytes"


async def _repeat(times: int, step: Callable[[], Awaitable[None]]) -> None:
    for _ in range(times):
        await step()


async def test_serving_a_policy_read_a_thousand_times_does_not_grow_memory(
    client: AsyncClient, runtime: Runtime
) -> None:
    if sys.gettrace() is not None:
        # Under coverage's tracer (make test) the request path's frames leave the tracer's
        # records behind: about 4 KB a read, none of it the app's. `make gate` runs this file
        # without coverage, and CI runs the gate.
        pytest.skip("measured without a tracer: make gate runs it")
    agent = await user_login(client, runtime, Role.AGENT)
    customer = (await client.post("/api/v1/customers", json=person(), headers=agent.headers)).json()
    quote = (
        await client.post("/api/v1/quotes", json=auto_quote(customer["id"]), headers=agent.headers)
    ).json()
    bound = await client.post(
        f"/api/v1/quotes/{quote['id']}/bind", json={"option": "standard"}, headers=agent.headers
    )
    assert bound.status_code == 201, bound.text
    url = f"/api/v1/policies/{bound.json()['id']}"

    async def read() -> None:
        response = await client.get(url, headers=agent.headers)
        assert response.status_code == 200, response.text

    with traced() as grown:
        await _repeat(WARM_UP, read)
        warmed = grown()
        await _repeat(REPETITIONS, read)
        growth = grown() - warmed
    assert growth <= BOUND, f"{REPETITIONS} policy reads grew traced memory by {growth:,} bytes"
