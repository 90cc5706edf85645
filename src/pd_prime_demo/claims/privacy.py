"""A person's claims in privacy requests: read the claim files, say what of them an access
answer withholds (what claims.service.read never shows a policyholder: internal notes,
reserves, coverage findings, fraud indicators), and put a pseudonym on the person where they
are a party. The claim file itself is kept (GDPR Art. 17(3)(e))."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.claims.enums import ClaimStatus, MoneyKind
from pd_prime_demo.claims.models import Claim, ClaimInvolved, ClaimNote, ClaimParty
from pd_prime_demo.claims.money_models import ClaimTransaction
from pd_prime_demo.core.database import Base

# Columns an access answer lists as withheld instead of giving, by table, with the reason
# (``privacy.retention_rules.WithheldReason``'s values; privacy states the legal basis). The
# field is listed whatever it holds, so the answer never tells an empty indicator list from a
# full one.
LEGAL_CLAIMS = "legal_claims"
FRAUD_INVESTIGATION = "fraud_investigation"
WITHHELD_FIELDS: Mapping[str, Mapping[str, str]] = {
    "claims": {"coverage_findings": LEGAL_CLAIMS, "fraud_indicators": FRAUD_INVESTIGATION},
    # A payment or recovery is the person's; the reserve it moved and its approval are not.
    "claim_transactions": {
        "reserve_change": LEGAL_CLAIMS,
        "reserve_after": LEGAL_CLAIMS,
        "approval_id": LEGAL_CLAIMS,
    },
}


def withheld_row(row: Base) -> str | None:
    """The reason a whole row is withheld from an access answer, or None: an internal note
    and a reserve movement are the insurer's evaluation of the claim."""
    if isinstance(row, ClaimNote) and row.internal:
        return LEGAL_CLAIMS
    if isinstance(row, ClaimTransaction) and row.kind == MoneyKind.RESERVE.value:
        return LEGAL_CLAIMS
    return None


async def claim_ids(session: AsyncSession, customer_id: uuid.UUID) -> list[uuid.UUID]:
    found = await session.scalars(
        select(Claim.id).where(Claim.customer_id == customer_id).order_by(Claim.id)
    )
    return list(found)


async def rows(session: AsyncSession, customer_id: uuid.UUID) -> list[Base]:
    """The person's claims (ix_claims_customer_id), their parties, vehicles and property
    involved, notes and money transactions (each table's claim_id index), then the party rows
    naming the person in someone else's claim (ix_claim_parties_customer_id): that row only,
    never the rest of the other person's claim."""
    claims = list(
        await session.scalars(
            select(Claim).where(Claim.customer_id == customer_id).order_by(Claim.reported_at)
        )
    )
    ids = [c.id for c in claims]
    out: list[Base] = list(claims)
    if ids:
        for model in (ClaimParty, ClaimInvolved, ClaimNote):
            out.extend(
                await session.scalars(
                    select(model)
                    .where(model.claim_id.in_(ids))
                    .order_by(model.claim_id, model.created_at, model.id)
                )
            )
        out.extend(
            await session.scalars(
                select(ClaimTransaction)
                .where(ClaimTransaction.claim_id.in_(ids))
                .order_by(ClaimTransaction.claim_id, ClaimTransaction.id)
            )
        )
    out.extend(await _mentions(session, customer_id, ids))
    return out


async def _mentions(
    session: AsyncSession, customer_id: uuid.UUID, own_claims: Sequence[uuid.UUID]
) -> list[ClaimParty]:
    query = select(ClaimParty).where(ClaimParty.customer_id == customer_id)
    if own_claims:
        query = query.where(ClaimParty.claim_id.not_in(own_claims))
    return list(await session.scalars(query.order_by(ClaimParty.created_at, ClaimParty.id)))


async def is_party_elsewhere(session: AsyncSession, customer_id: uuid.UUID) -> bool:
    """Whether the person is named as a party in a claim that is not theirs."""
    found = await session.scalar(
        select(ClaimParty.id)
        .join(Claim, Claim.id == ClaimParty.claim_id)
        .where(ClaimParty.customer_id == customer_id, Claim.customer_id != customer_id)
        .limit(1)
    )
    return found is not None


async def has_open_claim(session: AsyncSession, customer_id: uuid.UUID) -> bool:
    found = await session.scalar(
        select(Claim.id)
        .where(Claim.customer_id == customer_id, Claim.status != ClaimStatus.CLOSED.value)
        .limit(1)
    )
    return found is not None


async def pseudonymise_parties(
    session: AsyncSession, customer_id: uuid.UUID, *, pseudonym: str
) -> list[uuid.UUID]:
    """Replace the person's name and contact wherever they are a party, in their claims and
    in others' (ix_claim_parties_customer_id); the party row (its role, injury flag, claim)
    stays, so each claim file still reads whole."""
    found = await session.scalars(
        update(ClaimParty)
        .where(ClaimParty.customer_id == customer_id)
        .values(name=pseudonym, contact_enc=None)
        .returning(ClaimParty.id)
    )
    return list(found)


async def customer_of(session: AsyncSession, claim_id: uuid.UUID) -> uuid.UUID | None:
    return await session.scalar(select(Claim.customer_id).where(Claim.id == claim_id))


async def claim_states(
    session: AsyncSession, customer_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[bool, date | None]]:
    """Per customer with a claim: (any still open, when the last closed claim last changed).
    A closed claim's last change is its closing or a later reopen-and-close: the clock of the
    claim-file retention rules starts there."""
    if not customer_ids:
        return {}
    closed = ClaimStatus.CLOSED.value
    found = await session.execute(
        select(
            Claim.customer_id,
            func.count().filter(Claim.status != closed),
            func.max(Claim.updated_at).filter(Claim.status == closed),
        )
        .where(Claim.customer_id.in_(customer_ids))
        .group_by(Claim.customer_id)
    )
    return {
        c: (bool(open_count), None if last is None else last.date())
        for c, open_count, last in found
    }
