"""The result of each integrity check's last run, for the metrics every process exports."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from pd_prime_demo.core.database import Base


class IntegrityCheck(Base):
    """One row per check (``audit_chain``, ``ledger``), overwritten by each run: the history
    of runs is in the logs and, for failures, in the alert that fired."""

    __tablename__ = "integrity_checks"

    check: Mapped[str] = mapped_column(String(40), primary_key=True)
    ok: Mapped[bool] = mapped_column(Boolean)
    detail: Mapped[str] = mapped_column(Text)
    checked_at: Mapped[datetime]
    duration_ms: Mapped[int]
