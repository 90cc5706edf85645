"""audit.verify.walk_chain: what it detects, and the same answer whatever ``parallel`` is.

Tampering is done as the attacker the chain exists for: a superuser bypassing the
append-only triggers (session_replication_role = replica).
"""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.audit.rules import GENESIS_HASH
from pd_prime_demo.audit.verify import ChainWalk, walk_chain
from pd_prime_demo.audit.walk_segment import CONTENT_CHANGED, LINK_BROKEN
from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.runtime import Runtime


async def _append(session: AsyncSession, n: int) -> list[int]:
    actor = Actor.system("tests")
    for i in range(n):
        await audit.record(
            session, actor, "test.event", "thing", str(i), {"fields": ["a", "b"], "n": i}
        )
    return list(await audit.write_pending(session))


async def _as_superuser(session: AsyncSession, statement: str, **params: object) -> None:
    await session.execute(text("SET LOCAL session_replication_role = replica"))
    await session.execute(text(statement), params)
    await session.execute(text("SET LOCAL session_replication_role = origin"))


async def _hashes(session: AsyncSession, ids: list[int]) -> dict[int, str]:
    rows = await session.execute(
        text("SELECT id, hash FROM audit_log WHERE id = ANY(:ids)"), {"ids": ids}
    )
    return {int(i): str(h) for i, h in rows}


async def test_an_intact_chain_walks_to_its_head(session: AsyncSession) -> None:
    ids = await _append(session, 5)
    held = await audit.count_entries(session)
    walk = await walk_chain(session, anchor_ids=[ids[1], ids[3]], batch_size=2)
    hashes = await _hashes(session, ids)
    assert walk.ok
    assert walk.reason is None
    assert walk.entries_checked == walk.count == held
    assert walk.last_id == ids[-1]
    assert walk.last_hash == hashes[ids[-1]]
    assert walk.hashes_at == {ids[1]: hashes[ids[1]], ids[3]: hashes[ids[3]]}
    legacy = await audit.verify_chain(session)
    assert legacy.ok
    assert legacy.entries_checked == walk.entries_checked


async def test_a_stretch_links_to_what_the_caller_expects(session: AsyncSession) -> None:
    ids = await _append(session, 6)
    hashes = await _hashes(session, ids)
    walk = await walk_chain(
        session, after_id=ids[1], expected_prev=hashes[ids[1]], through_id=ids[4]
    )
    assert walk.ok
    assert walk.entries_checked == walk.count == 3
    assert (walk.first_id, walk.first_prev_hash) == (ids[2], hashes[ids[1]])
    assert (walk.last_id, walk.last_hash) == (ids[4], hashes[ids[4]])
    wrong = await walk_chain(
        session, after_id=ids[1], expected_prev=GENESIS_HASH, through_id=ids[4]
    )
    assert (wrong.first_bad_id, wrong.reason, wrong.entries_checked) == (ids[2], LINK_BROKEN, 0)
    assert wrong.last_id == ids[1]
    assert wrong.count == 3
    # expected_prev=None: the first entry's link is the caller's to judge.
    loose = await walk_chain(session, after_id=ids[1], expected_prev=None, through_id=ids[4])
    assert loose.ok
    assert loose.first_prev_hash == hashes[ids[1]]


async def test_an_edited_entry_is_named(session: AsyncSession) -> None:
    ids = await _append(session, 4)
    await _as_superuser(session, "UPDATE audit_log SET changes = '{}' WHERE id = :id", id=ids[2])
    walk = await walk_chain(session, anchor_ids=ids)
    assert (walk.first_bad_id, walk.reason) == (ids[2], CONTENT_CHANGED)
    assert walk.last_id == ids[1]
    assert set(walk.hashes_at) == {ids[0], ids[1]}  # only what verified
    assert walk.count == await audit.count_entries(session)


async def test_a_removed_entry_breaks_the_link(session: AsyncSession) -> None:
    ids = await _append(session, 4)
    await _as_superuser(session, "DELETE FROM audit_log WHERE id = :id", id=ids[1])
    walk = await walk_chain(session, batch_size=2)  # across several batches read ahead
    assert (walk.first_bad_id, walk.reason) == (ids[2], LINK_BROKEN)
    assert walk.count == await audit.count_entries(session)


async def test_an_empty_range_is_no_entries(session: AsyncSession) -> None:
    ids = await _append(session, 1)
    walk = await walk_chain(session, after_id=ids[-1], expected_prev="f" * 64)
    assert walk == ChainWalk(0, None, None, None, None, ids[-1], "f" * 64, {}, 0)


# --- parallel: committed entries, walked by worker processes on the exported snapshot ---


@pytest.fixture
async def committed_chain(committed_runtime: Runtime) -> tuple[Runtime, list[int]]:
    async with committed_runtime.db.sessionmaker() as session, session.begin():
        ids = await _append(session, 60)
    return committed_runtime, ids


async def _walks(runtime: Runtime, **kwargs: object) -> list[ChainWalk]:
    results = []
    for parallel in (1, 2, 3):
        async with runtime.db.sessionmaker() as session, session.begin():
            walk = walk_chain(session, parallel=parallel, min_segment=7, batch_size=4, **kwargs)  # type: ignore[arg-type]
            results.append(await walk)
    return results


async def _tamper(runtime: Runtime, statement: str, **params: object) -> None:
    async with runtime.db.sessionmaker() as session, session.begin():
        await _as_superuser(session, statement, **params)


async def test_parallel_walks_agree_on_an_intact_chain(
    committed_chain: tuple[Runtime, list[int]],
) -> None:
    runtime, ids = committed_chain
    one, *others = await _walks(runtime, anchor_ids=ids[::5])
    assert one.ok
    assert one.count >= 60
    assert len(one.hashes_at) == 12
    assert all(other == one for other in others)


@pytest.mark.parametrize(
    ("tampering", "where"),
    [(t, w) for t in ("edit", "delete") for w in ("first", "boundary", "inside")]
    + [("edit", "last")],
)
async def test_parallel_walks_name_the_same_broken_entry(
    committed_chain: tuple[Runtime, list[int]], tampering: str, where: str
) -> None:
    runtime, ids = committed_chain
    async with runtime.db.sessionmaker() as session:
        held = [int(i) for i in await session.scalars(text("SELECT id FROM audit_log ORDER BY id"))]
    # parallel=2 cuts the range in two: the entry just after the cut starts a segment, where
    # only the stitching of segments can see that its link is broken.
    lo, hi = held[0], held[-1]
    cut = lo - 1 + (hi - lo + 1) // 2 + 1
    target = {"first": lo, "boundary": cut, "inside": ids[30], "last": hi}[where]
    if tampering == "edit":
        statement, expected = "UPDATE audit_log SET actor_id = 'forged' WHERE id = :id", target
        reason = CONTENT_CHANGED
    else:
        statement, reason = "DELETE FROM audit_log WHERE id = :id", LINK_BROKEN
        expected = held[held.index(target) + 1]
    await _tamper(runtime, statement, id=target)
    one, *others = await _walks(runtime, anchor_ids=ids[::5])
    assert (one.first_bad_id, one.reason) == (expected, reason)
    assert one.entries_checked == held.index(target)
    assert all(other == one for other in others)


async def test_a_session_with_its_own_entries_sees_them(
    committed_chain: tuple[Runtime, list[int]],
) -> None:
    runtime, _ = committed_chain
    async with runtime.db.sessionmaker() as session, session.begin():
        await _append(session, 3)  # uncommitted: only this connection sees them
        held = await audit.count_entries(session)
        walk = await walk_chain(session, parallel=2, min_segment=7)
        assert walk.ok
        assert walk.count == held
        await session.rollback()
