"""The walk's canonicaliser (audit.walk_segment.canonical_hash) must give every entry the very
hash audit.rules.entry_hash gives it: one byte apart and every existing chain would stop
verifying."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from pd_prime_demo.audit.rules import ChainFields, entry_hash
from pd_prime_demo.audit.walk_segment import canonical_hash

# What JSONB gives back: no NaN/infinity, str keys, any unicode (escaped by ensure_ascii).
json_values: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)

moments = st.datetimes(
    min_value=datetime(1970, 1, 1),
    max_value=datetime(2200, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=9))]),
)


@given(
    prev=st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
    occurred_at=moments,
    actor_kind=st.text(max_size=16),
    actor_id=st.text(max_size=100),
    actor_role=st.none() | st.text(max_size=32),
    action=st.text(max_size=100),
    resource_type=st.text(max_size=50),
    resource_id=st.text(max_size=100),
    request_id=st.none() | st.text(max_size=100),
    changes=st.dictionaries(st.text(), json_values, max_size=6),
)
def test_canonical_hash_is_entry_hash(
    prev: str,
    occurred_at: datetime,
    actor_kind: str,
    actor_id: str,
    actor_role: str | None,
    action: str,
    resource_type: str,
    resource_id: str,
    request_id: str | None,
    changes: dict[str, Any],
) -> None:
    fields = ChainFields(
        occurred_at, actor_kind, actor_id, actor_role, action, resource_type, resource_id,
        request_id, changes,
    )  # fmt: skip
    assert canonical_hash(
        prev, occurred_at, actor_kind, actor_id, actor_role, action, resource_type,
        resource_id, request_id, changes,
    ) == entry_hash(prev, fields)  # fmt: skip


def test_a_changed_field_changes_the_hash() -> None:
    at = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    base = ("0" * 64, at, "user", "u1", "admin", "policy.bound", "policy", "p1", None, {"a": 1})
    assert canonical_hash(*base) != canonical_hash(*base[:7], "p2", *base[8:])
    assert canonical_hash(*base) != canonical_hash(*base[:9], {"a": 2})
