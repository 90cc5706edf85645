"""Billing accounts: opened at bind, fitted to every policy transaction, and read.

A transaction posts its premium, fees and taxes to the ledger (receivable against unearned
premium, fee income and taxes payable), records how its premium is earned, and fits the term's
installments to what the term now bills.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.billing import ledger, repository
from pd_prime_demo.billing.enums import Account
from pd_prime_demo.billing.ledger import credit, debit
from pd_prime_demo.billing.models import BillingAccount, BillingTerm, InstallmentRow
from pd_prime_demo.billing.rules import ScheduleRow, fit_schedule, installment_schedule
from pd_prime_demo.billing.service.refunds import refund_if_due
from pd_prime_demo.core import clock
from pd_prime_demo.premium.earning import Earning
from pd_prime_demo.rating.definition import Billing, PaymentPlan, ProductVersionDefinition

ZERO = Decimal(0)


def plans_for(defn: ProductVersionDefinition) -> list[PaymentPlan]:
    return list(defn.billing.payment_plans)


@dataclass(frozen=True, slots=True)
class AccountOpening:
    """What billing keeps about a newly bound policy."""

    policy_id: uuid.UUID
    policy_number: str
    policy_serial: int
    customer_id: uuid.UUID
    product_code: str
    state: str
    payment_plan: str
    rules: Billing


async def open_account(session: AsyncSession, opening: AccountOpening) -> None:
    plan = next(p for p in opening.rules.payment_plans if p.code == opening.payment_plan)
    session.add(
        BillingAccount(
            policy_id=opening.policy_id,
            policy_number=opening.policy_number,
            policy_serial=opening.policy_serial,
            customer_id=opening.customer_id,
            product_code=opening.product_code,
            state=opening.state,
            payment_plan=opening.payment_plan,
            installment_fee=plan.installment_fee,
            invoice_lead_days=opening.rules.invoice_lead_days,
            grace_days=opening.rules.grace_days,
            notice_days=opening.rules.notice_days,
            opened_at=clock.now(),
        )
    )


@dataclass(frozen=True, slots=True)
class PremiumChange:
    """One policy transaction as billing sees it: money written and how it is earned."""

    policy_id: uuid.UUID
    source_id: uuid.UUID  # the policy transaction
    source: str  # "policy.<kind>", the ledger entry's source
    memo: str
    effective_on: date
    accounting_on: date
    term_start: date
    term_end: date
    term_months: int
    premium: Decimal
    fees: Decimal
    taxes: Decimal
    earnings: tuple[Earning, ...]
    opens_term: bool = False  # new business or renewal: the term's schedule starts here
    # When the term's cover ends early once this transaction is in (a cancellation), or None:
    # installments due from then are void.
    cover_ends_on: date | None = None

    @property
    def total(self) -> Decimal:
        return self.premium + self.fees + self.taxes


async def on_transaction(
    session: AsyncSession, change: PremiumChange, *, settle: bool = True
) -> None:
    """Post the transaction to the ledger and record how its premium is earned; then (unless
    the caller settles a batch itself, see :func:`settle`) fit the term's installments to it
    and refund any credit nothing will bill."""
    # Locked: a transaction's billing serialises with payments and the billing run on it.
    account = await repository.account(session, change.policy_id, for_update=True)
    assert account is not None, "a policy's account is opened when it is bound"
    total = change.total
    await ledger.post(
        session,
        policy_id=change.policy_id,
        source=change.source,
        source_id=str(change.source_id),
        memo=change.memo,
        accounting_on=change.accounting_on,
        lines=[
            debit(Account.RECEIVABLE, total),
            credit(Account.UNEARNED, change.premium),
            credit(Account.FEES, change.fees),
            credit(Account.TAXES, change.taxes),
        ],
    )
    await repository.add_earnings(session, _pieces(account, change))
    term = await repository.term(session, change.policy_id, change.term_start)
    if term is None:
        assert change.opens_term, "only new business or a renewal opens a term"
        session.add(
            BillingTerm(
                policy_id=change.policy_id,
                term_start=change.term_start,
                term_end=change.term_end,
                total=total,
                cover_ends_on=None,
            )
        )
        for item in installment_schedule(
            total,
            change.term_start,
            change.term_months,
            account.payment_plan,
            account.installment_fee,
        ):
            session.add(
                InstallmentRow(
                    policy_id=change.policy_id,
                    term_start=change.term_start,
                    seq=item.seq,
                    due_on=item.due_on,
                    amount=item.amount,
                    fee=item.fee,
                )
            )
        await session.flush()
        return
    # A renewal re-applied after an out-of-sequence change finds its term: it bills again.
    term.total += total
    term.cover_ends_on = change.cover_ends_on
    if settle:
        await _fit(session, term, due_if_new=max(change.effective_on, clock.today()))
        if total < 0:
            # Only a fall in what is owed can leave a credit; payments refund their own excess.
            await refund_if_due(session, change.policy_id)


async def settle(session: AsyncSession, policy_id: uuid.UUID, term_starts: set[date]) -> None:
    """Fit the installments of each term to what it bills, then refund what nothing will bill
    (after a batch of transactions recorded with ``settle=False``)."""
    for term_start in sorted(term_starts):
        term = await repository.term(session, policy_id, term_start)
        assert term is not None
        await _fit(session, term, due_if_new=clock.today())
    await refund_if_due(session, policy_id)


def _pieces(account: BillingAccount, change: PremiumChange) -> list[dict[str, object]]:
    now = clock.now()
    return [
        {
            "policy_id": change.policy_id,
            "source_id": change.source_id,
            "product_code": account.product_code,
            "state": account.state,
            "accounting_on": change.accounting_on,
            "recorded_at": now,
            "amount": e.amount,
            "start_on": e.start,
            "end_on": e.end,
            "basis": e.basis.value,
            "term_start": (e.term or (change.term_start, change.term_end))[0],
            "term_end": (e.term or (change.term_start, change.term_end))[1],
        }
        for e in change.earnings
        if e.amount != 0
    ]


async def _fit(session: AsyncSession, term: BillingTerm, *, due_if_new: date) -> None:
    """Fit the term's installments to what it now bills (``billing.rules.fit_schedule``)."""
    rows = await repository.installments_of_term(session, term.policy_id, term.term_start)
    fitted = fit_schedule(
        [
            ScheduleRow(r.seq, r.due_on, r.amount, r.invoice_number is not None, r.cancelled_on)
            for r in rows
        ],
        target=term.total,
        cover_ends_on=term.cover_ends_on,
        today=clock.today(),
        due_if_new=due_if_new,
    )
    for row, fit in zip(rows, fitted.rows, strict=True):
        row.amount, row.due_on, row.cancelled_on = fit.amount, fit.due_on, fit.cancelled_on
    if (added := fitted.added) is not None:
        session.add(
            InstallmentRow(
                policy_id=term.policy_id,
                term_start=term.term_start,
                seq=added.seq,
                due_on=added.due_on,
                amount=added.amount,
                fee=ZERO,
            )
        )
    await session.flush()
