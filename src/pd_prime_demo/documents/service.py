"""Declarations pages and invoices: their layouts, filled from the record, rendered to PDF.

The wording and arrangement of each document live in its layout function below
(``declarations_layout``, ``invoice_layout``); ``documents.pdf`` draws them with fpdf2 (pure
Python, no system libraries). Each document is stored once with its SHA-256, so what was issued
can be proven later.
"""

from __future__ import annotations

import hashlib
import uuid
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.core import clock
from pd_prime_demo.documents import pdf
from pd_prime_demo.documents.models import Document

if TYPE_CHECKING:
    from pd_prime_demo.billing.models import InstallmentRow
    from pd_prime_demo.policies.models import Policy, PolicyTransaction


def _words(code: str | None) -> str:
    return (code or "").replace("_", " ")


def declarations_layout(
    policy: Policy,
    txn: PolicyTransaction,
    *,
    insured: dict[str, str],
    coverage_names: dict[str, str],
    product_name: str,
) -> pdf.Layout:
    snap: dict[str, Any] = txn.snapshot
    choices: dict[str, dict[str, Any]] = snap["coverages"]
    reason = f" ({_words(txn.reason_code)})" if txn.reason_code else ""
    blocks: list[pdf.Block] = [
        pdf.Heading("Policy declarations"),
        pdf.Fields(
            (
                ("Policy", policy.number),
                ("Product", f"{product_name} ({policy.state})"),
                ("Rate version", str(snap["rate_version"])),
            )
        ),
        pdf.Fields(
            (
                (
                    "Transaction",
                    f"#{txn.seq} {_words(txn.kind)}, effective {txn.effective_on}{reason}",
                ),
            )
        ),
        pdf.Fields(
            (
                (
                    "Policy period",
                    f"{snap['term_start']} to {snap['term_end']} (12:01 a.m. standard time)",
                ),
                ("Status", _words(snap["status"])),
            )
        ),
        pdf.Fields((("Named insured", insured["name"]), ("Mailing address", insured["address"]))),
        pdf.Fields((("Payment plan", _words(policy.payment_plan)),)),
        pdf.Heading("Coverages", size=13),
        pdf.Table(
            (
                pdf.Column("Coverage", 0.4),
                pdf.Column("Limit", 0.2),
                pdf.Column("Deductible", 0.2),
                pdf.Column("Term premium", 0.2, "R"),
            ),
            tuple(
                (
                    coverage_names.get(code, code),
                    str(choices.get(code, {}).get("limit") or "-"),
                    str(choices.get(code, {}).get("deductible") or "-"),
                    _money(premium),
                )
                for code, premium in sorted(snap["coverage_premiums"].items())
            ),
        ),
        pdf.Fields(
            (
                ("Term premium", _money(snap["term_premium"])),
                ("Fees", _money(snap["fees"])),
                ("Taxes and assessments", _money(snap["taxes"])),
            )
        ),
        pdf.Fields(
            (
                (
                    "This transaction",
                    f"premium {_money(txn.premium_change)}, fees {_money(txn.fees_change)}, "
                    f"taxes {_money(txn.taxes_change)}",
                ),
            )
        ),
    ]
    if cancellation := snap.get("cancellation"):
        blocks.append(
            pdf.Fields(
                (
                    (
                        "Cancelled",
                        f"effective {cancellation['effective_on']} "
                        f"({_words(cancellation['method'])}); return premium "
                        f"{_money(cancellation['return_premium'])}",
                    ),
                )
            )
        )
    blocks.append(
        pdf.Paragraph(
            f"Issued {txn.created_at.date()}. This declarations page, with the policy form and "
            "endorsements, makes up the policy."
        )
    )
    return pdf.Layout(f"Declarations {policy.number}", tuple(blocks))


def invoice_layout(policy: Policy, row: InstallmentRow, *, balance: Decimal) -> pdf.Layout:
    return pdf.Layout(
        f"Invoice {row.invoice_number}",
        (
            pdf.Heading(f"Invoice {row.invoice_number}"),
            pdf.Fields((("Policy", f"{policy.number} ({policy.product_code}, {policy.state})"),)),
            pdf.Fields((("Invoice date", str(row.invoiced_on)), ("Due", str(row.due_on)))),
            pdf.Table(
                (pdf.Column("Item", 0.7), pdf.Column("Amount", 0.3, "R")),
                (
                    (
                        f"Installment {row.seq} of the term starting {row.term_start}",
                        _money(row.amount),
                    ),
                    ("Installment fee", _money(row.fee)),
                    ("Amount due", _money(row.amount + row.fee)),
                ),
                bold_last_row=True,
            ),
            pdf.Paragraph(
                "Account balance after this invoice (all terms, positive means owed): "
                f"{_money(balance)}"
            ),
            pdf.Paragraph(
                "Pay by the due date to keep your coverage in force. After the grace period a "
                "notice of cancellation for non-payment is sent."
            ),
        ),
    )


_INSERT = insert(cast(Table, Document.__table__))


async def _store(
    session: AsyncSession,
    policy: Policy,
    *,
    kind: str,
    source_id: str,
    filename: str,
    content: bytes,
) -> uuid.UUID:
    """The document's id. A plain insert: documents are written once and never changed, so
    nothing needs the ORM to track them (a page is rendered in many business transactions)."""
    document_id = uuid.uuid4()
    await session.execute(
        _INSERT,
        {
            "id": document_id,
            "policy_id": policy.id,
            "kind": kind,
            "source_id": source_id,
            "filename": filename,
            "media_type": "application/pdf",
            "content": content,
            "sha256": hashlib.sha256(content).hexdigest(),
            "created_at": clock.now(),
        },
    )
    return document_id


async def render_declarations(
    session: AsyncSession,
    policy: Policy,
    txn: PolicyTransaction,
    *,
    insured: dict[str, str],
    coverage_names: dict[str, str],
    product_name: str,
) -> uuid.UUID:
    """``insured``: the named insured's name and mailing address lines (no other PII)."""
    layout = declarations_layout(
        policy, txn, insured=insured, coverage_names=coverage_names, product_name=product_name
    )
    content = pdf.render(layout, issued_at=txn.created_at)
    return await _store(
        session,
        policy,
        kind="declarations",
        source_id=str(txn.id),
        filename=f"{policy.number}-{txn.seq:03d}-{txn.kind}.pdf",
        content=content,
    )


async def render_invoice(
    session: AsyncSession, policy: Policy, row: InstallmentRow, *, balance: Decimal
) -> uuid.UUID:
    content = pdf.render(invoice_layout(policy, row, balance=balance), issued_at=clock.now())
    return await _store(
        session,
        policy,
        kind="invoice",
        source_id=str(row.id),
        filename=f"{row.invoice_number}.pdf",
        content=content,
    )


def _money(value: Decimal | str) -> str:
    amount = Decimal(value)
    return f"{'-' if amount < 0 else ''}${abs(amount):,.2f}"


async def list_for_policy(session: AsyncSession, policy_id: uuid.UUID) -> list[Document]:
    return list(
        (
            await session.scalars(
                select(Document)
                .where(Document.policy_id == policy_id)
                .order_by(Document.created_at)
                .options()
            )
        ).all()
    )


async def get(session: AsyncSession, document_id: uuid.UUID) -> Document | None:
    return await session.get(Document, document_id)
