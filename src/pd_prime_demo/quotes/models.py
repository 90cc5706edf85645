"""Quotes: a customer's risk, one or more coverage packages, their rating and underwriting."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Identity, Index, Numeric, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from pd_prime_demo.core.database import Base
from pd_prime_demo.core.personal_data import Category, not_personal, personal
from pd_prime_demo.quotes.enums import QuoteStatus


class Quote(Base):
    __tablename__ = "quotes"
    __table_args__ = (
        CheckConstraint(
            "status IN (" + ", ".join(f"'{s.value}'" for s in QuoteStatus) + ")",
            name="status_known",
        ),
        Index("ix_quotes_customer_id", "customer_id"),
        Index("ix_quotes_referred", "created_at", postgresql_where="status = 'referred'"),
        Index("ix_quotes_created_at_id", "created_at", "id"),
        # Quote expiry: the open quotes by the day their validity ends (migration 0029).
        Index(
            "ix_quotes_open_expires_on",
            "expires_on",
            "id",
            postgresql_where="status IN ('approved', 'draft', 'quoted', 'referred')",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    number: Mapped[int] = mapped_column(Identity(start=100001), unique=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id"))
    created_by: Mapped[str] = mapped_column(String(100))
    product_code: Mapped[str] = mapped_column(String(50))
    state: Mapped[str] = mapped_column(String(2))
    effective_on: Mapped[date]
    expires_on: Mapped[date]
    status: Mapped[str] = mapped_column(String(16))
    product_version_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("product_versions.id"))
    # The filed version's label, recorded with its id so a quote reads without a join.
    rate_version: Mapped[str | None] = mapped_column(String(30))
    risk: Mapped[dict[str, Any]] = mapped_column(
        info=personal(
            Category.IDENTITY,
            Category.VEHICLE,
            Category.PROPERTY,
            subject="driver",
            note="drivers' ages, licensing and records; vehicles (VIN); the insured location",
        )
    )
    options: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, info=not_personal("the coverages, limits and deductibles quoted")
    )
    rating: Mapped[list[dict[str, Any]] | None] = mapped_column(
        JSONB, info=not_personal("the rating worksheet: factors and premiums")
    )
    premium: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    underwriting: Mapped[dict[str, Any]] = mapped_column(
        info=not_personal("underwriting rule outcomes: codes, referrals, authority")
    )
    required_authority: Mapped[int | None]
    surcharge: Mapped[Decimal | None] = mapped_column(Numeric(6, 4))
    decision_note: Mapped[str | None] = mapped_column(
        Text,
        info=personal(Category.FREE_TEXT, note="staff's free-text reason: may mention the person"),
    )
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
