"""Compliance API models: controls with their latest result, runs and their evidence."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from pd_prime_demo.compliance.control import Frequency


class EvidenceItem(BaseModel):
    """One artefact of a run, as its manifest describes it."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str = Field(examples=["routes.json"])
    media_type: str = Field(examples=["application/json"])
    size: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class ControlRunRead(BaseModel):
    """One run of a control: its verdict, the period its evidence describes, and its place in
    the run chain."""

    model_config = ConfigDict(frozen=True, from_attributes=True)
    id: int
    control_id: str = Field(examples=["CC6.1-logical-access"])
    criteria: list[str] = Field(examples=[["CC6.1"]])
    frequency: Frequency
    started_at: datetime
    finished_at: datetime
    covers_from: datetime
    covers_to: datetime
    passed: bool
    reason: str = Field(examples=["every one of 212 routes requires authentication"])
    figures: dict[str, Any]
    evidence: list[EvidenceItem]
    prev_hash: str
    hash: str


class ControlRunPage(BaseModel):
    model_config = ConfigDict(frozen=True)
    items: list[ControlRunRead]
    next_cursor: str | None


class ControlRead(BaseModel):
    """A control of the catalogue and its latest run (None: it has not run yet)."""

    model_config = ConfigDict(frozen=True)
    id: str = Field(examples=["CC6.1-logical-access"])
    criteria: list[str]
    title: str
    description: str
    frequency: Frequency
    latest_run: ControlRunRead | None
