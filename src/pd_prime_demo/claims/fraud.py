"""Fraud indicators on a claim, as pure rules: explainable flags for a person to weigh, each
with the facts behind it, never a decision (nothing is denied or held because of them).

The indicators (thresholds from the ``fraud_*`` settings):
- ``loss_soon_after_inception``: the loss within N days of the policy's inception;
- ``loss_soon_after_coverage_increase``: within N days after an endorsement took effect that
  added a coverage, raised a limit, lowered a deductible or raised an insured value;
- ``several_recent_claims``: this claim and others on the policy with losses within the
  window make at least the threshold;
- ``loss_shortly_before_cancellation``: a cancellation recorded effective within N days after
  the loss (the policyholder leaving right after a loss they report).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any


@dataclass(frozen=True, slots=True)
class Thresholds:
    days_after_inception: int = 30
    days_after_increase: int = 30
    recent_claims: int = 3
    recent_claims_days: int = 365
    days_before_cancellation: int = 30

    @classmethod
    def of(cls, settings: Any) -> Thresholds:
        return cls(
            days_after_inception=settings.fraud_days_after_inception,
            days_after_increase=settings.fraud_days_after_increase,
            recent_claims=settings.fraud_recent_claims,
            recent_claims_days=settings.fraud_recent_claims_days,
            days_before_cancellation=settings.fraud_days_before_cancellation,
        )


@dataclass(frozen=True, slots=True)
class Indicator:
    code: str
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class CoverageIncrease:
    effective_on: date
    changes: tuple[str, ...]  # "added collision", "bi limit 50/100 -> 250/500", ...


def _rank(options: list[str], code: str | None) -> int | None:
    return options.index(code) if code is not None and code in options else None


def increases_between(
    before: dict[str, dict[str, str]],
    after: dict[str, dict[str, str]],
    *,
    limit_order: dict[str, list[str]],
    deductible_order: dict[str, list[str]],
    before_values: dict[str, Any] | None = None,
    after_values: dict[str, Any] | None = None,
) -> tuple[str, ...]:
    """What an endorsement increased: coverages added, limits raised (a later option in the
    product's list of limits), deductibles lowered (an earlier option), insured values raised
    (the rating inputs a limit reads, e.g. Coverage A)."""
    changes: list[str] = []
    for code, chosen in after.items():
        old = before.get(code)
        if old is None:
            changes.append(f"added {code}")
            continue
        limits = limit_order.get(code, [])
        new_l, old_l = _rank(limits, chosen.get("limit")), _rank(limits, old.get("limit"))
        if new_l is not None and old_l is not None and new_l > old_l:
            changes.append(f"{code} limit {old.get('limit')} -> {chosen.get('limit')}")
        deductibles = deductible_order.get(code, [])
        new_d = _rank(deductibles, chosen.get("deductible"))
        old_d = _rank(deductibles, old.get("deductible"))
        if new_d is not None and old_d is not None and new_d < old_d:
            changes.append(
                f"{code} deductible {old.get('deductible')} -> {chosen.get('deductible')}"
            )
    for name, value in (after_values or {}).items():
        previous = (before_values or {}).get(name)
        try:
            if previous is not None and Decimal(str(value)) > Decimal(str(previous)):
                changes.append(f"{name} {previous} -> {value}")
        except InvalidOperation:
            continue
    return tuple(changes)


def indicators(
    *,
    loss_on: date,
    inception_on: date,
    increases: list[CoverageIncrease],
    other_losses: list[date],
    cancellations: list[date],
    thresholds: Thresholds,
) -> list[Indicator]:
    """The indicators that hold for a loss on ``loss_on``; ``other_losses`` are the loss dates
    of the policy's other claims, ``cancellations`` the effective dates of the cancellations
    recorded on it (in effect, not reversed)."""
    out: list[Indicator] = []
    since_inception = (loss_on - inception_on).days
    if 0 <= since_inception <= thresholds.days_after_inception:
        out.append(
            Indicator(
                "loss_soon_after_inception",
                f"The loss on {loss_on} is {since_inception} day(s) after the policy's inception "
                f"on {inception_on} (threshold {thresholds.days_after_inception}).",
            )
        )
    for increase in sorted(increases, key=lambda i: i.effective_on):
        after = (loss_on - increase.effective_on).days
        if 0 <= after <= thresholds.days_after_increase and increase.changes:
            out.append(
                Indicator(
                    "loss_soon_after_coverage_increase",
                    f"The loss on {loss_on} is {after} day(s) after an endorsement effective "
                    f"{increase.effective_on} increased cover ({'; '.join(increase.changes)}; "
                    f"threshold {thresholds.days_after_increase}).",
                )
            )
    window = thresholds.recent_claims_days
    near = [d for d in other_losses if abs((loss_on - d).days) <= window]
    if len(near) + 1 >= thresholds.recent_claims:
        out.append(
            Indicator(
                "several_recent_claims",
                f"{len(near) + 1} claims on the policy have losses within {window} days of "
                f"this one on {loss_on} (threshold {thresholds.recent_claims}).",
            )
        )
    for cancelled_on in sorted(cancellations):
        before = (cancelled_on - loss_on).days
        if 0 < before <= thresholds.days_before_cancellation:
            out.append(
                Indicator(
                    "loss_shortly_before_cancellation",
                    f"The policy was cancelled effective {cancelled_on}, {before} day(s) after "
                    f"the loss on {loss_on} (threshold {thresholds.days_before_cancellation}).",
                )
            )
    return out
