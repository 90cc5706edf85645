"""The audit chain's hashing rule, kept pure so that verification and writing share it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS_HASH = "0" * 64


@dataclass(frozen=True, slots=True)
class ChainFields:
    occurred_at: datetime
    actor_kind: str
    actor_id: str
    actor_role: str | None
    action: str
    resource_type: str
    resource_id: str
    request_id: str | None
    changes: dict[str, Any]


def _content(fields: ChainFields) -> dict[str, Any]:
    return {
        "occurred_at": fields.occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor_kind": fields.actor_kind,
        "actor_id": fields.actor_id,
        "actor_role": fields.actor_role,
        "action": fields.action,
        "resource_type": fields.resource_type,
        "resource_id": fields.resource_id,
        "request_id": fields.request_id,
        "changes": fields.changes,
    }


def _canonical(document: dict[str, Any]) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def entry_hash(prev_hash: str, fields: ChainFields) -> str:
    """SHA-256 over the previous hash and a canonical JSON of the entry's content."""
    canonical = _canonical({"prev_hash": prev_hash, **_content(fields)})
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


@dataclass(frozen=True, slots=True)
class HashedForm:
    """The canonical JSON of :func:`entry_hash` cut where the previous hash goes.

    ``head + prev_hash + tail`` is that JSON for any ``prev_hash``, so the database can chain
    an entry as it appends it (migration 0005) without knowing the canonical form.
    """

    head: str
    tail: str

    @classmethod
    def of(cls, fields: ChainFields) -> HashedForm:
        # Sorted keys put "prev_hash" after "occurred_at" and before "request_id": the content
        # splits into the keys before it and those after, each side rendered the same way.
        content = _content(fields)
        before = {k: v for k, v in content.items() if k < "prev_hash"}
        after = {k: v for k, v in content.items() if k > "prev_hash"}
        return cls(
            head=_canonical(before)[:-1] + ',"prev_hash":"',
            tail='",' + _canonical(after)[1:],
        )

    def hash_after(self, prev_hash: str) -> str:
        return hashlib.sha256((self.head + prev_hash + self.tail).encode("ascii")).hexdigest()
