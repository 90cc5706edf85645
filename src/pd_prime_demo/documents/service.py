"""Declarations pages and invoices as PDF, from Jinja templates rendered with fpdf2.

fpdf2 is pure Python (no system libraries); its HTML subset is enough for a declarations page.
Each document is stored once with its SHA-256, so what was issued can be proven later.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from fpdf import FPDF
from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.core import clock
from pd_prime_demo.documents.models import Document

if TYPE_CHECKING:
    from pd_prime_demo.billing.models import InstallmentRow
    from pd_prime_demo.policies.models import Policy, PolicyTransaction

_templates = Environment(
    loader=PackageLoader("pd_prime_demo.documents", "templates"),
    autoescape=select_autoescape(["html"]),
)


def render_pdf(template: str, context: dict[str, Any], *, issued_at: datetime) -> bytes:
    """Deterministic: the same record and issue time always give the same bytes (and hash)."""
    html = _templates.get_template(template).render(**context)
    pdf = FPDF(format="Letter")
    pdf.set_creation_date(issued_at)
    pdf.set_title(str(context.get("title", "PD Prime")))
    pdf.set_author("PD Prime")
    pdf.add_page()
    pdf.set_font("Helvetica", size=10)
    pdf.write_html(html)
    return bytes(pdf.output())


async def _store(
    session: AsyncSession,
    policy: Policy,
    *,
    kind: str,
    source_id: str,
    filename: str,
    content: bytes,
) -> Document:
    doc = Document(
        id=uuid.uuid4(),
        policy_id=policy.id,
        kind=kind,
        source_id=source_id,
        filename=filename,
        media_type="application/pdf",
        content=content,
        sha256=hashlib.sha256(content).hexdigest(),
        created_at=clock.now(),
    )
    session.add(doc)
    await session.flush()
    return doc


async def render_declarations(
    session: AsyncSession,
    policy: Policy,
    txn: PolicyTransaction,
    *,
    insured: dict[str, str],
    coverage_names: dict[str, str],
    product_name: str,
) -> Document:
    """``insured``: the named insured's name and mailing address lines (no other PII)."""
    snap = txn.snapshot
    content = render_pdf(
        "declarations.html",
        {
            "title": f"Declarations {policy.number}",
            "policy": policy,
            "insured": insured,
            "names": coverage_names,
            "product_name": product_name,
            "txn": txn,
            "snap": snap,
            "coverages": sorted(snap["coverage_premiums"].items()),
            "choices": snap["coverages"],
            "money": _money,
        },
        issued_at=txn.created_at,
    )
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
) -> Document:
    content = render_pdf(
        "invoice.html",
        {
            "title": f"Invoice {row.invoice_number}",
            "policy": policy,
            "row": row,
            "balance": balance,
            "money": _money,
        },
        issued_at=clock.now(),
    )
    return await _store(
        session,
        policy,
        kind="invoice",
        source_id=str(row.id),
        filename=f"{row.invoice_number}.pdf",
        content=content,
    )


def _money(value: Decimal | str) -> str:
    return f"${Decimal(value):,.2f}"


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
