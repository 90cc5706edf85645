"""``Idempotency-Key`` for create endpoints (draft-ietf-httpapi-idempotency-key-header)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Header, Request
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.api.response_patterns import fail
from pd_prime_demo.core import idempotency
from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.crypto import FieldCipher
from pd_prime_demo.core.result_types import DomainError, ErrorKind

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="Retry-safe creation: the same key and body replay the first outcome.",
    ),
]

KEY_REUSED = DomainError(
    ErrorKind.INVALID,
    "idempotency.key_reused",
    "this Idempotency-Key was used with a different request",
)


@dataclass(frozen=True, slots=True)
class IdempotentCreate:
    """One create request's idempotency state: look up a previous outcome, then remember."""

    key: str | None
    principal: str
    path: str
    request_hash: str

    @classmethod
    def of(
        cls, request: Request, body: BaseModel, key: str | None, actor: Actor, cipher: FieldCipher
    ) -> IdempotentCreate:
        # Keyed hash of the validated body: comparable, without storing (or exposing) its PII.
        digest = cipher.fingerprint(body.model_dump_json().encode()) if key is not None else ""
        return cls(key, actor.id, request.url.path, digest)

    async def previous(self, session: AsyncSession) -> str | None:
        """The id created by the first request with this key, if any; 422 if bodies differ."""
        if self.key is None:
            return None
        record = await idempotency.lock_and_find(session, self.principal, self.key)
        if record is None:
            return None
        if record.request_hash != self.request_hash or record.path != self.path:
            fail(KEY_REUSED)
        return record.resource_id

    def remember(self, session: AsyncSession, resource_id: str, status_code: int = 201) -> None:
        if self.key is not None:
            idempotency.remember(
                session,
                principal=self.principal,
                key=self.key,
                method="POST",
                path=self.path,
                request_hash=self.request_hash,
                status_code=status_code,
                resource_id=resource_id,
            )
