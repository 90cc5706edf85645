"""The typed policy state: what one transaction puts in force from its effective date.

Every transaction stores its state whole (``policy_transactions.snapshot`` is this model as
JSON), so the policy "as of" any day is the state of the latest transaction in effect that
day. The lifecycle rules (``policies.rules``) are pure functions from one state to the next.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from pd_prime_demo.core.money import Factor, Money
from pd_prime_demo.policies.enums import CancellationReason, PolicyStatus
from pd_prime_demo.premium.cancellation import CancellationMethod


class _State(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class CancellationInfo(_State):
    effective_on: date
    reason_code: CancellationReason
    method: CancellationMethod
    return_premium: Money


class Lapse(_State):
    """A gap in cover between a cancellation and a later reinstatement."""

    from_: date = Field(alias="from")
    to: date


class NonRenewalNotice(_State):
    reason: str
    notice_on: date


class PolicyState(_State):
    status: PolicyStatus
    term_start: date
    term_end: date
    option: str = Field(description="The package bound from the quote.")
    coverages: dict[str, dict[str, str]] = Field(
        description="Chosen limit and deductible codes by coverage."
    )
    coverage_premiums: dict[str, Money]
    term_premium: Money
    fees: Money
    taxes: Money
    risk: dict[str, Any]
    rate_version: str
    product_version_id: uuid.UUID
    surcharge: Factor | None = Field(
        default=None, description="An underwriter's multiplier on the premium (1.10 is +10%)."
    )
    payment_plan: str | None = None
    insured_id: uuid.UUID | None = Field(default=None, description="The named insured's id.")
    cancellation: CancellationInfo | None = None
    lapse: Lapse | None = None
    non_renewal: NonRenewalNotice | None = None

    def covers(self, day: date) -> bool:
        """In force and within the term on ``day``."""
        return self.status is PolicyStatus.IN_FORCE and self.term_start <= day < self.term_end

    def to_json(self) -> dict[str, Any]:
        """The stored form (``snapshot``): absent optional parts are left out, as ever."""
        data = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        data.setdefault("surcharge", None)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PolicyState:
        return cls.model_validate(data)
