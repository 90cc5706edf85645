"""The result of each integrity check's last run, for the metrics every process exports; the
record of backups, restore verifications and scrapes the A1.2 and CC7.2 controls read."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from pd_prime_demo.core.database import Base
from pd_prime_demo.core.personal_data import not_personal


class IntegrityCheck(Base):
    """One row per check (``audit_chain``, ``ledger``), overwritten by each run: the history
    of runs is in the logs and, for failures, in the alert that fired."""

    __tablename__ = "integrity_checks"

    check: Mapped[str] = mapped_column(String(40), primary_key=True)
    ok: Mapped[bool] = mapped_column(Boolean)
    detail: Mapped[str] = mapped_column(Text)
    checked_at: Mapped[datetime]
    duration_ms: Mapped[int]


BACKUP_RUN_KINDS = ("backup", "restore_verification")


class BackupRun(Base):
    """Each ``pd-prime backup`` and each ``pd-prime restore`` check, append-only (AICPA TSC
    A1.2: backups taken and restores tested; an auditor samples these rows).

    The row is always written to the LIVE platform database, the one the controls examine,
    never to a restored copy: a copy is a scratch database thrown away after its check.
    """

    __tablename__ = "backup_runs"
    __table_args__ = (
        CheckConstraint(
            "kind IN (" + ", ".join(f"'{k}'" for k in BACKUP_RUN_KINDS) + ")", name="kind_known"
        ),
        # The control asks for the latest successful run of each kind.
        Index("ix_backup_runs_kind_finished_at", "kind", "finished_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(24))
    finished_at: Mapped[datetime]
    ok: Mapped[bool]
    # The dump's file name (not its directory) and the SHA-256 its manifest holds.
    file: Mapped[str] = mapped_column(String(300), info=not_personal("a dump's file name"))
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    # When the backup was taken (for a restore check: of the backup it restored).
    backup_created_at: Mapped[datetime]
    migration_revision: Mapped[str | None] = mapped_column(String(32))
    audit_entries: Mapped[int] = mapped_column(BigInteger)
    # The checks' findings, one per line (figures and ids only, never a personal value).
    detail: Mapped[str] = mapped_column(Text)


class MetricsScrape(Base):
    """When ``/metrics`` last answered a scraper (CC7.2: monitoring is operating). One row per
    endpoint, overwritten at most once a minute (operations.metrics_router)."""

    __tablename__ = "metrics_scrapes"

    endpoint: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_scraped_at: Mapped[datetime]
