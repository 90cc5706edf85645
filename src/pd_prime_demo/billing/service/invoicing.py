"""Invoices: issued ahead of each installment's due date, with the installment fee, and the
invoice document (``documents`` kind ``invoice``) that prints it.

What an invoice prints beyond its own installment (installment x of n, what is past due, the
payments since the last invoice) needs the whole account as allocated; the run reads that in
five queries per 500 accounts it invoices (:class:`_Accounts`, the ledger's receivable
among them), not per invoice, and keeps it
current as it issues: the installment rows it reads are the session's own, so an invoice
issued earlier in the run shows, fee included, on the next one of the same account.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.billing import ledger, repository
from pd_prime_demo.billing.enums import Account
from pd_prime_demo.billing.ledger import credit, debit
from pd_prime_demo.billing.models import BillingAccount, BillingTerm, InstallmentRow, Payment
from pd_prime_demo.billing.service.documents import ProductNames, invoice_facts
from pd_prime_demo.billing.service.views import allocate
from pd_prime_demo.core import clock
from pd_prime_demo.core.outbox import emit
from pd_prime_demo.documents import service as documents

MAX_LEAD_DAYS = 60  # the upper bound of Billing.invoice_lead_days: bounds the scan by index
CHUNK_ACCOUNTS = 500  # accounts whose installments and money are read at once
ZERO = Decimal(0)


@dataclass
class _Accounts:
    """A chunk of invoiced accounts' installments, terms and money, read once (see the
    module's docstring) and the run's product names."""

    installments: dict[uuid.UUID, list[InstallmentRow]] = field(default_factory=dict)
    terms: dict[uuid.UUID, list[BillingTerm]] = field(default_factory=dict)
    payments: dict[uuid.UUID, list[Payment]] = field(default_factory=dict)
    refunded: dict[uuid.UUID, Decimal] = field(default_factory=dict)
    # The ledger's receivable, read once and kept current with the fees the chunk posts.
    receivable: dict[uuid.UUID, Decimal] = field(default_factory=dict)
    products: ProductNames = field(default_factory=ProductNames)

    @classmethod
    async def read(cls, session: AsyncSession, policy_ids: list[uuid.UUID]) -> _Accounts:
        found = cls()
        if not policy_ids:
            return found
        installments: defaultdict[uuid.UUID, list[InstallmentRow]] = defaultdict(list)
        for row in await repository.installments_of_accounts(session, policy_ids):
            installments[row.policy_id].append(row)
        terms: defaultdict[uuid.UUID, list[BillingTerm]] = defaultdict(list)
        for term in await repository.terms_of_accounts(session, policy_ids):
            terms[term.policy_id].append(term)
        payments: defaultdict[uuid.UUID, list[Payment]] = defaultdict(list)
        for payment in await repository.payments_of_accounts(session, policy_ids):
            payments[payment.policy_id].append(payment)
        found.installments, found.terms, found.payments = installments, terms, payments
        found.refunded = await repository.refunded_of_accounts(session, policy_ids)
        found.receivable = await repository.receivable_of_accounts(session, policy_ids)
        return found


async def invoice_due(
    session: AsyncSession, *, through: date, products: ProductNames | None = None
) -> int:
    """Invoice every installment due within its product's lead time of ``through``.

    The accounts' installments and money are read a chunk of accounts at a time (bounded
    memory on a big run); the product names once for the run (``products``, shared with the
    run's notices)."""
    rows = await repository.due_for_invoice(session, through=through, max_lead_days=MAX_LEAD_DAYS)
    products = products or ProductNames()
    for chunk in _chunks(rows):
        accounts = await _Accounts.read(session, sorted({a.policy_id for _, a in chunk}))
        accounts.products = products
        for row, account in chunk:
            await issue_invoice(session, account, row, accounts)
    return len(rows)


async def invoice_accounts(
    session: AsyncSession,
    policy_ids: Sequence[uuid.UUID],
    *,
    through: date,
    products: ProductNames | None = None,
) -> int:
    """Invoice what is due within its lead time of ``through`` on these accounts (a chunk of
    the billing run): the accounts are locked first, in id order, and their installments read
    afresh under the locks, so a chunk done again, or a run beside it, finds each installment
    invoiced once. The chunk's accounts are read in one pass (:class:`_Accounts`)."""
    await repository.lock_accounts(session, policy_ids)
    rows = await repository.due_for_invoice_of(session, policy_ids, through=through)
    products = products or ProductNames()
    for chunk in _chunks(rows):
        accounts = await _Accounts.read(session, sorted({a.policy_id for _, a in chunk}))
        accounts.products = products
        for row, account in chunk:
            await issue_invoice(session, account, row, accounts)
    return len(rows)


def _chunks(
    rows: Sequence[tuple[InstallmentRow, BillingAccount]],
) -> Iterator[list[tuple[InstallmentRow, BillingAccount]]]:
    """The rows in due order, cut every ``CHUNK_ACCOUNTS`` accounts (an account's invoices
    stay in one chunk: each reads the account as the earlier ones left it)."""
    by_account: dict[uuid.UUID, list[tuple[InstallmentRow, BillingAccount]]] = {}
    for row, account in rows:
        by_account.setdefault(account.policy_id, []).append((row, account))
    groups = list(by_account.values())
    for start in range(0, len(groups), CHUNK_ACCOUNTS):
        chunk = [pair for group in groups[start : start + CHUNK_ACCOUNTS] for pair in group]
        yield sorted(chunk, key=lambda pair: pair[0].due_on)


async def issue_invoice(
    session: AsyncSession, account: BillingAccount, row: InstallmentRow, accounts: _Accounts
) -> None:
    row.invoice_number = f"INV-{account.policy_serial}-{row.term_start:%Y%m%d}-{row.seq:02d}"
    row.invoiced_on = clock.today()
    await ledger.post(
        session,
        policy_id=account.policy_id,
        source="billing.installment_fee",
        source_id=str(row.id),
        memo=f"{row.invoice_number} installment fee",
        lines=[debit(Account.RECEIVABLE, row.fee), credit(Account.FEES, row.fee)],
    )
    # What the ledger's receivable is after this fee: the chunk's reading plus the fees posted
    # since (no other posting reaches these accounts while the run holds their locks).
    balance = accounts.receivable.get(account.policy_id, ZERO) + row.fee
    accounts.receivable[account.policy_id] = balance
    await session.flush()
    await _request_document(session, account, row, accounts, balance)
    emit(
        session,
        "billing.invoiced",
        "policy",
        str(account.policy_id),
        {
            "invoice": row.invoice_number,
            "due_on": row.due_on.isoformat(),
            "amount": str(row.amount + row.fee),
        },
        customer_id=account.customer_id,
    )


async def _request_document(
    session: AsyncSession,
    account: BillingAccount,
    row: InstallmentRow,
    accounts: _Accounts,
    balance: Decimal,
) -> None:
    """The invoice's page, allocated as ``views.view`` allocates: payments net of refunds, and
    what invoices billed beyond what their term now bills, applied oldest first."""
    policy_id = account.policy_id
    rows = accounts.installments[policy_id]
    terms = accounts.terms[policy_id]
    payments = accounts.payments.get(policy_id, [])
    paid = sum((p.amount for p in payments), ZERO)
    live = sum((r.amount for r in rows if r.cancelled_on is None), ZERO)
    billed_beyond = live - sum((t.total for t in terms), ZERO)
    available = paid - accounts.refunded.get(policy_id, ZERO) + billed_beyond
    installments, left_over = allocate(list(rows), available)
    assert row.invoice_number is not None
    facts = invoice_facts(
        account,
        row,
        installments,
        credit=left_over,
        balance=balance,
        payments=payments,
        product_name=await accounts.products.name(session, account.product_code, account.state),
        term_end=next(t.term_end for t in terms if t.term_start == row.term_start),
        zone=await accounts.products.zone(session, account.product_code, account.state),
    )
    await documents.request(
        session,
        kind="invoice",
        policy_id=policy_id,
        source_id=str(row.id),
        filename=f"{row.invoice_number}.pdf",
        product_code=account.product_code,
        facts=facts.model_dump(mode="json"),
        customer_id=account.customer_id,
        issued_at=clock.now(),
    )
