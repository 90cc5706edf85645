"""Converted accounts: the billing of a policy loaded from another system, written as live
business would have written it, for a whole chunk of policies at once.

A conversion replays each account's history as PD Prime would have lived it: every transaction
is posted to the ledger and its premium pieces recorded as ``on_transaction`` does, on the day
it was booked; the term's installments are scheduled when the term opens and fitted after every
later transaction as of its booking day (``billing.rules``); and the billing run of every day
before the conversion is replayed, so an installment is invoiced (its fee posted) on the day the
daily run would have invoiced it. Those invoices are the legacy system's: no invoice document or
event is made for them. What the legacy system received for a term (``paid``) is posted as one
payment on the conversion day and settles the installments oldest first, as any payment does.
It may not exceed what the account owes: a refund the legacy system owes is settled there
before converting, so a conversion never pays money out.

Nothing here is per-row ORM work: :func:`plan_converted_account` is pure, and
:func:`open_converted_accounts` writes a chunk's rows in a few statements (``billing.bulk``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.billing import bulk
from pd_prime_demo.billing.service.accounts import AccountOpening
from pd_prime_demo.billing.service.replay import CONVERSION_METHOD, BookedChange, Replay
from pd_prime_demo.core.result_types import Err, Ok, Result

ZERO = Decimal(0)
DAY = timedelta(days=1)
AccountRows = bulk.Rows  # what :func:`plan_converted_account` plans for one account


@dataclass(frozen=True, slots=True)
class ConvertedAccount:
    opening: AccountOpening
    changes: tuple[BookedChange, ...]  # in the order they took effect
    paid: tuple[tuple[date, Decimal], ...] = ()  # (term start, what the legacy system received)


@dataclass(frozen=True, slots=True)
class PaidTooMuch:
    """What the legacy system received exceeds what the account owes."""

    owed: Decimal
    paid: Decimal


def plan_converted_account(
    account: ConvertedAccount, *, on: date, now: datetime, received_by: str
) -> Result[bulk.Rows, PaidTooMuch]:
    """Every billing row of one converted account, converted on ``on`` (pure)."""
    opening = account.opening
    replay = Replay(opening, now)
    for booked in sorted(account.changes, key=lambda b: b.booked_on):  # stable: same day, as given
        replay.invoice_through(booked.booked_on - DAY)
        replay.record(booked)
    replay.invoice_through(on - DAY)
    paid_total = sum((amount for _, amount in account.paid), ZERO)
    if paid_total > replay.owed:
        return Err(PaidTooMuch(replay.owed, paid_total))
    payments = replay.receive(sorted(account.paid), on=on, received_by=received_by)
    return Ok(_rows(replay, payments))


def _rows(replay: Replay, payments: list[dict[str, Any]]) -> bulk.Rows:
    opening, now = replay.opening, replay.now
    rules = opening.rules
    return bulk.Rows(
        accounts=[
            {
                "policy_id": opening.policy_id,
                "policy_number": opening.policy_number,
                "policy_serial": opening.policy_serial,
                "customer_id": opening.customer_id,
                "product_code": opening.product_code,
                "state": opening.state,
                "payment_plan": opening.payment_plan,
                "installment_fee": replay.installment_fee,
                "invoice_lead_days": rules.invoice_lead_days,
                "grace_days": rules.grace_days,
                "notice_days": rules.notice_days,
                "opened_at": now,
            }
        ],
        terms=[
            {
                "policy_id": opening.policy_id,
                "term_start": start,
                "term_end": term.term_end,
                "total": term.total,
                "cover_ends_on": term.cover_ends_on,
                "recorded_at": now,
            }
            for start, term in replay.terms.items()
        ],
        installments=[
            {
                "id": row.id,
                "policy_id": opening.policy_id,
                "term_start": row.term_start,
                "seq": row.seq,
                "due_on": row.due_on,
                "amount": row.amount,
                "fee": row.fee,
                "invoice_number": row.invoice_number,
                "invoiced_on": row.invoiced_on,
                "cancelled_on": row.cancelled_on,
                "notice_sent_on": None,
                "cancel_effective_on": None,
                "recorded_at": now,
            }
            for term in replay.terms.values()
            for row in term.installments
        ],
        pieces=replay.pieces,
        payments=payments,
        postings=replay.postings,
    )


def merge(plans: Sequence[bulk.Rows]) -> bulk.Rows:
    """One chunk's rows from its accounts' rows."""
    merged = bulk.Rows([], [], [], [], [], [])
    for rows in plans:
        merged.accounts += rows.accounts
        merged.terms += rows.terms
        merged.installments += rows.installments
        merged.pieces += rows.pieces
        merged.payments += rows.payments
        merged.postings += rows.postings
    return merged


async def open_converted_accounts(
    session: AsyncSession, plans: Sequence[bulk.Rows], *, now: datetime
) -> None:
    """Write the planned accounts of a chunk (their policies' rows must be written first)."""
    await bulk.insert_rows(session, merge(plans), now=now)


async def conversion_payments(
    session: AsyncSession, policy_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, dict[date, Decimal]]:
    """What a conversion posted as received, by policy and term start (to compare a re-run)."""
    found = await bulk.conversion_payments(session, policy_ids)
    return {
        policy_id: {
            date.fromisoformat(key.split(":", 1)[1]): amount for key, amount in keys.items()
        }
        for policy_id, keys in found.items()
    }


__all__ = [
    "CONVERSION_METHOD",
    "AccountRows",
    "BookedChange",
    "ConvertedAccount",
    "PaidTooMuch",
    "conversion_payments",
    "open_converted_accounts",
    "plan_converted_account",
]
