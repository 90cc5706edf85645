"""Who may read which published events: pure rules, shared by the stream and live updates."""

from __future__ import annotations

from pd_prime_demo.core.actor import COMPANY_WIDE_ROLES, Actor, ActorKind


def sees_company_events(actor: Actor) -> bool:
    """Events of no customer (a product version approved, a referred change decided) are the
    company's own: company-wide staff and system actors read them, and API clients of such an
    owner; customers and agents never do."""
    return actor.kind is ActorKind.SYSTEM or actor.role in COMPANY_WIDE_ROLES
