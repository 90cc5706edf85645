"""Declarations pages and invoices: their layouts, filled from the record, rendered to PDF.

The wording and arrangement of each document live in its layout function below
(``declarations_layout``, ``invoice_layout``); ``documents.pdf`` draws them with fpdf2 (pure
Python, no system libraries). Each document is stored once with its SHA-256, so what was issued
can be proven later.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import cast

from sqlalchemy import Select, Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from pd_prime_demo.core import clock
from pd_prime_demo.core.pagination import keyset_page
from pd_prime_demo.core.result_types import DomainError, Result
from pd_prime_demo.documents import pdf
from pd_prime_demo.documents.models import Document


def _words(code: str | None) -> str:
    return (code or "").replace("_", " ")


@dataclass(frozen=True, slots=True)
class CoverageLine:
    name: str
    limit: str | None
    deductible: str | None
    premium: Decimal


@dataclass(frozen=True, slots=True)
class CancellationLine:
    effective_on: date
    method: str
    return_premium: Decimal


@dataclass(frozen=True, slots=True)
class Declarations:
    """What a declarations page says: one policy transaction and the state it puts in force.

    The policies domain fills it in; documents know nothing of how policies are stored.
    """

    policy_id: uuid.UUID
    policy_number: str
    product_name: str
    state: str
    rate_version: str
    transaction_id: uuid.UUID
    seq: int
    kind: str
    effective_on: date
    reason_code: str | None
    issued_at: datetime
    term_start: date
    term_end: date
    status: str
    insured_name: str
    insured_address: str
    payment_plan: str
    coverages: tuple[CoverageLine, ...]
    term_premium: Decimal
    fees: Decimal
    taxes: Decimal
    premium_change: Decimal
    fees_change: Decimal
    taxes_change: Decimal
    cancellation: CancellationLine | None = None

    @property
    def filename(self) -> str:
        return f"{self.policy_number}-{self.seq:03d}-{self.kind}.pdf"


@dataclass(frozen=True, slots=True)
class Invoice:
    """What an invoice says: one installment of a policy's billing account."""

    policy_id: uuid.UUID
    policy_number: str
    product_code: str
    state: str
    installment_id: uuid.UUID
    invoice_number: str
    invoiced_on: date
    due_on: date
    seq: int
    term_start: date
    amount: Decimal
    fee: Decimal
    balance: Decimal


def declarations_layout(page: Declarations) -> pdf.Layout:
    reason = f" ({_words(page.reason_code)})" if page.reason_code else ""
    blocks: list[pdf.Block] = [
        pdf.Heading("Policy declarations"),
        pdf.Fields(
            (
                ("Policy", page.policy_number),
                ("Product", f"{page.product_name} ({page.state})"),
                ("Rate version", page.rate_version),
            )
        ),
        pdf.Fields(
            (
                (
                    "Transaction",
                    f"#{page.seq} {_words(page.kind)}, effective {page.effective_on}{reason}",
                ),
            )
        ),
        pdf.Fields(
            (
                (
                    "Policy period",
                    f"{page.term_start} to {page.term_end} (12:01 a.m. standard time)",
                ),
                ("Status", _words(page.status)),
            )
        ),
        pdf.Fields(
            (("Named insured", page.insured_name), ("Mailing address", page.insured_address))
        ),
        pdf.Fields((("Payment plan", _words(page.payment_plan)),)),
        pdf.Heading("Coverages", size=13),
        pdf.Table(
            (
                pdf.Column("Coverage", 0.4),
                pdf.Column("Limit", 0.2),
                pdf.Column("Deductible", 0.2),
                pdf.Column("Term premium", 0.2, "R"),
            ),
            tuple(
                (line.name, line.limit or "-", line.deductible or "-", _money(line.premium))
                for line in page.coverages
            ),
        ),
        pdf.Fields(
            (
                ("Term premium", _money(page.term_premium)),
                ("Fees", _money(page.fees)),
                ("Taxes and assessments", _money(page.taxes)),
            )
        ),
        pdf.Fields(
            (
                (
                    "This transaction",
                    f"premium {_money(page.premium_change)}, fees {_money(page.fees_change)}, "
                    f"taxes {_money(page.taxes_change)}",
                ),
            )
        ),
    ]
    if (cancellation := page.cancellation) is not None:
        blocks.append(
            pdf.Fields(
                (
                    (
                        "Cancelled",
                        f"effective {cancellation.effective_on} "
                        f"({_words(cancellation.method)}); return premium "
                        f"{_money(cancellation.return_premium)}",
                    ),
                )
            )
        )
    blocks.append(
        pdf.Paragraph(
            f"Issued {page.issued_at.date()}. This declarations page, with the policy form and "
            "endorsements, makes up the policy."
        )
    )
    return pdf.Layout(f"Declarations {page.policy_number}", tuple(blocks))


def invoice_layout(invoice: Invoice) -> pdf.Layout:
    return pdf.Layout(
        f"Invoice {invoice.invoice_number}",
        (
            pdf.Heading(f"Invoice {invoice.invoice_number}"),
            pdf.Fields(
                (
                    (
                        "Policy",
                        f"{invoice.policy_number} ({invoice.product_code}, {invoice.state})",
                    ),
                )
            ),
            pdf.Fields((("Invoice date", str(invoice.invoiced_on)), ("Due", str(invoice.due_on)))),
            pdf.Table(
                (pdf.Column("Item", 0.7), pdf.Column("Amount", 0.3, "R")),
                (
                    (
                        f"Installment {invoice.seq} of the term starting {invoice.term_start}",
                        _money(invoice.amount),
                    ),
                    ("Installment fee", _money(invoice.fee)),
                    ("Amount due", _money(invoice.amount + invoice.fee)),
                ),
                bold_last_row=True,
            ),
            pdf.Paragraph(
                "Account balance after this invoice (all terms, positive means owed): "
                f"{_money(invoice.balance)}"
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
    policy_id: uuid.UUID,
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
            "policy_id": policy_id,
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


async def render_declarations(session: AsyncSession, page: Declarations) -> uuid.UUID:
    content = pdf.render(declarations_layout(page), issued_at=page.issued_at)
    return await _store(
        session,
        page.policy_id,
        kind="declarations",
        source_id=str(page.transaction_id),
        filename=page.filename,
        content=content,
    )


async def render_invoice(session: AsyncSession, invoice: Invoice) -> uuid.UUID:
    content = pdf.render(invoice_layout(invoice), issued_at=clock.now())
    return await _store(
        session,
        invoice.policy_id,
        kind="invoice",
        source_id=str(invoice.installment_id),
        filename=f"{invoice.invoice_number}.pdf",
        content=content,
    )


def _money(value: Decimal | str) -> str:
    amount = Decimal(value)
    return f"{'-' if amount < 0 else ''}${abs(amount):,.2f}"


def sources_with(kind: str) -> Select[str]:
    """The source ids that have a document of ``kind``, as a subquery for a sweep that looks
    for records still without one."""
    return select(Document.source_id).where(Document.kind == kind)


async def list_for_policy(
    session: AsyncSession, policy_id: uuid.UUID, *, cursor: str | None = None, limit: int = 200
) -> Result[tuple[list[Document], str | None], DomainError]:
    """A page of the policy's documents, oldest first (the caller checked it may see them)."""
    query = select(Document).where(Document.policy_id == policy_id).options(defer(Document.content))
    return await keyset_page(session, query, Document, cursor=cursor, limit=limit)


async def get(session: AsyncSession, document_id: uuid.UUID) -> Document | None:
    return await session.get(Document, document_id)
