"""Subscriptions: made for a live API client, managed by it, its owner or an administrator
(anyone else is told it does not exist), their URLs checked before they are kept."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from beartype import beartype
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.core import clock, locks
from pd_prime_demo.core.actor import Actor, Permission
from pd_prime_demo.core.crypto import FieldCipher
from pd_prime_demo.core.result_types import (
    DomainError,
    Err,
    FieldIssue,
    Ok,
    Result,
    conflict,
    invalid,
    not_found,
    stale_version,
)
from pd_prime_demo.webhooks import repository
from pd_prime_demo.webhooks.clients import client_actor
from pd_prime_demo.webhooks.models import WebhookSubscription
from pd_prime_demo.webhooks.rules import (
    DEFAULT_POLICY,
    MAX_SUBSCRIPTIONS_PER_CLIENT,
    DeliveryPolicy,
    NetworkPolicy,
    client_id_of,
    manages_all,
    new_secret,
    parse_url,
)
from pd_prime_demo.webhooks.schemas import SubscriptionCreate, SubscriptionUpdate
from pd_prime_demo.webhooks.service.network import vet

NOT_FOUND = not_found("webhook_subscription")
TOO_MANY = conflict(
    "webhook.too_many_subscriptions",
    f"an API client has at most {MAX_SUBSCRIPTIONS_PER_CLIENT} subscriptions: delete one, or "
    "subscribe one URL to more event types",
)
UNKNOWN_CLIENT = invalid(
    "webhook.unknown_client",
    "the subscription needs a live API client that you manage",
    FieldIssue("#/client_id", "no live API client of yours has this id"),
)


@dataclass(frozen=True, slots=True)
class Created:
    subscription: WebhookSubscription
    secret: str  # shown once; kept encrypted, because every delivery is signed with it


def secret_context(subscription_id: uuid.UUID, *, previous: bool = False) -> str:
    column = "previous_secret" if previous else "secret"
    return f"webhook_subscriptions.{column}:{subscription_id}"


def reveal_secret(subscription: WebhookSubscription, cipher: FieldCipher) -> str:
    return cipher.decrypt(subscription.secret, context=secret_context(subscription.id))


async def checked_url(url: str, network: NetworkPolicy) -> Result[str, DomainError]:
    """The URL, if it may be called: its scheme, and where its host resolves to now."""
    target = parse_url(url, network)
    problem = target if isinstance(target, str) else None
    if not isinstance(target, str) and isinstance(vetted := await vet(target, network), str):
        problem = vetted
    if problem is not None:
        return Err(invalid("webhook.url_refused", problem, FieldIssue("#/url", problem)))
    return Ok(url)


async def _recipient(
    session: AsyncSession, body: SubscriptionCreate, actor: Actor
) -> Result[Actor, DomainError]:
    """The client the subscription is for: the actor itself, or a client its owner (or an
    administrator) names."""
    own = client_id_of(actor)
    client_id = body.client_id or own
    if client_id is None:
        return Err(
            invalid(
                "webhook.client_required",
                "name the API client that receives the events",
                FieldIssue("#/client_id", "required when a person subscribes"),
            )
        )
    if own is not None and client_id != own:
        return Err(UNKNOWN_CLIENT)
    recipient = await client_actor(session, client_id)
    if recipient is None:
        return Err(UNKNOWN_CLIENT)
    if own is None and not manages_all(actor) and recipient.user_id != actor.user_id:
        return Err(UNKNOWN_CLIENT)
    if not recipient.has(Permission.EVENTS_READ):
        return Err(
            invalid(
                "webhook.client_cannot_read_events",
                "the client receives only what it may read: give it the events:read scope",
                FieldIssue("#/client_id", "this client does not hold events:read"),
            )
        )
    return Ok(recipient)


@beartype
async def create_subscription(
    session: AsyncSession,
    body: SubscriptionCreate,
    *,
    actor: Actor,
    cipher: FieldCipher,
    network: NetworkPolicy,
) -> Result[Created, DomainError]:
    match await _recipient(session, body, actor):
        case Err() as err:
            return err
        case Ok(recipient):
            pass
    if isinstance(checked := await checked_url(body.url, network), Err):
        return checked
    client_id = client_id_of(recipient)
    assert client_id is not None  # a client's actor, with its owner's id
    assert recipient.user_id is not None
    # Each subscription may hold worker slots: a client has a bounded number. Counted under a
    # lock of the client's, so two subscribing at once cannot both take the last place.
    await locks.lock(session, f"webhooks.subscriptions:{client_id}")
    if await repository.count_of_client(session, client_id) >= MAX_SUBSCRIPTIONS_PER_CLIENT:
        return Err(TOO_MANY)
    now = clock.now()
    subscription_id = uuid.uuid4()
    secret = new_secret()
    subscription = WebhookSubscription(
        id=subscription_id,
        client_id=client_id,
        owner_id=recipient.user_id,
        url=body.url,
        event_types=list(body.event_types),
        description=body.description,
        secret=cipher.encrypt(secret, context=secret_context(subscription_id)),
        enabled=True,
        version=1,
        created_at=now,
        updated_at=now,
        created_by=actor.id,
    )
    session.add(subscription)
    await session.flush()
    await audit.record(
        session,
        actor,
        "webhook.subscription_created",
        "webhook_subscription",
        str(subscription_id),
        {"client_id": str(client_id), "event_types": subscription.event_types},
    )
    return Ok(Created(subscription, secret))


async def get_subscription(
    session: AsyncSession, subscription_id: uuid.UUID, *, actor: Actor
) -> Result[WebhookSubscription, DomainError]:
    found = await repository.get_managed(session, subscription_id, actor=actor)
    return Ok(found) if found is not None else Err(NOT_FOUND)


async def list_subscriptions(
    session: AsyncSession,
    *,
    actor: Actor,
    client_id: uuid.UUID | None,
    cursor: str | None,
    limit: int,
) -> Result[tuple[list[WebhookSubscription], str | None], DomainError]:
    return await repository.page_managed(
        session, actor=actor, client_id=client_id, cursor=cursor, limit=limit
    )


async def _for_change(
    session: AsyncSession, subscription_id: uuid.UUID, expected_version: int | None, actor: Actor
) -> Result[WebhookSubscription, DomainError]:
    found = await repository.get_managed(session, subscription_id, actor=actor, for_update=True)
    if found is None:
        return Err(NOT_FOUND)
    if expected_version is not None and found.version != expected_version:
        return Err(stale_version("webhook_subscription"))
    return Ok(found)


@beartype
async def update_subscription(
    session: AsyncSession,
    subscription_id: uuid.UUID,
    body: SubscriptionUpdate,
    *,
    expected_version: int | None,
    actor: Actor,
    network: NetworkPolicy,
) -> Result[WebhookSubscription, DomainError]:
    match await _for_change(session, subscription_id, expected_version, actor):
        case Err() as err:
            return err
        case Ok(subscription):
            pass
    sent = body.model_fields_set
    if body.url is not None and body.url != subscription.url:
        if isinstance(checked := await checked_url(body.url, network), Err):
            return checked
        subscription.url = body.url
    if body.event_types is not None:
        subscription.event_types = list(body.event_types)
    if "description" in sent:
        subscription.description = body.description
    now = clock.now()
    if body.enabled is True and not subscription.enabled:
        # Enabled again: its failures so far no longer count towards disabling it.
        subscription.enabled = True
        subscription.disabled_reason = subscription.disabled_at = None
        subscription.failing_since = subscription.paused_until = None
        subscription.consecutive_failures = 0
    elif body.enabled is False and subscription.enabled:
        subscription.enabled = False
        subscription.disabled_reason = "manual"
        subscription.disabled_at = now
        await repository.fail_pending(
            session, subscription.id, now=now, reason="the subscription was disabled"
        )
    subscription.version += 1
    subscription.updated_at = now
    await audit.record(
        session,
        actor,
        "webhook.subscription_updated",
        "webhook_subscription",
        str(subscription.id),
        {"fields": sorted(sent)},
    )
    return Ok(subscription)


async def delete_subscription(
    session: AsyncSession,
    subscription_id: uuid.UUID,
    *,
    expected_version: int | None,
    actor: Actor,
) -> Result[None, DomainError]:
    """Its deliveries and their log go with it; a delivery job still queued does nothing."""
    match await _for_change(session, subscription_id, expected_version, actor):
        case Err() as err:
            return err
        case Ok(subscription):
            await repository.delete(session, subscription)
    await audit.record(
        session, actor, "webhook.subscription_deleted", "webhook_subscription", str(subscription_id)
    )
    return Ok(None)


@dataclass(frozen=True, slots=True)
class Rotated:
    subscription: WebhookSubscription
    secret: str
    previous_expires_at: datetime


async def rotate_secret(
    session: AsyncSession,
    subscription_id: uuid.UUID,
    *,
    actor: Actor,
    cipher: FieldCipher,
    policy: DeliveryPolicy = DEFAULT_POLICY,
) -> Result[Rotated, DomainError]:
    """A new secret; the current one keeps signing beside it for a day (every delivery then
    carries both signatures), so a receiver switches without missing one."""
    match await _for_change(session, subscription_id, None, actor):
        case Err() as err:
            return err
        case Ok(subscription):
            pass
    now = clock.now()
    current = reveal_secret(subscription, cipher)
    secret = new_secret()
    subscription.previous_secret = cipher.encrypt(
        current, context=secret_context(subscription.id, previous=True)
    )
    subscription.previous_secret_expires_at = now + policy.rotation_overlap
    subscription.secret = cipher.encrypt(secret, context=secret_context(subscription.id))
    subscription.version += 1
    subscription.updated_at = now
    await audit.record(
        session, actor, "webhook.secret_rotated", "webhook_subscription", str(subscription.id)
    )
    return Ok(Rotated(subscription, secret, subscription.previous_secret_expires_at))
