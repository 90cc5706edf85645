"""Replaying a converted account's billing day by day (``service.imports``): what
``accounts.on_transaction`` does for each transaction on the day it was booked, the daily
billing run's invoicing in between, and a payment as ``payments.pay`` applies it; pure.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from pd_prime_demo.billing import bulk
from pd_prime_demo.billing.enums import Account
from pd_prime_demo.billing.ledger import Line, UnbalancedEntryError, credit, debit
from pd_prime_demo.billing.rules import ScheduleRow, fit_schedule, installment_schedule
from pd_prime_demo.billing.service.accounts import AccountOpening, PremiumChange
from pd_prime_demo.premium.earning import Earning

ZERO = Decimal(0)
CONVERSION_METHOD = bulk.CONVERSION_METHOD


@dataclass(frozen=True, slots=True)
class BookedChange:
    """A converted transaction as billing sees it, and the day it was booked: the day live
    business would have recorded it, so the day its installments are fitted as of."""

    change: PremiumChange
    booked_on: date


@dataclass(slots=True)
class _Installment:
    id: uuid.UUID
    term_start: date
    seq: int
    due_on: date
    amount: Decimal
    fee: Decimal
    live_since: date  # the day it was scheduled (or brought back): the run may bill it from then
    invoice_number: str | None = None
    invoiced_on: date | None = None
    cancelled_on: date | None = None


@dataclass(slots=True)
class _Term:
    term_end: date
    total: Decimal
    cover_ends_on: date | None = None
    installments: list[_Installment] = field(default_factory=list)


class Replay:
    """One account's billing, replayed day by day (see the module's docstring)."""

    def __init__(self, opening: AccountOpening, now: datetime) -> None:
        self.opening = opening
        self.now = now
        plan = next(p for p in opening.rules.payment_plans if p.code == opening.payment_plan)
        self.installment_fee = plan.installment_fee
        self.lead = timedelta(days=opening.rules.invoice_lead_days)
        self.terms: dict[date, _Term] = {}
        self.pieces: list[dict[str, Any]] = []
        self.postings: list[bulk.Posting] = []
        self.owed = ZERO  # the ledger's premium receivable

    def _post(self, source: str, source_id: str, memo: str, on: date, lines: list[Line]) -> None:
        """``ledger.post``: a balanced entry, its zero lines dropped (nothing: no entry)."""
        kept = tuple(line for line in lines if line.debit or line.credit)
        debits = credits = owed = ZERO
        for line in kept:
            debits += line.debit
            credits += line.credit
            if line.account is Account.RECEIVABLE:
                owed += line.debit - line.credit
        if debits != credits:
            raise UnbalancedEntryError(f"{source} {source_id}: debits {debits} != {credits}")
        if kept:
            self.postings.append(
                bulk.Posting(self.opening.policy_id, source, source_id, memo, on, kept)
            )
            self.owed += owed

    def record(self, booked: BookedChange) -> None:
        """``accounts.on_transaction`` for one transaction, on the day it was booked."""
        change, today = booked.change, booked.booked_on
        self._post(
            change.source,
            str(change.source_id),
            change.memo,
            change.accounting_on,
            [
                debit(Account.RECEIVABLE, change.total),
                credit(Account.UNEARNED, change.premium),
                credit(Account.FEES, change.fees),
                credit(Account.TAXES, change.taxes),
            ],
        )
        self.pieces += [self._piece(change, e) for e in change.earnings if e.amount != 0]
        term = self.terms.get(change.term_start)
        if term is None:
            assert change.opens_term, "only new business or a renewal opens a term"
            term = self.terms[change.term_start] = _Term(change.term_end, change.total)
            term.installments = [
                _Installment(
                    uuid.uuid4(), change.term_start, i.seq, i.due_on, i.amount, i.fee, today
                )
                for i in installment_schedule(
                    change.total,
                    change.term_start,
                    change.term_months,
                    self.opening.payment_plan,
                    self.installment_fee,
                )
            ]
            return
        term.total += change.total
        term.cover_ends_on = change.cover_ends_on
        self._fit(change.term_start, term, today, due_if_new=max(change.effective_on, today))

    def _piece(self, change: PremiumChange, earning: Earning) -> dict[str, Any]:
        term = earning.term or (change.term_start, change.term_end)
        return {
            "policy_id": change.policy_id,
            "source_id": change.source_id,
            "product_code": self.opening.product_code,
            "state": self.opening.state,
            "accounting_on": change.accounting_on,
            "recorded_at": self.now,
            "amount": earning.amount,
            "start_on": earning.start,
            "end_on": earning.end,
            "basis": earning.basis.value,
            "term_start": term[0],
            "term_end": term[1],
        }

    def _fit(self, term_start: date, term: _Term, today: date, *, due_if_new: date) -> None:
        rows = term.installments
        fitted = fit_schedule(
            [
                ScheduleRow(r.seq, r.due_on, r.amount, r.invoice_number is not None, r.cancelled_on)
                for r in rows
            ],
            target=term.total,
            cover_ends_on=term.cover_ends_on,
            today=today,
            due_if_new=due_if_new,
        )
        for row, fit in zip(rows, fitted.rows, strict=True):
            if row.cancelled_on is not None and fit.cancelled_on is None:
                row.live_since = today  # brought back by a reinstatement
            row.amount, row.due_on, row.cancelled_on = fit.amount, fit.due_on, fit.cancelled_on
        if (added := fitted.added) is not None:
            rows.append(
                _Installment(
                    uuid.uuid4(), term_start, added.seq, added.due_on, added.amount, ZERO, today
                )
            )

    def invoice_through(self, last_day: date) -> None:
        """The daily billing runs up to and including ``last_day`` (``invoicing``): each run
        invoices what falls due within the lead time and is live on its day."""
        serial = self.opening.policy_serial
        for term in self.terms.values():
            for row in term.installments:
                if row.invoice_number is not None or row.cancelled_on is not None:
                    continue
                run_day = max(row.live_since, row.due_on - self.lead)
                if run_day > last_day:
                    continue
                row.invoice_number = f"INV-{serial}-{row.term_start:%Y%m%d}-{row.seq:02d}"
                row.invoiced_on = run_day
                self._post(
                    "billing.installment_fee",
                    str(row.id),
                    f"{row.invoice_number} installment fee",
                    run_day,
                    [debit(Account.RECEIVABLE, row.fee), credit(Account.FEES, row.fee)],
                )

    def in_due_order(self) -> list[_Installment]:
        rows = [r for term in self.terms.values() for r in term.installments]
        return sorted(rows, key=lambda r: (r.due_on, r.term_start, r.seq))

    def billed_beyond(self) -> Decimal:
        """What the live installments bill beyond what their terms bill (``views.view``)."""
        live = sum(
            (
                r.amount
                for t in self.terms.values()
                for r in t.installments
                if r.cancelled_on is None
            ),
            ZERO,
        )
        return live - sum((t.total for t in self.terms.values()), ZERO)

    def receive(
        self, paid: list[tuple[date, Decimal]], *, on: date, received_by: str
    ) -> list[dict[str, Any]]:
        """Post what the legacy system received, a payment per term (``payments.pay``): each
        settles the live installments oldest first, after what was received before it."""
        rows = self.in_due_order()
        received = self.billed_beyond()
        payments = []
        for term_start, amount in paid:
            if amount <= 0:
                continue
            before, after = allocate(rows, received), allocate(rows, received + amount)
            received += amount
            payment_id = uuid.uuid4()
            method = CONVERSION_METHOD
            payments.append(
                {
                    "id": payment_id,
                    "policy_id": self.opening.policy_id,
                    "amount": amount,
                    "method": method,
                    "idempotency_key": f"conversion:{term_start.isoformat()}",
                    "request_hash": hashlib.sha256(f"{amount}|{method}".encode()).hexdigest(),
                    "received_at": self.now,
                    "received_by": received_by,
                    "settled": [
                        {
                            "term_start": row.term_start.isoformat(),
                            "seq": row.seq,
                            "due_on": row.due_on.isoformat(),
                            "invoice_number": row.invoice_number,
                            "amount": str(paid_after - paid_before),
                        }
                        for row, paid_before, paid_after in zip(rows, before, after, strict=True)
                        if paid_after != paid_before
                    ],
                }
            )
            self._post(
                "billing.payment",
                str(payment_id),
                f"{self.opening.policy_number} payment ({method})",
                on,
                [debit(Account.CASH, amount), credit(Account.RECEIVABLE, amount)],
            )
        return payments


def allocate(rows: list[_Installment], available: Decimal) -> list[Decimal]:
    """What ``available`` money pays of each installment, in due order (``views.allocate``)."""
    paid = []
    for row in rows:
        if row.cancelled_on is not None:
            paid.append(ZERO)
            continue
        due = row.amount + (row.fee if row.invoice_number is not None else ZERO)
        applied = max(min(available, due), ZERO)
        available -= applied
        paid.append(applied)
    return paid
