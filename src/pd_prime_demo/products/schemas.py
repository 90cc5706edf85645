"""Product API models."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from pd_prime_demo.products.models import ProductVersionStatus


class ProductVersionRead(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)

    id: uuid.UUID
    product_code: str
    product_name: str
    line_of_business: str
    state: str
    version: str
    status: ProductVersionStatus
    effective_new_business: date
    effective_renewal: date
    content_hash: str
    created_at: datetime
    created_by: str
    approved_at: datetime | None
    approved_by: str | None
    activated_at: datetime | None
    retired_at: datetime | None


class ProductVersionDetail(ProductVersionRead):
    definition: dict[str, Any]


class ProductVersionList(BaseModel):
    model_config = ConfigDict(frozen=True)
    items: list[ProductVersionRead]
    next_cursor: str | None = None
