"""The privacy API's request and response models."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from pd_prime_demo.privacy.enums import Channel, Purpose, Regime, RequestKind, RequestStatus, Source

_IN = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)
_OUT = ConfigDict(frozen=True, from_attributes=True)


class ConsentChange(BaseModel):
    """Grant or withdraw one purpose (Art. 7(3): withdrawing is as easy as granting)."""

    purpose: Purpose
    granted: bool
    # The notice the person read; the latest published one when omitted.
    notice_version: str | None = Field(default=None, min_length=1, max_length=32)

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        json_schema_extra={"example": {"purpose": "marketing_email", "granted": False}},
    )


class ConsentRecordRead(BaseModel):
    id: uuid.UUID
    customer_id: uuid.UUID
    purpose: Purpose
    granted: bool
    notice_version: str | None
    source: Source
    actor_kind: str
    actor_id: str
    request_id: uuid.UUID | None
    recorded_at: datetime

    model_config = _OUT


class ConsentPurposeRead(BaseModel):
    purpose: Purpose
    granted: bool
    # When and under which notice the current state was recorded (null: never asked).
    recorded_at: datetime | None
    notice_version: str | None
    source: Source | None

    model_config = _OUT


class ConsentStateRead(BaseModel):
    customer_id: uuid.UUID
    purposes: list[ConsentPurposeRead]

    model_config = _OUT


class ConsentRecordPage(BaseModel):
    items: list[ConsentRecordRead]
    next_cursor: str | None

    model_config = _OUT


class NoticePublish(BaseModel):
    version: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._-]+$")
    text: str = Field(min_length=1, max_length=200_000)
    url: str = Field(min_length=1, max_length=500)

    model_config = _IN


class RequestCreate(BaseModel):
    """A data subject request, by the person for themself (no ``customer_id``) or taken by
    staff for a customer (``customer_id``)."""

    kind: RequestKind
    regime: Regime
    customer_id: uuid.UUID | None = None
    # Rectification: the corrections asked for (Art. 16), applied when the request is fulfilled.
    corrections: dict[str, Any] | None = Field(
        default=None,
        description="For a rectification: the fields to correct, as in PATCH /api/v1/customers/"
        '{customer_id} (CustomerUpdate), e.g. {"last_name": "Gonzalez-Ruiz"}.',
    )

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        json_schema_extra={"example": {"kind": "access", "regime": "gdpr"}},
    )


class IntakeCreate(BaseModel):
    """The public form: whoever sends it gets the same answer, known address or not."""

    email: EmailStr
    kind: RequestKind
    regime: Regime

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "example": {"email": "maria@example.com", "kind": "access", "regime": "ccpa"}
        },
    )


class IntakeAccepted(BaseModel):
    detail: str

    model_config = _OUT


class VerificationSubmit(BaseModel):
    request_id: uuid.UUID
    code: str = Field(min_length=6, max_length=6, pattern=r"^[0-9]{6}$")

    model_config = _IN


class ReasonBody(BaseModel):
    reason: str = Field(min_length=3, max_length=2000)

    model_config = _IN


class RequestRead(BaseModel):
    id: uuid.UUID
    customer_id: uuid.UUID
    kind: RequestKind
    regime: Regime
    status: RequestStatus
    channel: Channel
    received_at: datetime
    due_on: date
    extended_due_on: date | None
    extension_reason: str | None
    verified_at: datetime | None
    closed_at: datetime | None
    rejection_reason: str | None
    outcome: dict[str, Any] | None
    lifted_at: datetime | None

    model_config = _OUT


class RequestPage(BaseModel):
    items: list[RequestRead]
    next_cursor: str | None

    model_config = _OUT


class RequestEventRead(BaseModel):
    from_status: RequestStatus | None
    to_status: RequestStatus
    actor_kind: str
    actor_id: str
    note: str | None
    occurred_at: datetime

    model_config = _OUT
