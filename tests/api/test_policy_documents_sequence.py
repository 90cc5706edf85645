"""Out-of-sequence pages add up: an earlier-dated endorsement reverses a later one and
re-applies it; the reversal has no page, so the re-applied page says which change it replaces
and prints its net effect against it. The effects printed on the batch's pages sum to the
premium the batch's transactions moved in the database."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.policies import repository
from tests.api.test_out_of_sequence import _endorse, _policy, _term
from tests.api.test_policy_documents import AMOUNT, _documents, _dollars
from tests.factories import user_login


def _after(text: str, label: str) -> Decimal:
    return _dollars(AMOUNT.findall(text[text.index(label) + len(label) :])[0])


async def test_the_pages_of_an_out_of_sequence_batch_add_up_to_what_it_moved(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    policy = await _policy(client, agent)
    start, _ = _term(policy)
    later = await _endorse(
        client, agent, policy, start + timedelta(days=60), coverages={"bi": {"limit": "250/500"}}
    )
    assert later.status_code == 201, later.text
    # A multi-policy discount from day 20: re-applied on top of it, the day-60 change costs less.
    earlier = await _endorse(
        client, agent, policy, start + timedelta(days=20), risk={"policy": {"multi_policy": True}}
    )
    assert earlier.status_code == 201, earlier.text
    assert earlier.json()["out_of_sequence"] == {"reversed": [2], "reapplied": [5], "dropped": []}

    history = {t.seq: t for t in await repository.transactions(session, uuid.UUID(policy["id"]))}
    moved = sum((history[seq].premium_change for seq in (3, 4, 5)), Decimal(0))
    replaced, reapplied = history[2].premium_change, history[5].premium_change
    assert reapplied != replaced  # re-rated on top of the earlier change: the net is not zero

    pages = {
        int(doc["filename"].removeprefix(f"{policy['number']}-")[:3]): text
        for doc, text in await _documents(client, runtime, agent, policy["id"])
        if doc["kind"] == "declarations"
    }
    assert sorted(pages) == [1, 2, 4, 5], "the reversal (no. 3) has no page"
    new_page, reapplied_page = pages[4], pages[5]
    assert "replaces change no." not in new_page
    assert "This transaction replaces change no. 2" in reapplied_page
    assert _after(reapplied_page, "Premium change") == reapplied
    net = _after(reapplied_page, "Net premium change")
    assert net == reapplied - replaced
    assert _after(new_page, "Premium change") + net == moved
