"""A legal hold and an erasure racing for the same person, on two real connections: whichever
commits first, the other sees it. A hold committed first blocks the erasure that was waiting;
an erasure running first makes the hold wait, then the hold is placed on what is left."""

from __future__ import annotations

import asyncio
import uuid

from pydantic import TypeAdapter

from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.result_types import Err, Ok
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.customers import service as customers
from pd_prime_demo.customers.schemas import CustomerCreate
from pd_prime_demo.privacy.service import erasure, holds
from tests.factories import person

STAFF = Actor.system("privacy-race")


async def _customer(runtime: Runtime) -> uuid.UUID:
    data = TypeAdapter(CustomerCreate).validate_python(person())
    async with runtime.db.unit_of_work() as session:
        made = await customers.create_customer(session, data, actor=STAFF, cipher=runtime.cipher)
        assert isinstance(made, Ok), made
        return made.value.id


async def _erase(runtime: Runtime, customer_id: uuid.UUID) -> object:
    async with runtime.db.unit_of_work() as session:
        return await erasure.erase(
            session, customer_id, actor=STAFF, request_id=None, cipher=runtime.cipher
        )


def _request(customer_id: uuid.UUID) -> holds.HoldRequest:
    return holds.HoldRequest("customer", customer_id, "Suit filed", "LIT-RACE")


async def test_a_hold_committed_first_blocks_the_waiting_erasure(
    committed_runtime: Runtime,
) -> None:
    runtime = committed_runtime
    customer_id = await _customer(runtime)
    async with runtime.db.unit_of_work() as session:
        placed = await holds.place(session, _request(customer_id), actor=STAFF)
        assert isinstance(placed, Ok)
        racing = asyncio.create_task(_erase(runtime, customer_id))
        await asyncio.sleep(0.5)
        assert not racing.done(), "the erasure waits for the customer row"
    outcome = await racing
    assert isinstance(outcome, Err)
    assert outcome.error.code == "privacy.legal_hold"


async def test_an_erasure_running_first_makes_the_hold_wait(committed_runtime: Runtime) -> None:
    runtime = committed_runtime
    customer_id = await _customer(runtime)

    async def place() -> object:
        async with runtime.db.unit_of_work() as session:
            return await holds.place(session, _request(customer_id), actor=STAFF)

    async with runtime.db.unit_of_work() as session:
        erased = await erasure.erase(
            session, customer_id, actor=STAFF, request_id=None, cipher=runtime.cipher
        )
        assert isinstance(erased, Ok)
        racing = asyncio.create_task(place())
        await asyncio.sleep(0.5)
        assert not racing.done(), "the hold waits for the erasure to commit"
    assert isinstance(await racing, Ok)
