"""Event stream API models."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

EVENT_EXAMPLE: dict[str, Any] = {
    "id": 1042,
    "type": "policy.endorsement",
    "occurred_at": "2026-03-02T14:05:09.118Z",
    "aggregate_type": "policy",
    "aggregate_id": "0b4f7c1e-2f7d-4d55-9a59-6f3e2c1b9a10",
    "data": {
        "number": "PA-TX-2026-000042",
        "seq": 2,
        "effective_on": "2026-03-15",
        "premium_change": "38.00",
        "reason_code": None,
    },
}


class EventRead(BaseModel):
    """One published event: ``id`` is its position in the stream (gap free, commit order)."""

    model_config = ConfigDict(frozen=True, json_schema_extra={"example": EVENT_EXAMPLE})

    id: int = Field(description="The position: resume after it with `after=`.")
    type: str = Field(description="The event type (see /api/v1/events/types).")
    occurred_at: datetime = Field(description="When the change happened (committed with it).")
    aggregate_type: str = Field(description="What changed: quote, policy, document, ...")
    aggregate_id: str
    data: dict[str, Any] = Field(description="The type's payload: ids and states, never PII.")


class EventPage(BaseModel):
    model_config = ConfigDict(frozen=True)

    items: list[EventRead]
    next_cursor: int = Field(
        description="Pass as `after` for the next page. Always given: the last position on a "
        "full page, else the head of the stream when it was read.",
    )


class EventTypeRead(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str = Field(examples=["policy.endorsement"])
    family: str = Field(description="Filter a whole family with `type=policy.*`.")
    summary: str
    aggregate_type: str
    visibility: Literal["customer", "staff", "admin"] = Field(
        description="customer: the customer's logins, its agent and company-wide staff read it; "
        "staff: company-wide staff and system actors only; admin: administrators, and the user "
        "the payload's `owner_id` names (with that user's API clients)."
    )
    payload_schema: dict[str, Any] = Field(description="JSON Schema of the event's `data`.")


class EventTypeList(BaseModel):
    model_config = ConfigDict(frozen=True)

    items: list[EventTypeRead]
