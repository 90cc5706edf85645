"""Reading claims: one in detail (staff's view or the policyholder's), lists and queues a page
at a time, and the claim as of a moment.

Who sees what: company-wide staff (adjusters, underwriters, administrators) and system actors
read the staff view. A policyholder and their agent read the policyholder's view: the claim's
status and history, parties, what is involved and the indemnity payments, never internal
notes, reserves, coverage findings, fraud indicators, approvals or the diary. A party's
contact is opened by ``contacts.may_see_contacts`` (a user's own login with ``pii:read``,
audited, or the policyholder's); masked for others.

"As of" reads the status and assignment histories by their ``at`` and the money transactions
by ``recorded_at`` (when the system knew of them), not by ``accounting_on``: a past moment
then reads the same whatever is posted later, as a policy read ``known_at`` does. Loss
triangles use ``accounting_on``; that is reporting, not this.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.claims import rules
from pd_prime_demo.claims.enums import ClaimStatus, CostType
from pd_prime_demo.claims.models import Claim, ClaimParty
from pd_prime_demo.claims.money_models import ReserveLine
from pd_prime_demo.claims.repository import workflow as repository
from pd_prime_demo.claims.schemas_workflow import (
    ApprovalRead,
    AssignmentRead,
    ClaimAsOf,
    ClaimRead,
    ClaimSummary,
    ExposureRead,
    InvolvedRead,
    MoneyTotals,
    PartyRead,
    PaymentRead,
    ReserveLineRead,
    StatusChangeRead,
    View,
)
from pd_prime_demo.claims.service.common import get_claim, permission_missing
from pd_prime_demo.claims.service.contacts import (
    contact_context,
    is_claims_staff,
    may_see_contacts,
)
from pd_prime_demo.core.actor import Actor, Permission, Role
from pd_prime_demo.core.crypto import FieldCipher
from pd_prime_demo.core.pagination import keyset_page
from pd_prime_demo.core.result_types import DomainError, Err, Ok, Result
from pd_prime_demo.customers import service as customers
from pd_prime_demo.identity import service as identity

ZERO = repository.ZERO


def view_of(actor: Actor) -> View:
    return "staff" if is_claims_staff(actor) else "policyholder"


def is_staff(actor: Actor) -> bool:
    return view_of(actor) == "staff"


def _totals(reserve: Decimal, paid: Decimal, recovered: Decimal) -> MoneyTotals:
    incurred = paid + reserve
    return MoneyTotals(
        reserve=reserve,
        paid=paid,
        recovered=recovered,
        incurred=incurred,
        net_incurred=incurred - recovered,
    )


def _line_totals(lines: list[ReserveLine]) -> MoneyTotals:
    return _totals(
        sum((line.reserve for line in lines), ZERO),
        sum((line.paid for line in lines), ZERO),
        sum((line.recovered for line in lines), ZERO),
    )


def _parties(rows: list[ClaimParty], *, opened: bool, cipher: FieldCipher) -> list[PartyRead]:
    out = []
    for party in rows:
        contact: dict[str, Any] | None = None
        if opened and party.contact_enc is not None:
            contact = json.loads(
                cipher.decrypt(party.contact_enc, context=contact_context(party.id))
            )
        out.append(
            PartyRead(
                id=party.id,
                role=party.role,
                name=party.name,
                injured=party.injured,
                customer_id=party.customer_id,
                contact=contact,
                contact_masked=party.contact_enc is not None and not opened,
            )
        )
    return out


async def _adjuster_name(session: AsyncSession, adjuster_id: uuid.UUID | None) -> str | None:
    if adjuster_id is None:
        return None
    match await identity.get_user(session, adjuster_id):
        case Ok(user):
            return user.full_name
        case _:
            return None


async def present(
    session: AsyncSession, claim: Claim, *, actor: Actor, cipher: FieldCipher
) -> ClaimRead:
    """The claim in the actor's view (see the module's docstring)."""
    staff = is_staff(actor)
    parties = await repository.parties(session, claim.id)
    opened = may_see_contacts(actor)
    if opened and actor.role is not Role.CUSTOMER and any(p.contact_enc for p in parties):
        await audit.record(
            session, actor, "claim.contacts_read", "claim", str(claim.id), {"fields": ["contact"]}
        )
    history = await repository.status_history(session, claim.id)
    payments = [
        PaymentRead(
            id=t.id,
            exposure_id=t.exposure_id,
            cost_type=t.cost_type,
            amount=t.amount,
            payee=t.payee,
            paid_at=t.recorded_at,
        )
        for t in await repository.payments(session, claim.id)
        if staff or t.cost_type == CostType.INDEMNITY.value
    ]
    staff_only: dict[str, Any] = dict.fromkeys(
        (
            "allowed_moves",
            "coverage_findings",
            "fraud_indicators",
            "exposures",
            "totals",
            "pending_approvals",
            "assignment_history",
        )
    )
    if staff:
        exposures = await repository.exposures(session, claim.id)
        every_line = [line for _, lines in exposures for line in lines]
        staff_only = {
            "allowed_moves": rules.allowed_moves(ClaimStatus(claim.status)),
            "coverage_findings": claim.coverage_findings,
            "fraud_indicators": claim.fraud_indicators,
            "exposures": [
                ExposureRead(
                    id=e.id,
                    seq=e.seq,
                    claimant_party_id=e.claimant_party_id,
                    coverage_code=e.coverage_code,
                    policy_unit=e.policy_unit,
                    limit_amount=e.limit_amount,
                    occurrence_limit=e.occurrence_limit,
                    deductible_amount=e.deductible_amount,
                    valuation=e.valuation,
                    status=e.status,
                    reserve_lines=[ReserveLineRead.model_validate(line) for line in lines],
                    totals=_line_totals(lines),
                )
                for e, lines in exposures
            ],
            "totals": _line_totals(every_line),
            "pending_approvals": [
                ApprovalRead.model_validate(a)
                for a in await repository.pending_approval_rows(session, claim.id)
            ],
            "assignment_history": [
                AssignmentRead.model_validate(a)
                for a in await repository.assignment_history(session, claim.id)
            ],
        }
    return ClaimRead(
        view="staff" if staff else "policyholder",
        id=claim.id,
        number=claim.number,
        policy_id=claim.policy_id,
        customer_id=claim.customer_id,
        product_code=claim.product_code,
        state=claim.state,
        status=ClaimStatus(claim.status),
        closed_outcome=rules.closed_outcome(claim.closed_outcome),
        denial_reason=claim.denial_reason,
        loss_at=claim.loss_at,
        loss_on=claim.loss_on,
        loss_time_zone=claim.loss_time_zone,
        cause_code=claim.cause_code,
        location=claim.location,
        description=claim.description,
        reported_at=claim.reported_at,
        reported_via=claim.reported_via,
        coverage_status=claim.coverage_status,
        adjuster_id=claim.adjuster_id,
        adjuster_name=await _adjuster_name(session, claim.adjuster_id),
        version=claim.version,
        parties=_parties(parties, opened=opened, cipher=cipher),
        involved=[
            InvolvedRead.model_validate(i) for i in await repository.involved(session, claim.id)
        ],
        payments=payments,
        status_history=[
            StatusChangeRead(
                from_status=ClaimStatus(h.from_status) if h.from_status else None,
                to_status=ClaimStatus(h.to_status),
                closed_outcome=rules.closed_outcome(h.closed_outcome),
                reason=h.reason,
                actor_id=h.actor_id if staff else None,
                at=h.at,
            )
            for h in history
        ],
        **staff_only,
    )


async def read_claim(
    session: AsyncSession, claim_id: uuid.UUID, *, actor: Actor, cipher: FieldCipher
) -> Result[tuple[Claim, ClaimRead], DomainError]:
    match await get_claim(session, claim_id, actor=actor):
        case Err() as err:
            return err
        case Ok(claim):
            return Ok((claim, await present(session, claim, actor=actor, cipher=cipher)))


@dataclass(frozen=True, slots=True)
class ClaimFilter:
    status: ClaimStatus | None = None
    adjuster_id: uuid.UUID | None = None
    policy_id: uuid.UUID | None = None
    customer_id: uuid.UUID | None = None
    product_code: str | None = None
    open_only: bool = False


async def list_claims(
    session: AsyncSession,
    *,
    actor: Actor,
    where: ClaimFilter,
    cursor: str | None,
    limit: int,
    oldest_first: bool = False,
) -> Result[tuple[list[ClaimSummary], str | None], DomainError]:
    """The claims the actor may see matching ``where``, newest reported first (a queue:
    ``oldest_first``), keyset-paged on ``(reported_at, id)``."""
    if not actor.has(Permission.CLAIMS_READ):
        return Err(permission_missing(Permission.CLAIMS_READ))
    query = repository.claims_query(
        visible_customers=customers.visible_ids(actor),
        status=where.status,
        adjuster_id=where.adjuster_id,
        policy_id=where.policy_id,
        customer_id=where.customer_id,
        product_code=where.product_code,
        open_only=where.open_only,
    )
    match await keyset_page(
        session,
        query,
        cursor=cursor,
        limit=limit,
        keys=(Claim.reported_at, Claim.id),
        descending=not oldest_first,
    ):
        case Err() as err:
            return err
        case Ok((rows, next_cursor)):
            return Ok(([ClaimSummary.model_validate(c) for c in rows], next_cursor))


async def claim_as_of(
    session: AsyncSession, claim_id: uuid.UUID, moment: datetime, *, actor: Actor
) -> Result[ClaimAsOf, DomainError]:
    """The claim's status, adjuster and money as they stood at ``moment``."""
    match await get_claim(session, claim_id, actor=actor):
        case Err() as err:
            return err
        case Ok(claim):
            pass
    history = await repository.status_history(session, claim.id, until=moment)
    assignments = await repository.assignment_history(session, claim.id, until=moment)
    totals = await repository.totals_as_of(session, claim.id, moment)
    last = history[-1] if history else None
    staff = is_staff(actor)
    return Ok(
        ClaimAsOf(
            view="staff" if staff else "policyholder",
            id=claim.id,
            number=claim.number,
            at=moment,
            status=ClaimStatus(last.to_status) if last else None,
            closed_outcome=rules.closed_outcome(last.closed_outcome) if last else None,
            adjuster_id=assignments[-1].adjuster_id if assignments else None,
            paid=totals.paid if staff else totals.paid_indemnity,
            totals=_totals(totals.reserve, totals.paid, totals.recovered) if staff else None,
            transactions=totals.transactions if staff else None,
        )
    )
