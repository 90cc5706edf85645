"""Product versions: a state filing's whole configuration, immutable once approved."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import CheckConstraint, Enum, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pd_prime_demo.core.database import Base
from pd_prime_demo.core.personal_data import not_personal


class ProductVersionStatus(enum.StrEnum):
    """A version's place in its lifecycle: draft -> approved -> active -> retired."""

    DRAFT = "draft"
    APPROVED = "approved"
    ACTIVE = "active"
    RETIRED = "retired"


_STATUSES = ", ".join(f"'{s.value}'" for s in ProductVersionStatus)


class ProductVersion(Base):
    __tablename__ = "product_versions"
    __table_args__ = (
        UniqueConstraint("product_code", "state", "version", name="uq_product_versions_identity"),
        CheckConstraint(f"status IN ({_STATUSES})", name="status_known"),
        Index("ix_product_versions_lookup", "product_code", "state", "status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    product_code: Mapped[str] = mapped_column(String(50))
    product_name: Mapped[str] = mapped_column(
        String(200), info=not_personal("a product's marketed name")
    )
    line_of_business: Mapped[str] = mapped_column(String(50))
    state: Mapped[str] = mapped_column(String(2))
    version: Mapped[str] = mapped_column(String(30))
    status: Mapped[ProductVersionStatus] = mapped_column(
        # Text with a check constraint (migration 0002), not a PostgreSQL enum type.
        Enum(
            ProductVersionStatus,
            native_enum=False,
            create_constraint=False,
            length=16,
            values_callable=lambda statuses: [s.value for s in statuses],
        )
    )
    effective_new_business: Mapped[date]
    effective_renewal: Mapped[date]
    definition: Mapped[dict[str, Any]] = mapped_column(
        info=not_personal("a product's rules, rates and forms")
    )
    content_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(100))
    approved_at: Mapped[datetime | None]
    approved_by: Mapped[str | None] = mapped_column(String(100))
    activated_at: Mapped[datetime | None]
    retired_at: Mapped[datetime | None]
