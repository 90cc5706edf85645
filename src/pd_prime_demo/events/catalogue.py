"""The catalogue: every event type the platform publishes, with its payload's schema.

An event type is ``<family>.<what happened>``; a subscriber filters by exact types or by a
family (``policy.*``). ``visibility`` says who may read events of the type: ``customer``
events belong to a customer (its own logins, its agent and company-wide staff see them),
``staff`` events are the company's own (company-wide staff and system actors only),
``admin`` events are notices about an API client, for administrators and for the client's
owner (the user named by the payload's ``owner_id``, and that user's clients). ``internal``
types are the platform's own messages between its parts (a webhook replay asked for): they
are in no reader's stream, socket or catalogue listing.

A new ``emit(...)`` topic is added here with its payload model (``events.payloads``); the
catalogue test fails for a topic the code emits that is missing, or a payload that does not
match its schema. Types are never renamed or re-purposed: a changed meaning is a new type.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from pydantic import BaseModel

from pd_prime_demo.events import payloads as p

Visibility = Literal["customer", "staff", "admin", "internal"]
OWNER_MEMBER = "owner_id"  # of an admin event's payload: the user it is also for


@dataclass(frozen=True, slots=True)
class EventType:
    name: str
    summary: str
    aggregate_type: str
    payload: type[BaseModel]
    visibility: Visibility = "customer"

    @property
    def family(self) -> str:
        return self.name.split(".", 1)[0]


def _quote_moves() -> list[EventType]:
    moves: list[tuple[str, str, type[BaseModel]]] = [
        ("draft", "A quote was changed and is a draft again until submitted.", p.QuoteMoved),
        ("quoted", "A quote was rated and no underwriting rule held it.", p.QuoteAssessed),
        ("referred", "A quote awaits an underwriter: a rule referred it.", p.QuoteAssessed),
        ("approved", "An underwriter approved a referred quote.", p.QuoteApproved),
        ("declined", "A rule or an underwriter declined a quote.", p.QuoteDeclined),
        ("expired", "A quote passed its validity unbound.", p.QuoteMoved),
        ("bound", "A quote was bound into a policy.", p.QuoteBound),
    ]
    return [EventType(f"quote.{s}", summary, "quote", model) for s, summary, model in moves]


def _policy_transactions() -> list[EventType]:
    kinds = {
        "new_business": "A policy was bound: its first term starts.",
        "endorsement": "A mid-term change of the policy's risk or coverages.",
        "cancellation": "The policy was cancelled from a date.",
        "reinstatement": "A cancelled policy was put back in force.",
        "renewal": "A new term of the policy starts (an accepted renewal).",
        "non_renewal": "Notice that the policy will not renew at the end of its term.",
        "reversal": "A later transaction was undone so that an earlier-dated change goes in "
        "before it (out of sequence); the undone one is applied again after it.",
    }
    return [
        EventType(f"policy.{kind}", summary, "policy", p.PolicyTransacted)
        for kind, summary in kinds.items()
    ]


def _claim_events() -> list[EventType]:
    """A claim's life. The policyholder is told of first notice, every status move and every
    payment; assignment, approvals, reserves and recoveries are the company's own business
    (emitted with no customer, so only company-wide staff read them)."""
    return [
        EventType(
            "claim.reported",
            "First notice of loss was recorded and a claim number assigned.",
            "claim",
            p.ClaimReported,
        ),
        EventType(
            "claim.status_changed",
            "A claim moved in its workflow (opened, under investigation, closed, reopened).",
            "claim",
            p.ClaimStatusChanged,
        ),
        EventType(
            "claim.payment_issued",
            "A payment was made on a claim.",
            "claim",
            p.ClaimPaymentIssued,
        ),
        EventType(
            "claim.assigned",
            "An adjuster was assigned to a claim (or it was reassigned).",
            "claim",
            p.ClaimAssigned,
            "staff",
        ),
        EventType(
            "claim.approval_requested",
            "A reserve or payment above the requester's authority awaits approval.",
            "claim",
            p.ClaimApprovalRequested,
            "staff",
        ),
        EventType(
            "claim.reserve_changed",
            "A claim's case reserve was set or changed.",
            "claim",
            p.ClaimReserveChanged,
            "staff",
        ),
        EventType(
            "claim.recovery_recorded",
            "A salvage or subrogation recovery was recorded on a claim.",
            "claim",
            p.ClaimRecoveryRecorded,
            "staff",
        ),
    ]


_TYPES: list[EventType] = [
    EventType("quote.created", "A quote was started for a customer.", "quote", p.QuoteCreated),
    *_quote_moves(),
    *_policy_transactions(),
    EventType(
        "policy.imported",
        "A policy was converted from another system with its whole history.",
        "policy",
        p.PolicyImported,
    ),
    EventType(
        "policy.change_referred",
        "A change to the policy awaits an underwriter: a rule referred it.",
        "policy",
        p.ChangeReferred,
    ),
    EventType(
        "policy.change_applied",
        "An underwriter approved a referred change and it was applied.",
        "policy",
        p.ChangeDecided,
        "staff",
    ),
    EventType(
        "policy.change_declined",
        "An underwriter declined a referred change.",
        "policy",
        p.ChangeDecided,
        "staff",
    ),
    EventType(
        "policy.renewal_offered",
        "A renewal was offered for the next term, at this premium.",
        "policy",
        p.RenewalOffered,
    ),
    EventType(
        "policy.renewal_repriced",
        "A change to the expiring term changed the open renewal offer's premium.",
        "policy",
        p.RenewalRepriced,
    ),
    EventType(
        "policy.renewal_withdrawn",
        "The open renewal offer was withdrawn: the expiring term no longer renews.",
        "policy",
        p.RenewalEnded,
    ),
    EventType(
        "policy.renewal_lapsed",
        "A renewal offer was not accepted by the start of its term.",
        "policy",
        p.RenewalEnded,
        "staff",
    ),
    EventType("billing.invoiced", "An installment was invoiced.", "policy", p.Invoiced),
    EventType("billing.payment_received", "A payment was received.", "policy", p.PaymentReceived),
    EventType(
        "billing.refund_issued",
        "A credit balance was refunded.",
        "policy",
        p.RefundIssued,
    ),
    EventType(
        "billing.cancellation_notice",
        "An invoice is past due: the policy cancels on the date given unless it is paid.",
        "policy",
        p.CancellationNotice,
    ),
    EventType(
        "document.requested",
        "A document (declarations, invoice) will be drawn after the change commits.",
        "document",
        p.DocumentRequested,
    ),
    EventType(
        "document.ready", "A document was drawn and can be downloaded.", "document", p.DocumentReady
    ),
    EventType(
        "document.failed",
        "Every attempt to draw a document failed; an administrator may retry it.",
        "document",
        p.DocumentFailed,
    ),
    *(
        EventType(
            f"product_version.{status}",
            summary,
            "product_version",
            p.ProductVersionMoved,
            "staff",
        )
        for status, summary in (
            ("approved", "A product version was approved for filing."),
            ("active", "A product version became the one new business and renewals rate on."),
            ("retired", "A product version was retired."),
        )
    ),
    *_claim_events(),
    EventType(
        "webhook.replay_requested",
        "Deliveries of a webhook subscription were queued to be sent again.",
        "webhook_subscription",
        p.WebhookReplayRequested,
        "internal",  # the webhooks' own job message (webhooks.service.deliveries)
    ),
    EventType(
        "webhook.subscription_disabled",
        "A webhook subscription was disabled (its endpoint failed for days, or by hand).",
        "webhook_subscription",
        p.WebhookSubscriptionDisabled,
        "admin",  # it names a client and its owner: not every staff member's business
    ),
]

CATALOGUE: dict[str, EventType] = {t.name: t for t in _TYPES}  # every type the code emits
# What readers may be given, listed and filter by: every type but the internal ones.
PUBLISHED: dict[str, EventType] = {n: t for n, t in CATALOGUE.items() if t.visibility != "internal"}
INTERNAL_TYPES: frozenset[str] = frozenset(CATALOGUE) - frozenset(PUBLISHED)
ADMIN_TYPES: frozenset[str] = frozenset(n for n, t in PUBLISHED.items() if t.visibility == "admin")
FAMILIES: frozenset[str] = frozenset(t.family for t in PUBLISHED.values())

_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_FAMILY = re.compile(r"^([a-z][a-z0-9_]*)\.\*$")


@dataclass(frozen=True, slots=True)
class TypeFilter:
    """Which event types a reader asked for: exact names and whole families; none is all."""

    names: frozenset[str] = frozenset()
    families: frozenset[str] = frozenset()

    @property
    def everything(self) -> bool:
        return not self.names and not self.families

    def admits(self, name: str) -> bool:
        return self.everything or name in self.names or name.split(".", 1)[0] in self.families


def parse_filter(patterns: Iterable[str]) -> TypeFilter | str:
    """The filter for ``patterns`` (``policy.endorsement``, ``policy.*``), or why one of them
    names no type of the catalogue."""
    names: set[str] = set()
    families: set[str] = set()
    for pattern in patterns:
        if (family := _FAMILY.match(pattern)) is not None and family.group(1) in FAMILIES:
            families.add(family.group(1))
        elif pattern in PUBLISHED:
            names.add(pattern)
        elif _NAME.match(pattern) or _FAMILY.match(pattern):
            return f"{pattern!r} is not an event type (see /api/v1/events/types)"
        else:
            return f"{pattern!r} is neither an event type nor a family such as 'policy.*'"
    return TypeFilter(frozenset(names), frozenset(families))


def open_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON Schema of a payload, open to members added later (see ``events.payloads``)."""
    schema = model.model_json_schema()
    schema.pop("additionalProperties", None)
    return schema


@cache
def schemas() -> dict[str, dict[str, Any]]:
    return {name: open_schema(t.payload) for name, t in CATALOGUE.items()}
