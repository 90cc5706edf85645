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


def entry_hash(prev_hash: str, fields: ChainFields) -> str:
    """SHA-256 over the previous hash and a canonical JSON of the entry's content."""
    canonical = json.dumps(
        {
            "prev_hash": prev_hash,
            "occurred_at": fields.occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
            "actor_kind": fields.actor_kind,
            "actor_id": fields.actor_id,
            "actor_role": fields.actor_role,
            "action": fields.action,
            "resource_type": fields.resource_type,
            "resource_id": fields.resource_id,
            "request_id": fields.request_id,
            "changes": fields.changes,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()
