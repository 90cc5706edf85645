"""Invoices: issued ahead of each installment's due date, with the installment fee."""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.billing import ledger, repository
from pd_prime_demo.billing.enums import Account
from pd_prime_demo.billing.ledger import credit, debit
from pd_prime_demo.billing.models import BillingAccount, InstallmentRow
from pd_prime_demo.core import clock
from pd_prime_demo.core.outbox import emit
from pd_prime_demo.documents import service as documents

MAX_LEAD_DAYS = 60  # the upper bound of Billing.invoice_lead_days: bounds the scan by index


async def invoice_due(session: AsyncSession, *, through: date) -> int:
    """Invoice every installment due within its product's lead time of ``through``."""
    rows = await repository.due_for_invoice(session, through=through, max_lead_days=MAX_LEAD_DAYS)
    for row, account in rows:
        await issue_invoice(session, account, row)
    return len(rows)


async def issue_invoice(
    session: AsyncSession, account: BillingAccount, row: InstallmentRow
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
    await session.flush()
    balance = (await ledger.balances(session, policy_id=account.policy_id))[Account.RECEIVABLE]
    await documents.request_invoice(
        session,
        documents.Invoice(
            policy_id=account.policy_id,
            policy_number=account.policy_number,
            product_code=account.product_code,
            state=account.state,
            installment_id=row.id,
            invoice_number=row.invoice_number,
            invoiced_on=row.invoiced_on,
            due_on=row.due_on,
            seq=row.seq,
            term_start=row.term_start,
            amount=row.amount,
            fee=row.fee,
            balance=balance,
            customer_id=account.customer_id,
        ),
    )
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
