"""The coverage check and a coverage's terms on a claim, read from the policy's history as of
the loss date, as known when the claim was filed (a change recorded later, even back-dated,
does not move what was checked; ``policies.service.state_as_of`` with ``known_at``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from beartype import beartype
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.claims.coverage import (
    ExposureTerms,
    Finding,
    PolicyOnLossDate,
    TermsUnresolvedError,
    per_vehicle,
    verify,
)
from pd_prime_demo.claims.coverage import exposure_terms as terms_of
from pd_prime_demo.claims.models import Claim
from pd_prime_demo.core.result_types import DomainError, Err, FieldIssue, Ok, Result, invalid
from pd_prime_demo.policies import service as policies
from pd_prime_demo.products import service as products
from pd_prime_demo.rating.definition import CauseOfLoss, ProductVersionDefinition


@dataclass(frozen=True, slots=True)
class PolicyDay:
    """The policy on the loss date: the deciding transaction and its stored state, that state
    as the coverage rules read it, and the product version it was written on."""

    transaction_id: uuid.UUID
    snapshot: dict[str, Any]
    facts: PolicyOnLossDate
    definition: ProductVersionDefinition


async def policy_on(
    session: AsyncSession, policy_id: uuid.UUID, loss_on: date, known_at: datetime | None
) -> PolicyDay | None:
    """What the policy's history says of ``loss_on`` as known at ``known_at`` (None when the
    policy has no transaction at all). Before inception the first transaction decides, for
    the product version and the terms it starts with."""
    history = await policies.transactions(session, policy_id)
    as_of = policies.state_as_of(history, loss_on, known_at)
    txn = as_of.transaction
    if txn is None:
        return None
    snap = txn.snapshot
    cancellation = snap.get("cancellation") or {}
    lapse = snap.get("lapse")
    facts = PolicyOnLossDate(
        status=str(as_of.status),
        term_start=date.fromisoformat(snap["term_start"]),
        term_end=date.fromisoformat(snap["term_end"]),
        coverages=dict(snap.get("coverages", {})),
        vehicle_count=len(snap.get("risk", {}).get("vehicles", [])),
        cancelled_on=(date.fromisoformat(cancellation["effective_on"]) if cancellation else None),
        lapse=(
            (date.fromisoformat(lapse["from"]), date.fromisoformat(lapse["to"])) if lapse else None
        ),
    )
    compiled = await products.compiled_version(session, txn.product_version_id)
    return PolicyDay(txn.id, snap, facts, compiled.definition)


def cause_of(definition: ProductVersionDefinition, code: str) -> CauseOfLoss | None:
    if definition.claims is None:
        return None
    return next((c for c in definition.claims.causes_of_loss if c.code == code), None)


def unknown_cause(definition: ProductVersionDefinition, code: str) -> DomainError:
    known = [c.code for c in definition.claims.causes_of_loss] if definition.claims else []
    detail = (
        f"{code!r} is not a cause of loss of {definition.product_code} {definition.version}; "
        f"one of: {', '.join(known)}"
        if known
        else f"{definition.product_code} {definition.version} takes no claims"
    )
    return invalid(
        "claim.cause_unknown",
        "the cause of loss is not one of the product's",
        FieldIssue("#/cause_code", detail),
    )


def check_cover(
    day: PolicyDay, loss_on: date, cause: CauseOfLoss, vehicle_units: list[int]
) -> tuple[list[Finding], list[str]]:
    """The coverage check's findings and the coverages the loss may be paid under."""
    return verify(
        day.facts,
        loss_on,
        list(cause.coverages),
        cause.code,
        vehicle_coverages=per_vehicle(day.definition),
        vehicle_units=vehicle_units,
    )


def _not_on_policy(coverage_code: str, detail: str) -> DomainError:
    return invalid(
        "claim.coverage_not_on_policy",
        "the policy did not have this coverage on the loss date",
        FieldIssue("#/coverage_code", detail),
    )


@beartype
async def exposure_terms(
    session: AsyncSession, claim: Claim, coverage_code: str, policy_unit: int | None
) -> Result[ExposureTerms, DomainError]:
    """The limit and deductible of ``coverage_code`` on ``claim``: the policy's chosen options
    and rating inputs on the loss date, as known when the claim was filed, read through the
    product's ``claims.coverage_terms``. The coverage must be one the policy had in force that
    day (for a coverage rated per vehicle, on the vehicle ``policy_unit`` of its schedule);
    otherwise 422 ``claim.coverage_not_on_policy``."""
    day = await policy_on(session, claim.policy_id, claim.loss_on, claim.reported_at)
    if day is None or day.facts.status != "in_force":
        return Err(_not_on_policy(coverage_code, f"the policy was not in force on {claim.loss_on}"))
    lapse = day.facts.lapse
    if lapse is not None and lapse[0] <= claim.loss_on < lapse[1]:
        return Err(_not_on_policy(coverage_code, f"the loss on {claim.loss_on} is in a lapse"))
    chosen = day.facts.coverages.get(coverage_code)
    if chosen is None:
        return Err(
            _not_on_policy(
                coverage_code, f"{coverage_code} was not on the policy on {claim.loss_on}"
            )
        )
    unit: int | None = None
    if coverage_code in per_vehicle(day.definition):
        if policy_unit is None or not 0 <= policy_unit < day.facts.vehicle_count:
            return Err(
                invalid(
                    "claim.coverage_not_on_policy",
                    "the policy did not have this coverage on the loss date",
                    FieldIssue(
                        "#/policy_unit",
                        f"{coverage_code} is per vehicle: name a vehicle of the policy's "
                        f"schedule on {claim.loss_on} (0 to {day.facts.vehicle_count - 1})",
                    ),
                )
            )
        unit = policy_unit
    try:
        return Ok(terms_of(day.definition, coverage_code, chosen, day.snapshot["risk"], unit))
    except TermsUnresolvedError as exc:
        return Err(
            invalid(
                "claim.coverage_terms_unresolved",
                "the product does not say how a claim reads this coverage",
                FieldIssue("#/coverage_code", str(exc)),
            )
        )
