"""Opaque keyset cursors: stable under concurrent inserts, unlike OFFSET paging."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Cursor:
    created_at: datetime
    id: uuid.UUID

    def encode(self) -> str:
        raw = json.dumps([self.created_at.isoformat(), str(self.id)]).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor | None:
        """The cursor, or None when the token was not made by :meth:`encode`."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            created, ident = json.loads(raw)
            moment = datetime.fromisoformat(created)
            if moment.tzinfo is None:
                return None
            return cls(moment, uuid.UUID(ident))
        except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
            return None
