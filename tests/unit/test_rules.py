from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from hypothesis import given
from hypothesis import strategies as st

from pd_prime_demo.api.http_conditions import etag_for, expected_version
from pd_prime_demo.audit.rules import GENESIS_HASH, ChainFields, HashedForm, entry_hash
from pd_prime_demo.core import pagination
from pd_prime_demo.core.actor import Actor, Permission, Role
from pd_prime_demo.core.result_types import Err, ErrorKind, Ok
from pd_prime_demo.customers import rules
from pd_prime_demo.identity.rules import password_problems, permissions_for

ssn_digits = st.tuples(
    st.integers(1, 899).filter(lambda a: a != 666), st.integers(1, 99), st.integers(1, 9999)
)


@given(ssn_digits)
def test_valid_ssns_normalise_and_mask_to_last_four(parts: tuple[int, int, int]) -> None:
    area, group, serial = parts
    raw = f"{area:03d}{group:02d}{serial:04d}"
    normalised = rules.normalise_ssn(raw)
    assert normalised == f"{area:03d}-{group:02d}-{serial:04d}"
    assert rules.normalise_ssn(normalised) == normalised
    masked = rules.mask_ssn(normalised)
    assert masked.endswith(raw[-4:])
    assert raw[:5] not in masked


def test_never_issued_ssns_are_rejected() -> None:
    for bad in ("000-12-3456", "666-12-3456", "900-12-3456", "123-00-4567", "123-45-0000", "12"):
        assert rules.normalise_ssn(bad) is None


@given(st.text(min_size=1, max_size=20))
def test_licence_mask_keeps_length_and_hides_all_but_four(number: str) -> None:
    masked = rules.mask_licence(number)
    assert len(masked) == len(number)
    assert masked.count("*") >= max(0, len(number) - 4)


def _actor(role: Role, user_id: uuid.UUID | None = None) -> Actor:
    return Actor.user(user_id or uuid.uuid4(), role, permissions_for(role))


def test_visibility_by_role() -> None:
    me, agent = uuid.uuid4(), uuid.uuid4()
    record = {"owner_user_id": me, "agent_id": agent}
    assert rules.can_see(_actor(Role.CUSTOMER, me), **record)
    assert not rules.can_see(_actor(Role.CUSTOMER), **record)
    assert rules.can_see(_actor(Role.AGENT, agent), **record)
    assert not rules.can_see(_actor(Role.AGENT), **record)
    assert not rules.can_see(_actor(Role.AGENT), owner_user_id=None, agent_id=None)
    for staff in (Role.UNDERWRITER, Role.ADJUSTER, Role.ADMIN):
        assert rules.can_see(_actor(staff), **record)
    assert rules.can_see(Actor.system("job"), **record)


def test_only_pii_roles_read_pii() -> None:
    holders = {r for r in Role if Permission.PII_READ in permissions_for(r)}
    assert holders == {Role.UNDERWRITER, Role.ADMIN}


def test_password_policy() -> None:
    assert password_problems("correct horse battery", email="a@b.c") == []
    assert password_problems("short", email="a@b.c")
    assert password_problems("aaaaaaaaaaaaaaaa", email="a@b.c")
    assert password_problems("mary.jones-secret!", email="mary.jones@example.com")
    assert password_problems("x" * 300, email="a@b.c")


def _fields(**overrides: object) -> ChainFields:
    values: dict[str, object] = {
        "occurred_at": datetime(2026, 1, 1, tzinfo=UTC),
        "actor_kind": "user",
        "actor_id": "u1",
        "actor_role": "admin",
        "action": "customer.created",
        "resource_type": "customer",
        "resource_id": "c1",
        "request_id": "r1",
        "changes": {"fields": ["email"]},
    }
    values.update(overrides)
    return ChainFields(**values)  # type: ignore[arg-type]


@given(
    st.sampled_from(["actor_id", "action", "resource_id", "request_id"]),
    st.text(min_size=1, max_size=20),
)
def test_any_change_changes_the_hash(field: str, value: str) -> None:
    base = _fields()
    changed = _fields(**{field: getattr(base, field) + value})
    assert entry_hash(GENESIS_HASH, base) != entry_hash(GENESIS_HASH, changed)
    assert entry_hash(GENESIS_HASH, base) != entry_hash("1" * 64, base)
    assert entry_hash(GENESIS_HASH, base) == entry_hash(GENESIS_HASH, _fields())


json_leaves = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
json_values = st.recursive(
    json_leaves,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=8,
)


@given(
    changes=st.dictionaries(
        st.sampled_from(["prev_hash", "hash", "a", "z", "é", '"', 'prev_hash"}']) | st.text(),
        json_values,
        max_size=4,
    ),
    text=st.text(max_size=12),
    role=st.none() | st.sampled_from(["admin", "agent"]),
    prev=st.sampled_from([GENESIS_HASH, "f" * 64, "0123abcd" * 8]),
)
def test_the_hashed_form_cut_at_the_previous_hash_gives_the_same_hash(
    changes: dict[str, object], text: str, role: str | None, prev: str
) -> None:
    """The database chains entries from this form (migration 0005); verification uses
    entry_hash. Both must agree for any content, or a chain written today fails to verify."""
    fields = _fields(changes=changes, actor_id=text, request_id=text or None, actor_role=role)
    assert HashedForm.of(fields).hash_after(prev) == entry_hash(prev, fields)


def test_cursor_round_trip_and_garbage() -> None:
    key = [datetime(2026, 5, 1, 12, tzinfo=UTC), uuid.uuid4()]
    kinds = [datetime, uuid.UUID]
    assert pagination.decode(pagination.encode(key), kinds) == key
    assert pagination.decode(pagination.encode([3, date(2026, 1, 2)]), [int, date]) == [
        3,
        date(2026, 1, 2),
    ]
    assert pagination.decode("!!!", kinds) is None
    assert pagination.decode("e30", kinds) is None
    assert pagination.decode(pagination.encode(key[:1]), kinds) is None, "too few values"
    naive = pagination.encode([datetime(2026, 5, 1, 12), uuid.uuid4()])
    assert pagination.decode(naive, kinds) is None


def test_if_match_parsing() -> None:
    assert expected_version(etag_for(7)) == Ok(7)
    assert expected_version('"x", "3"') == Ok(3)
    assert expected_version("*") == Ok(None)
    missing = expected_version(None)
    assert isinstance(missing, Err)
    assert missing.error.kind is ErrorKind.PRECONDITION_REQUIRED
    weak = expected_version('W/"3"')
    assert isinstance(weak, Err)
    assert weak.error.kind is ErrorKind.PRECONDITION_FAILED
