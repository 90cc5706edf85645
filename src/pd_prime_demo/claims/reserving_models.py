"""Loss triangles (built from the claims' transactions or imported) and the reserve analyses
run on them, each stored with its inputs, method and factors so it can be shown again exactly."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from pd_prime_demo.claims.enums import TriangleMeasure, TriangleSource
from pd_prime_demo.claims.models import _one_of
from pd_prime_demo.core.database import Base
from pd_prime_demo.core.personal_data import not_personal


class LossTriangle(Base):
    __tablename__ = "loss_triangles"
    __table_args__ = (
        _one_of("measure", TriangleMeasure, "measure_known"),
        _one_of("source", TriangleSource, "source_known"),
        Index("ix_loss_triangles_created_at_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(
        String(200), info=not_personal("an actuary's label for a triangle")
    )
    measure: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(10))
    origin_grain: Mapped[str] = mapped_column(String(10))  # "year" or "quarter"
    development_months: Mapped[int]  # the width of a development period
    valuation_on: Mapped[date | None]
    # What it covers (product, state) when built; the file's name and digest when imported.
    scope: Mapped[dict[str, Any]] = mapped_column(
        JSONB,
        default=dict,
        server_default="{}",
        info=not_personal("the lines and periods a triangle covers"),
    )
    # {"origins": [...], "ages": [...], "values": [[... or null]]}: cumulative.
    cells: Mapped[dict[str, Any]] = mapped_column(
        JSONB, info=not_personal("aggregate loss amounts by origin and development period")
    )
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]


class ReserveAnalysis(Base):
    __tablename__ = "reserve_analyses"
    __table_args__ = (Index("ix_reserve_analyses_triangle_id", "triangle_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    triangle_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("loss_triangles.id"))
    method: Mapped[str] = mapped_column(String(30))  # chain_ladder, mack, bf, cape_cod
    # Everything the method was given (averaging, selected factors, tail, sigma extrapolation,
    # a priori loss ratios, earned premium by origin) and everything it produced.
    parameters: Mapped[dict[str, Any]] = mapped_column(
        JSONB, info=not_personal("a reserving method's parameters")
    )
    result: Mapped[dict[str, Any]] = mapped_column(
        JSONB, info=not_personal("aggregate reserve estimates")
    )
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
