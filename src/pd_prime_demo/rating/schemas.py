"""The shapes of rating inputs as clients send them: a risk by scope, and coverage choices.

Shared by quotes (a risk to price) and policies (the risk in force, changed by endorsements):
which variables a product needs is in its version definition, checked by ``rating.risk``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _In(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RiskData(_In):
    """Rating variables by scope; which ones a product needs is in its version definition."""

    policy: dict[str, Any] = Field(default_factory=dict)
    drivers: list[dict[str, Any]] = Field(default_factory=list, max_length=20)
    vehicles: list[dict[str, Any]] = Field(default_factory=list, max_length=20)


class CoverageChoice(_In):
    limit: str | None = Field(default=None, max_length=30)
    deductible: str | None = Field(default=None, max_length=30)
