"""Live updates API models."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class TicketRead(BaseModel):
    model_config = ConfigDict(frozen=True)

    ticket: str = Field(description="Pass as `?ticket=` when opening the WebSocket; once.")
    expires_at: datetime = Field(description="Unused by then, it is void (30 seconds).")
    url: str = Field(
        description="The WebSocket's path; add `ticket`, and `last_event_id` to resume.",
        examples=["/api/v1/realtime/ws"],
    )
