"""First notice of loss: record the claim, check cover on the loss date, flag what needs a
person's eye, and hand the claim to an adjuster.

Who may file: anyone holding ``claims:file`` on a policy they may see (the policyholder on
their own, an agent on their book, claims staff on any, an API client or key given the scope
by its owner); anyone else gets 404 for the policy. ``policies:read`` is not needed: a client
scoped to filing alone still reaches only the policies its owner sees. ``reported_via`` comes
from who files, never from the request.

A claim is always recorded: cover in doubt (not in force on the loss date, cancelled, lapsed,
no coverage for the cause, a vehicle not on the schedule) is ``coverage_status=flagged`` with
its findings; only a malformed request (an unknown cause, a loss in the future, a party
index that does not exist) is refused with 422, and then nothing is written.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import timedelta
from typing import Any

from beartype import beartype
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.claims.coverage import loss_day, zone_finding
from pd_prime_demo.claims.enums import (
    ClaimStatus,
    CoverageStatus,
    InvolvedKind,
    PartyRole,
    ReportedVia,
)
from pd_prime_demo.claims.fraud import Thresholds
from pd_prime_demo.claims.models import Claim, ClaimInvolved, ClaimParty, ClaimStatusChange
from pd_prime_demo.claims.repository import claims as repository
from pd_prime_demo.claims.schemas_fnol import ClaimCreate
from pd_prime_demo.claims.service import coverage
from pd_prime_demo.claims.service.assignment import assign_on_report
from pd_prime_demo.claims.service.common import get_claim
from pd_prime_demo.claims.service.fnol_read import contact_context
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor, ActorKind, Permission, Role
from pd_prime_demo.core.after_commit import after_commit
from pd_prime_demo.core.config import Settings
from pd_prime_demo.core.crypto import FieldCipher
from pd_prime_demo.core.outbox import emit
from pd_prime_demo.core.result_types import (
    DomainError,
    Err,
    FieldIssue,
    Ok,
    Result,
    invalid,
    not_found,
)
from pd_prime_demo.core.telemetry import CLAIMS_OPENED
from pd_prime_demo.core.tracing import annotate, business_span
from pd_prime_demo.policies import service as policies

POLICY_NOT_FOUND = not_found("policy")
# A clock a little ahead on the reporter's device is not a loss in the future.
_CLOCK_SKEW = timedelta(minutes=5)
_FILING_READS = frozenset(
    {Permission.CUSTOMERS_READ, Permission.POLICIES_READ, Permission.CLAIMS_READ}
)


def filing_view(actor: Actor) -> Actor:
    """Whoever files reaches the policies (and the claims they filed) of the customers their
    role and owner reach, whether or not a key or client was scoped to reading them: the
    permissions only gate, the reach is the owner's."""
    if not actor.has(Permission.CLAIMS_FILE):
        return actor
    return dataclasses.replace(actor, permissions=actor.permissions | _FILING_READS)


async def filed_claim(
    session: AsyncSession, claim_id: uuid.UUID, *, actor: Actor
) -> Result[Claim, DomainError]:
    """A claim as its filer reaches it (an Idempotency-Key replay)."""
    return await get_claim(session, claim_id, actor=filing_view(actor))


def reported_via(actor: Actor) -> ReportedVia:
    if actor.kind in (ActorKind.CLIENT, ActorKind.API_KEY):
        return ReportedVia.API_CLIENT
    if actor.role is Role.CUSTOMER:
        return ReportedVia.POLICYHOLDER
    if actor.role is Role.AGENT:
        return ReportedVia.AGENT
    return ReportedVia.STAFF


def _bad(pointer: str, detail: str, code: str = "claim.invalid") -> DomainError:
    return invalid(code, "the claim cannot be recorded as given", FieldIssue(pointer, detail))


def _check_references(body: ClaimCreate) -> DomainError | None:
    count = len(body.parties)
    owners = [("vehicles", i, v.owner_party) for i, v in enumerate(body.vehicles)]
    owners += [("property", i, p.owner_party) for i, p in enumerate(body.property)]
    for kind, i, owner in owners:
        if owner is not None and owner >= count:
            return _bad(f"#/{kind}/{i}/owner_party", f"there are {count} parties listed")
    for i, vehicle in enumerate(body.vehicles):
        if vehicle.policy_unit is None and vehicle.description is None:
            return _bad(
                f"#/vehicles/{i}/description",
                "describe a third party's vehicle, or name the insured one by policy_unit",
            )
    return None


def _vehicle_description(snapshot: dict[str, Any], unit: int) -> str:
    vehicles = snapshot.get("risk", {}).get("vehicles", [])
    if 0 <= unit < len(vehicles):
        v = vehicles[unit]
        year = v.get("model_year")
        return f"Insured vehicle {unit}" + (f" (model year {year})" if year else "")
    return f"Vehicle {unit} (not on the policy's schedule on the loss date)"


@beartype
async def file_claim(
    session: AsyncSession,
    body: ClaimCreate,
    *,
    actor: Actor,
    cipher: FieldCipher,
    settings: Settings,
) -> Result[Claim, DomainError]:
    """First notice of loss (see the module's docstring)."""
    # Codes and counts only: the parties' names and contacts, the location and the
    # description of the loss stay out of the span.
    with business_span(
        "claim.report",
        cause_code=body.cause_code,
        involved=len(body.vehicles) + len(body.property),
        parties=len(body.parties),
    ) as span:
        filed = await _file(session, body, actor=actor, cipher=cipher, settings=settings)
        match filed:
            case Ok(claim):
                annotate(
                    span,
                    claim_id=str(claim.id),
                    product=claim.product_code,
                    state=claim.state,
                    coverage_status=claim.coverage_status,
                    findings=len(claim.coverage_findings),
                    fraud_indicators=len(claim.fraud_indicators),
                    reported_via=claim.reported_via,
                    outcome=claim.status,
                )
                after_commit(session, CLAIMS_OPENED.labels(claim.product_code).inc)
            case Err(error):
                annotate(span, outcome=error.code)
        return filed


async def _file(
    session: AsyncSession,
    body: ClaimCreate,
    *,
    actor: Actor,
    cipher: FieldCipher,
    settings: Settings,
) -> Result[Claim, DomainError]:
    if not actor.has(Permission.CLAIMS_FILE):
        return Err(POLICY_NOT_FOUND)
    match await policies.get_policy(session, body.policy_id, actor=filing_view(actor)):
        case Err():
            return Err(POLICY_NOT_FOUND)
        case Ok(policy):
            pass
    now = clock.now()
    if body.loss_at > now + _CLOCK_SKEW:
        return Err(_bad("#/loss_at", "the loss is in the future", "claim.loss_in_future"))
    if (problem := _check_references(body)) is not None:
        return Err(problem)
    # The day cover is checked on is the loss's day where the policy period is stated (the
    # product's zone), never the reporter's, which is theirs to choose: the reporter's day
    # only finds the product version that says the zone.
    reported_on = loss_day(body.loss_at, body.time_zone)
    day = await coverage.policy_on(session, policy.id, reported_on, None)
    if day is None:  # pragma: no cover - every policy has its new business transaction
        return Err(POLICY_NOT_FOUND)
    loss_on = reported_on
    if day.definition.claims is not None:
        loss_on = loss_day(body.loss_at, day.definition.claims.time_zone)
        if loss_on != reported_on:
            day = await coverage.policy_on(session, policy.id, loss_on, None) or day
    cause = coverage.cause_of(day.definition, body.cause_code)
    if cause is None or day.definition.claims is None:
        return Err(coverage.unknown_cause(day.definition, body.cause_code))
    units = [v.policy_unit for v in body.vehicles if v.policy_unit is not None]
    findings, _ = coverage.check_cover(day, loss_on, cause, units)
    zone = zone_finding(body.loss_at, body.time_zone, day.definition.claims.time_zone)
    if zone is not None:
        findings.append(zone)
    claim_id = uuid.uuid4()
    indicators = await coverage.fraud_indicators(
        session,
        policy_id=policy.id,
        claim_id=None,
        loss_on=loss_on,
        known_at=None,
        definition=day.definition,
        thresholds=Thresholds.of(settings),
    )
    serial = await repository.next_serial(session)
    via = reported_via(actor)
    claim = Claim(
        id=claim_id,
        serial=serial,
        number=f"{day.definition.claims.number_prefix}-{now.year}-{serial}",
        policy_id=policy.id,
        customer_id=policy.customer_id,
        product_code=policy.product_code,
        state=policy.state,
        policy_transaction_id=day.transaction_id,
        loss_at=body.loss_at,
        loss_on=loss_on,
        loss_time_zone=body.time_zone,
        cause_code=cause.code,
        location=body.location.model_dump(mode="json", exclude_none=True),
        description=body.description,
        reported_at=now,
        reported_by=actor.id,
        reported_via=via.value,
        coverage_status=(CoverageStatus.FLAGGED if findings else CoverageStatus.VERIFIED).value,
        coverage_findings=[f.to_json() for f in findings],
        fraud_indicators=[i.to_json() for i in indicators],
        status=ClaimStatus.REPORTED.value,
        updated_at=now,
    )
    session.add(claim)
    await session.flush()
    party_ids = _add_parties(session, claim, body, cipher=cipher)
    await session.flush()  # the parties exist before the vehicles naming their owners
    _add_involved(session, claim, body, party_ids, day.snapshot)
    session.add(
        ClaimStatusChange(
            claim_id=claim.id,
            from_status=None,
            to_status=ClaimStatus.REPORTED.value,
            closed_outcome=None,
            reason="first notice of loss",
            actor_id=actor.id,
            at=now,
        )
    )
    await audit.record(
        session,
        actor,
        "claim.reported",
        "claim",
        str(claim.id),
        {
            "policy_id": str(policy.id),
            "number": claim.number,
            "cause_code": claim.cause_code,
            "coverage_status": claim.coverage_status,
            "findings": [f.code for f in findings],
            "fraud_indicators": [i.code for i in indicators],
            "parties": len(party_ids),
            "involved": len(body.vehicles) + len(body.property),
        },
    )
    emit(
        session,
        "claim.reported",
        "claim",
        str(claim.id),
        {
            "claim_id": str(claim.id),
            "number": claim.number,
            "policy_id": str(policy.id),
            "loss_on": loss_on.isoformat(),
            "cause_code": claim.cause_code,
            "coverage_status": claim.coverage_status,
            "reported_via": claim.reported_via,
        },
        customer_id=claim.customer_id,
    )
    await session.flush()
    # Assignment by workload: the claim opens with an adjuster, or stays reported when none
    # is available.
    await assign_on_report(session, claim, actor=actor)
    return Ok(claim)


def _add_parties(
    session: AsyncSession, claim: Claim, body: ClaimCreate, *, cipher: FieldCipher
) -> list[uuid.UUID]:
    ids: list[uuid.UUID] = []
    for party in body.parties:
        party_id = uuid.uuid4()
        contact = party.contact.model_dump(mode="json", exclude_none=True) if party.contact else {}
        session.add(
            ClaimParty(
                id=party_id,
                claim_id=claim.id,
                role=party.role.value,
                name=party.name,
                contact_enc=(
                    cipher.encrypt(
                        json.dumps(contact, sort_keys=True), context=contact_context(party_id)
                    )
                    if contact
                    else None
                ),
                injured=party.injured,
                customer_id=claim.customer_id if party.role is PartyRole.INSURED else None,
                created_at=claim.reported_at + timedelta(microseconds=len(ids)),
            )
        )
        ids.append(party_id)
    return ids


def _add_involved(
    session: AsyncSession,
    claim: Claim,
    body: ClaimCreate,
    party_ids: list[uuid.UUID],
    snapshot: dict[str, Any],
) -> None:
    rows: list[ClaimInvolved] = []
    for vehicle in body.vehicles:
        description = vehicle.description or _vehicle_description(
            snapshot, vehicle.policy_unit or 0
        )
        rows.append(
            ClaimInvolved(
                kind=InvolvedKind.VEHICLE.value,
                policy_unit=vehicle.policy_unit,
                owner_party_id=(
                    party_ids[vehicle.owner_party] if vehicle.owner_party is not None else None
                ),
                description=description,
                damage=vehicle.damage,
                details={},
            )
        )
    for item in body.property:
        rows.append(
            ClaimInvolved(
                kind=InvolvedKind.PROPERTY.value,
                policy_unit=None,
                owner_party_id=(
                    party_ids[item.owner_party] if item.owner_party is not None else None
                ),
                description=item.description,
                damage=item.damage,
                details={},
            )
        )
    for i, row in enumerate(rows):
        row.id = uuid.uuid4()
        row.claim_id = claim.id
        # Kept in the order given: the read lists them by (created_at, id).
        row.created_at = claim.reported_at + timedelta(microseconds=i)
        session.add(row)
