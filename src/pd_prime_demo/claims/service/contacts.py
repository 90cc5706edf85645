"""Who reads what of a claim's people: one rule for every read of a claim (the claim as filed,
its detailed view, as of a moment).

A party's contact (phone, email, address) is PII, stored encrypted. It is opened only for a
person signed in themselves (a user login, not a token a user delegated to a third-party app,
not an API client or key) who is the policyholder (a customer reaches only their own claims)
or holds ``pii:read``; everyone else sees it masked. Coverage findings and fraud indicators
are for the carrier's staff (company-wide roles and system actors).
"""

from __future__ import annotations

import uuid

from pd_prime_demo.core.actor import COMPANY_WIDE_ROLES, Actor, ActorKind, Permission, Role


def contact_context(party_id: uuid.UUID) -> str:
    """The AEAD context a party's contact is sealed under (``core.pii_rotation`` lists it)."""
    return f"claim_parties.contact:{party_id}"


def may_see_contacts(actor: Actor) -> bool:
    """Whether ``actor`` reads party contacts in clear (see the module's docstring)."""
    if actor.kind is not ActorKind.USER or actor.delegated_to is not None:
        return False
    return actor.role is Role.CUSTOMER or actor.has(Permission.PII_READ)


def is_claims_staff(actor: Actor) -> bool:
    """The carrier's staff, who read a claim's staff view (coverage findings, fraud
    indicators, reserves, notes): company-wide roles and system actors."""
    return actor.kind is ActorKind.SYSTEM or actor.role in COMPANY_WIDE_ROLES
