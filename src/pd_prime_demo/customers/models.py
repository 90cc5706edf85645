"""Customers: persons and organisations. PII columns hold AES-GCM envelopes, never plaintext."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from pd_prime_demo.core.database import Base
from pd_prime_demo.core.personal_data import Category, personal
from pd_prime_demo.customers.enums import CustomerKind

_PERSON, _ORGANISATION = CustomerKind.PERSON.value, CustomerKind.ORGANISATION.value


class Customer(Base):
    __tablename__ = "customers"
    __table_args__ = (
        CheckConstraint(f"kind IN ('{_PERSON}', '{_ORGANISATION}')", name="kind_known"),
        CheckConstraint(
            f"(kind = '{_PERSON}' AND first_name IS NOT NULL AND last_name IS NOT NULL)"
            f" OR (kind = '{_ORGANISATION}' AND organisation_name IS NOT NULL)",
            name="name_matches_kind",
        ),
        Index("ix_customers_created_at_id", "created_at", "id"),
        Index("ix_customers_email_lower", text("lower(email)")),
        Index("ix_customers_agent_id", "agent_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(16))  # a CustomerKind
    first_name: Mapped[str | None] = mapped_column(String(100), info=personal(Category.IDENTITY))
    last_name: Mapped[str | None] = mapped_column(String(100), info=personal(Category.IDENTITY))
    organisation_name: Mapped[str | None] = mapped_column(
        String(200),
        info=personal(Category.IDENTITY, note="an organisation's name: personal for a sole trader"),
    )
    display_name: Mapped[str] = mapped_column(String(220), info=personal(Category.IDENTITY))
    email: Mapped[str] = mapped_column(String(320), info=personal(Category.CONTACT))
    phone: Mapped[str | None] = mapped_column(String(32), info=personal(Category.CONTACT))
    address_line1: Mapped[str] = mapped_column(
        String(200), info=personal(Category.CONTACT, Category.PROPERTY)
    )
    address_line2: Mapped[str | None] = mapped_column(
        String(200), info=personal(Category.CONTACT, Category.PROPERTY)
    )
    city: Mapped[str] = mapped_column(
        String(100), info=personal(Category.CONTACT, Category.PROPERTY)
    )
    state: Mapped[str] = mapped_column(
        String(2), info=personal(Category.CONTACT, Category.PROPERTY)
    )
    postal_code: Mapped[str] = mapped_column(
        String(10), info=personal(Category.CONTACT, Category.PROPERTY)
    )
    country: Mapped[str] = mapped_column(String(2), default="US")
    date_of_birth_enc: Mapped[str | None] = mapped_column(
        String(200), info=personal(Category.DATE_OF_BIRTH)
    )
    ssn_enc: Mapped[str | None] = mapped_column(String(200), info=personal(Category.GOVERNMENT_ID))
    drivers_license_number_enc: Mapped[str | None] = mapped_column(
        String(200), info=personal(Category.GOVERNMENT_ID)
    )
    drivers_license_state: Mapped[str | None] = mapped_column(
        String(2),
        info=personal(Category.IDENTITY, note="the state that issued the licence (not its number)"),
    )
    agent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), unique=True)
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
