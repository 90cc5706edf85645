"""Audit API models."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class AuditEntryRead(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)

    id: int
    occurred_at: datetime
    actor_kind: str
    actor_id: str
    actor_role: str | None
    action: str
    resource_type: str
    resource_id: str
    request_id: str | None
    changes: dict[str, Any]
    prev_hash: str
    hash: str


class AuditPage(BaseModel):
    model_config = ConfigDict(frozen=True)
    items: list[AuditEntryRead]
    next_cursor: str | None


class ChainVerification(BaseModel):
    model_config = ConfigDict(frozen=True)
    ok: bool
    entries_checked: int
    first_bad_id: int | None
    reason: str | None
    checkpoints_checked: int = Field(
        0, description="Signed checkpoints whose signature and link to the one before verified."
    )
    latest_checkpoint: int | None = Field(None, description="The newest of them (sequence).")
    entries_after_checkpoint: int | None = Field(
        None,
        description="Entries appended since the newest checkpoint: verified as a chain only.",
    )
    missing_from_id: int | None = Field(
        None, description="First id of entries a checkpoint recorded that are gone."
    )
    missing_through_id: int | None = None
    missing_count: int | None = None
    rewritten_after_id: int | None = Field(
        None, description="A rewrite with recomputed hashes lies after this id..."
    )
    rewritten_through_id: int | None = Field(None, description="...and at or before this one.")
    checkpoint_problem: str | None = Field(
        None, description="A checkpoint file missing, altered or signed by an unknown key."
    )
    warning: str | None = None
    mode: str = Field(
        "full",
        description=(
            "`incremental`: only entries after the last verified head were walked (the entries "
            "before it were checked by count, head hash and anchors); `full`: all of them."
        ),
        examples=["incremental"],
    )
    entries_walked: int | None = Field(
        None, description="Entries whose hash this run recomputed (read from the database)."
    )
    walked_after_id: int | None = Field(
        None, description="The walk started after this id (the last verified head, or 0)."
    )
    previously_verified_at: datetime | None = Field(
        None, description="When the verification this run continued from finished."
    )
    marker_problem: str | None = Field(
        None,
        description=(
            "The signed verified marker does not verify (edited, or signed by an unknown key): "
            "the run walked everything, and is not ok."
        ),
    )


class CheckpointAnchorRead(BaseModel):
    model_config = ConfigDict(frozen=True)
    id: int
    hash: str
    n: int = Field(description="The entry's position in the chain (1: its first entry ever).")


class CheckpointRead(BaseModel):
    model_config = ConfigDict(frozen=True)
    sequence: int
    kind: str = Field(examples=["periodic"])
    created_at: datetime
    head: CheckpointAnchorRead
    entries: int
    anchors: int = Field(description="How many anchors it records.")
    purged_through_id: int | None
    purged_count: int | None
    key_id: str


class CheckpointPage(BaseModel):
    model_config = ConfigDict(frozen=True)
    items: list[CheckpointRead]
    next_cursor: str | None = Field(
        None, description="Pass as `cursor` for older checkpoints (a sequence number)."
    )
    problem: str | None = Field(
        None, description="Why the listing stops early: a checkpoint that does not verify."
    )
