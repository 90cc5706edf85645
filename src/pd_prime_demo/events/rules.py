"""Who may read which published events: pure rules, shared by the stream and live updates."""

from __future__ import annotations

import uuid

from pd_prime_demo.core.actor import COMPANY_WIDE_ROLES, Actor, ActorKind, Role


def sees_company_events(actor: Actor) -> bool:
    """Events of no customer (a product version approved, a referred change decided) are the
    company's own: company-wide staff and system actors read them, and API clients of such an
    owner; customers and agents never do."""
    return actor.kind is ActorKind.SYSTEM or actor.role in COMPANY_WIDE_ROLES


def sees_admin_events(actor: Actor) -> bool:
    """Notices about API clients (a webhook subscription disabled) name a client and its
    owner: administrators (and their API clients) and system actors read them all."""
    return actor.kind is ActorKind.SYSTEM or actor.role is Role.ADMIN


def notices_owner(actor: Actor) -> uuid.UUID | None:
    """Whose notices about API clients the actor reads besides: its own, as an owner of API
    clients (staff; for an API client, its owner's). Customers own no clients."""
    if actor.kind is ActorKind.SYSTEM or actor.role in (None, Role.CUSTOMER):
        return None
    return actor.user_id
