"""The compliance domain's tables: each run of a control and the evidence it produced.

Both are append-only (triggers in migration 0023 refuse UPDATE, DELETE and TRUNCATE) and the
runs are hash-chained like the audit log, so an auditor can rely on them as a record of how the
controls operated over a period (AICPA TSC CC4.1: monitoring activities, evidenced).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Identity,
    Index,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from pd_prime_demo.core.database import Base
from pd_prime_demo.core.personal_data import not_personal


class ControlRun(Base):
    """One occurrence of a control: its verdict on the period its evidence describes."""

    __tablename__ = "control_runs"
    __table_args__ = (
        CheckConstraint("covers_from <= covers_to", name="covers_ordered"),
        CheckConstraint("started_at <= finished_at", name="run_ordered"),
        # Due-ness reads each control's latest run; the API lists one control's runs.
        Index("ix_control_runs_control_started", "control_id", "started_at"),
        # The auditor's export selects the runs that started within its period.
        Index("ix_control_runs_started_at", "started_at"),
    )

    # The identity is the chain's order (as audit_log's): verification walks it.
    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    control_id: Mapped[str] = mapped_column(String(80), info=not_personal("a control's id"))
    criteria: Mapped[list[str]] = mapped_column(
        # Trust Services Criteria ids ("CC6.1"), as the catalogue gave them at the run.
        JSONB,
        info=not_personal("criteria ids"),
    )
    frequency: Mapped[str] = mapped_column(String(16), info=not_personal("a frequency"))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]
    covers_from: Mapped[datetime]
    covers_to: Mapped[datetime]
    passed: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(
        # Written by the control's code from ids and counts; controls never put PII here.
        Text,
        info=not_personal("a control's verdict in words, from ids and counts"),
    )
    figures: Mapped[dict[str, Any]] = mapped_column(info=not_personal("counts and ids"))
    # [{name, media_type, size, sha256}] of the run's evidence, in the order produced.
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, info=not_personal("the evidence manifest: names, sizes, hashes")
    )
    prev_hash: Mapped[str] = mapped_column(String(64), info=not_personal("a hash"))
    hash: Mapped[str] = mapped_column(String(64), unique=True, info=not_personal("a hash"))


class ControlEvidence(Base):
    """One artefact of a run. The database checks that ``sha256`` and ``size`` describe
    ``content``; verification checks that the run's manifest describes these rows."""

    __tablename__ = "control_evidence"
    __table_args__ = (
        CheckConstraint("sha256 = encode(sha256(content), 'hex')", name="sha256_of_content"),
        CheckConstraint("size = octet_length(content)", name="size_of_content"),
    )

    run_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("control_runs.id"), primary_key=True)
    name: Mapped[str] = mapped_column(
        String(120), primary_key=True, info=not_personal("a file name")
    )
    media_type: Mapped[str] = mapped_column(String(100), info=not_personal("a media type"))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64), info=not_personal("a hash"))
    content: Mapped[bytes] = mapped_column(
        # Controls' evidence is made of ids, counts and configuration, not personal data.
        LargeBinary,
        info=not_personal("a control's evidence: ids, counts, configuration"),
    )
