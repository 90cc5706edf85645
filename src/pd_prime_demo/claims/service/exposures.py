"""Exposures (one claimant's loss under one coverage) and what reads them: their reserve
lines, their transaction history (the reserve's full history), the valuation, closing a claim's
reserves."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.claims import money as rules
from pd_prime_demo.claims.enums import ExposureStatus
from pd_prime_demo.claims.models import Claim
from pd_prime_demo.claims.money_models import ClaimTransaction, Exposure, ReserveLine
from pd_prime_demo.claims.repository import money as repo
from pd_prime_demo.claims.service import coverage
from pd_prime_demo.claims.service.common import get_claim
from pd_prime_demo.claims.service.money import (
    EXPOSURE_NOT_FOUND,
    locked_exposure,
    post_reserve_change,
)
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor, Permission
from pd_prime_demo.core.pagination import keyset_page
from pd_prime_demo.core.result_types import (
    DomainError,
    Err,
    FieldIssue,
    Ok,
    Result,
    conflict,
    invalid,
)

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class ExposureView:
    exposure: Exposure
    lines: list[ReserveLine]
    indemnity_paid: Decimal
    indemnity_available: Decimal | None

    @property
    def payable_cap(self) -> Decimal | None:
        e = self.exposure
        return rules.payable_cap(e.limit_amount, e.valuation, e.deductible_amount)


async def _views(
    session: AsyncSession, claim: Claim, exposures: list[Exposure]
) -> list[ExposureView]:
    lines = await repo.lines_of(session, [e.id for e in exposures])
    views = []
    by_coverage: dict[str, Decimal] = {}  # one query per coverage, not per exposure
    for exposure in exposures:
        if exposure.coverage_code not in by_coverage:
            by_coverage[exposure.coverage_code] = await repo.indemnity_paid(
                session, claim.id, coverage_code=exposure.coverage_code
            )
        mine = [line for line in lines if line.exposure_id == exposure.id]
        paid = sum((line.paid for line in mine if line.cost_type == "indemnity"), ZERO)
        room = rules.indemnity_room(
            limit_amount=exposure.limit_amount,
            valuation=exposure.valuation,
            deductible=exposure.deductible_amount,
            paid_on_exposure=paid,
            occurrence_limit=exposure.occurrence_limit,
            paid_on_coverage=by_coverage[exposure.coverage_code],
        )
        views.append(ExposureView(exposure, mine, paid, room.available))
    return views


def _cents(amount: Decimal | None) -> Decimal | None:
    return None if amount is None else rules.cents(amount)


async def add_exposure(
    session: AsyncSession,
    claim_id: uuid.UUID,
    *,
    coverage_code: str,
    policy_unit: int | None,
    claimant_party_id: uuid.UUID | None,
    actor: Actor,
) -> Result[ExposureView, DomainError]:
    """Open an exposure with the coverage's terms as the policy had them on the loss date."""
    match await get_claim(
        session, claim_id, actor=actor, permission=Permission.CLAIMS_ADJUST, for_update=True
    ):
        case Err() as err:
            return err
        case Ok(claim):
            pass
    if claimant_party_id is not None and not await repo.party_on_claim(
        session, claim.id, claimant_party_id
    ):
        return Err(
            invalid(
                "claim.party_unknown",
                "the claimant is not one of the claim's parties",
                FieldIssue("#/claimant_party_id", "not a party of this claim"),
            )
        )
    if await repo.same_exposure(
        session,
        claim.id,
        coverage_code=coverage_code,
        policy_unit=policy_unit,
        claimant_party_id=claimant_party_id,
    ):
        return Err(
            conflict(
                "claim.exposure_exists",
                "the claim already has an exposure for this claimant, coverage and vehicle",
            )
        )
    match await coverage.exposure_terms(session, claim, coverage_code, policy_unit):
        case Err() as err:
            return err
        case Ok(terms):
            pass
    exposure = Exposure(
        id=uuid.uuid4(),
        claim_id=claim.id,
        seq=await repo.next_exposure_seq(session, claim.id),
        claimant_party_id=claimant_party_id,
        coverage_code=coverage_code,
        policy_unit=policy_unit,
        limit_amount=_cents(terms.limit_amount),
        occurrence_limit=_cents(terms.occurrence_limit),
        deductible_amount=rules.cents(terms.deductible_amount),
        valuation=None,
        terms=terms.explanation,
        status=ExposureStatus.OPEN.value,
        created_by=actor.id,
        created_at=clock.now(),
    )
    session.add(exposure)
    await session.flush()
    await audit.record(
        session,
        actor,
        "claim.exposure_opened",
        "claim",
        str(claim.id),
        {
            "exposure_id": str(exposure.id),
            "coverage_code": coverage_code,
            "policy_unit": policy_unit,
            "limit_amount": str(exposure.limit_amount),
            "deductible_amount": str(exposure.deductible_amount),
        },
    )
    return Ok((await _views(session, claim, [exposure]))[0])


async def list_exposures(
    session: AsyncSession, claim_id: uuid.UUID, *, actor: Actor
) -> Result[list[ExposureView], DomainError]:
    """The claim's exposures with their reserve lines (staff who handle claims: a reserve is
    the company's estimate, not the policyholder's business)."""
    match await get_claim(session, claim_id, actor=actor, permission=Permission.CLAIMS_ADJUST):
        case Err() as err:
            return err
        case Ok(claim):
            pass
    return Ok(await _views(session, claim, await repo.exposures_of(session, claim.id)))


async def get_exposure(
    session: AsyncSession, claim_id: uuid.UUID, exposure_id: uuid.UUID, *, actor: Actor
) -> Result[ExposureView, DomainError]:
    match await get_claim(session, claim_id, actor=actor, permission=Permission.CLAIMS_ADJUST):
        case Err() as err:
            return err
        case Ok(claim):
            pass
    exposure = await repo.exposure(session, claim.id, exposure_id)
    if exposure is None:
        return Err(EXPOSURE_NOT_FOUND)
    return Ok((await _views(session, claim, [exposure]))[0])


async def set_valuation(
    session: AsyncSession,
    claim_id: uuid.UUID,
    exposure_id: uuid.UUID,
    *,
    valuation: Decimal,
    reason: str,
    actor: Actor,
) -> Result[ExposureView, DomainError]:
    """Value the damaged property (actual cash value): the limit on the valuation basis, a cap
    on any other. Never below what the exposure already paid net of its deductible."""
    match await locked_exposure(
        session, claim_id, exposure_id, actor=actor, permission=Permission.CLAIMS_ADJUST
    ):
        case Err() as err:
            return err
        case Ok((claim, exposure)):
            pass
    paid = await repo.indemnity_paid(session, claim.id, exposure_id=exposure.id)
    cap = rules.payable_cap(exposure.limit_amount, valuation, exposure.deductible_amount)
    if cap is not None and cap < paid:
        return Err(
            conflict(
                "claim.valuation_below_paid",
                f"the exposure already paid {paid}: its valuation less the deductible "
                "cannot be lower",
            )
        )
    before = exposure.valuation
    exposure.valuation = rules.cents(valuation)
    await session.flush()
    await audit.record(
        session,
        actor,
        "claim.exposure_valued",
        "claim",
        str(claim.id),
        {
            "exposure_id": str(exposure.id),
            "valuation": str(valuation),
            "before": str(before) if before is not None else None,
            "reason": reason,
        },
    )
    return Ok((await _views(session, claim, [exposure]))[0])


async def transaction_history(
    session: AsyncSession,
    claim_id: uuid.UUID,
    exposure_id: uuid.UUID | None,
    *,
    cursor: str | None,
    limit: int,
    actor: Actor,
) -> Result[tuple[list[ClaimTransaction], str | None], DomainError]:
    """The exposure's (or the claim's) posted transactions, oldest first: each reserve set,
    raise and take-down with the reserve after it, every payment and recovery."""
    match await get_claim(session, claim_id, actor=actor, permission=Permission.CLAIMS_ADJUST):
        case Err() as err:
            return err
        case Ok(claim):
            pass
    if exposure_id is not None and await repo.exposure(session, claim.id, exposure_id) is None:
        return Err(EXPOSURE_NOT_FOUND)
    return await keyset_page(
        session,
        repo.transactions_query(claim.id, exposure_id),
        cursor=cursor,
        limit=limit,
        keys=[ClaimTransaction.id],
    )


async def close_reserves(session: AsyncSession, claim: Claim, *, actor: Actor) -> None:
    """Take every outstanding reserve on the claim to zero (reason "claim closed"): for the
    workflow's close, which holds the claim's row lock."""
    for line in await repo.lines_of_claim(session, claim.id):
        if line.reserve != 0:
            await post_reserve_change(
                session, claim, line, -line.reserve, reason=rules.CLAIM_CLOSED, actor=actor
            )
