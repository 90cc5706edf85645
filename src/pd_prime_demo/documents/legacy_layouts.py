"""The layouts of documents recorded before templates (issue 17): pure functions from facts to
a layout, kept so that a document requested with the old facts (no envelope) still draws as it
was meant to. New documents come from the YAML templates (``documents.templates``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from pd_prime_demo.documents import pdf


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
    customer_id: uuid.UUID  # the named insured; name and address are read when it is drawn
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
    customer_id: uuid.UUID | None = None  # whose invoice it is (who may see its events)


@dataclass(frozen=True, slots=True)
class MailingLabel:
    name: str
    address: str


def declarations_layout(page: Declarations, insured: MailingLabel) -> pdf.Layout:
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
        pdf.Fields((("Named insured", insured.name), ("Mailing address", insured.address))),
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
                ),
                footer=(("Amount due", _money(invoice.amount + invoice.fee)),),
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


def _money(value: Decimal | str) -> str:
    amount = Decimal(value)
    return f"{'-' if amount < 0 else ''}${abs(amount):,.2f}"
