"""The coverage check and a coverage's terms on a claim, read from the policy's history as of
the loss date, as known when the claim was filed (a change recorded later, even back-dated,
does not move what was checked; ``policies.service.state_as_of`` with ``known_at``)."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from beartype import beartype
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.claims.coverage import (
    ExposureTerms,
    Finding,
    PolicyOnLossDate,
    TermsUnresolvedError,
    per_vehicle,
    verify,
)
from pd_prime_demo.claims.coverage import exposure_terms as terms_of
from pd_prime_demo.claims.fraud import (
    CoverageIncrease,
    Indicator,
    Thresholds,
    increases_between,
    indicators,
)
from pd_prime_demo.claims.models import Claim
from pd_prime_demo.claims.repository import claims as claims_repository
from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.config import Settings
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


def _limit_inputs(definition: ProductVersionDefinition) -> set[str]:
    """The policy-level rating inputs a claim's limits or deductibles read (Coverage A)."""
    refs: set[str] = set()
    for terms in definition.claims.coverage_terms.values() if definition.claims else []:
        if terms.limit_variable:
            refs.add(terms.limit_variable)
        for amount in [*terms.limits.values(), *terms.deductibles.values()]:
            if amount.percent_of:
                refs.add(amount.percent_of)
    return {r.removeprefix("policy.") for r in refs if r.startswith("policy.")}


async def fraud_indicators(
    session: AsyncSession,
    *,
    policy_id: uuid.UUID,
    claim_id: uuid.UUID | None,
    loss_on: date,
    known_at: datetime | None,
    definition: ProductVersionDefinition,
    thresholds: Thresholds,
) -> list[Indicator]:
    """The fraud indicators of a loss on ``loss_on``, from the policy's history as recorded by
    ``known_at`` (now when None) and the policy's other claims."""
    current = policies.known_in_effect(await policies.transactions(session, policy_id), known_at)
    ordered = sorted(current, key=lambda t: (t.effective_on, t.seq))
    if not ordered:
        return []
    inception = min(t.term_start for t in ordered)
    limit_order = {c.code: [o.code for o in c.limits] for c in definition.coverages}
    deductible_order = {c.code: [o.code for o in c.deductibles] for c in definition.coverages}
    inputs = _limit_inputs(definition)
    increases: list[CoverageIncrease] = []
    for before, after in itertools.pairwise(ordered):
        if after.kind != "endorsement":
            continue
        risk_before = before.snapshot.get("risk", {}).get("policy", {})
        risk_after = after.snapshot.get("risk", {}).get("policy", {})
        changes = increases_between(
            before.snapshot.get("coverages", {}),
            after.snapshot.get("coverages", {}),
            limit_order=limit_order,
            deductible_order=deductible_order,
            before_values={k: v for k, v in risk_before.items() if k in inputs},
            after_values={k: v for k, v in risk_after.items() if k in inputs},
        )
        if changes:
            increases.append(CoverageIncrease(after.effective_on, changes))
    window = timedelta(days=thresholds.recent_claims_days)
    others = await claims_repository.other_loss_dates(
        session, policy_id, excluding=claim_id, since=loss_on - window, until=loss_on + window
    )
    return indicators(
        loss_on=loss_on,
        inception_on=inception,
        increases=increases,
        other_losses=others,
        cancellations=[t.effective_on for t in current if t.kind == "cancellation"],
        thresholds=thresholds,
    )


async def refresh_fraud_indicators(
    session: AsyncSession, claim: Claim, *, settings: Settings, actor: Actor
) -> bool:
    """Evaluate the claim's fraud indicators again on the policy's history and claims as
    recorded now (a cancellation recorded after first notice shows), and store them if they
    changed (audited); whether they did."""
    day = await policy_on(session, claim.policy_id, claim.loss_on, None)
    if day is None:  # pragma: no cover - a claim's policy has its history
        return False
    found = await fraud_indicators(
        session,
        policy_id=claim.policy_id,
        claim_id=claim.id,
        loss_on=claim.loss_on,
        known_at=None,
        definition=day.definition,
        thresholds=Thresholds.of(settings),
    )
    fresh = [i.to_json() for i in found]
    if fresh == claim.fraud_indicators:
        return False
    claim.fraud_indicators = fresh
    await audit.record(
        session,
        actor,
        "claim.fraud_indicators_changed",
        "claim",
        str(claim.id),
        {"fraud_indicators": [i.code for i in found]},
    )
    return True
