"""The claim as first notice of loss recorded it, presented for a reader: party contacts
and the staff view by the rules of ``claims.service.contacts``, shared with the claim's other
reads."""

from __future__ import annotations

import json

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.claims.enums import (
    ClaimStatus,
    CoverageStatus,
    InvolvedKind,
    PartyRole,
    ReportedVia,
)
from pd_prime_demo.claims.models import Claim
from pd_prime_demo.claims.repository import claims as repository
from pd_prime_demo.claims.schemas_fnol import (
    ClaimFiled,
    ContactRead,
    FindingRead,
    FraudIndicatorRead,
    InvolvedRead,
    PartyRead,
)
from pd_prime_demo.claims.service.contacts import (
    contact_context,
    is_claims_staff,
    may_see_contacts,
)
from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.crypto import FieldCipher

__all__ = ["contact_context", "is_claims_staff", "may_see_contacts", "present_filed"]


async def present_filed(
    session: AsyncSession, claim: Claim, *, actor: Actor, cipher: FieldCipher
) -> ClaimFiled:
    """The claim as filed, for ``actor`` (who may see it)."""
    reveal = may_see_contacts(actor)
    parties = []
    for p in await repository.parties_of(session, claim.id):
        contact = None
        if reveal and p.contact_enc:
            contact = ContactRead(
                **json.loads(cipher.decrypt(p.contact_enc, context=contact_context(p.id)))
            )
        parties.append(
            PartyRead(
                id=p.id,
                role=PartyRole(p.role),
                name=p.name,
                injured=p.injured,
                customer_id=p.customer_id,
                contact=contact,
                contact_masked=p.contact_enc is not None and not reveal,
            )
        )
    staff = is_claims_staff(actor)
    return ClaimFiled(
        id=claim.id,
        number=claim.number,
        policy_id=claim.policy_id,
        customer_id=claim.customer_id,
        product_code=claim.product_code,
        state=claim.state,
        policy_transaction_id=claim.policy_transaction_id,
        loss_at=claim.loss_at,
        loss_on=claim.loss_on,
        loss_time_zone=claim.loss_time_zone,
        cause_code=claim.cause_code,
        location=claim.location,
        description=claim.description,
        reported_at=claim.reported_at,
        reported_via=ReportedVia(claim.reported_via),
        coverage_status=CoverageStatus(claim.coverage_status),
        coverage_findings=([FindingRead(**f) for f in claim.coverage_findings] if staff else None),
        fraud_indicators=(
            [FraudIndicatorRead(**i) for i in claim.fraud_indicators] if staff else None
        ),
        status=ClaimStatus(claim.status),
        adjuster_id=claim.adjuster_id,
        parties=parties,
        involved=[
            InvolvedRead(
                id=i.id,
                kind=InvolvedKind(i.kind),
                policy_unit=i.policy_unit,
                owner_party_id=i.owner_party_id,
                description=i.description,
                damage=i.damage,
            )
            for i in await repository.involved_of(session, claim.id)
        ],
        version=claim.version,
    )
