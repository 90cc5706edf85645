"""Documents a carrier mails (declarations, invoices, notices): recorded, then drawn from
templates.

The wording and arrangement of each kind live in its YAML template (``documents/templates/``,
overridable by the operator: ``documents.templates``); ``documents.pdf`` draws the layout with
fpdf2 (pure Python, no system libraries). Documents recorded before templates existed (bare
facts, no envelope) are drawn by ``documents.legacy_layouts``.

Drawing a page is slow and can fail, so it never happens in the business transaction:
:func:`request` records the document as ``pending`` with the facts it prints (in an envelope
with the carrier's identity, ``documents.context``) and publishes ``document.requested``;
the ``documents.render`` job
draws it after the transaction commits (:func:`render`), stores it once with its SHA-256 (so
what was issued can be proven later) and publishes ``document.ready``, or, when every attempt
failed, marks it ``failed`` with the error (:func:`mark_failed`).
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from pydantic import TypeAdapter
from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from pd_prime_demo.core import clock
from pd_prime_demo.core.config import get_settings
from pd_prime_demo.core.outbox import emit
from pd_prime_demo.core.pagination import keyset_page
from pd_prime_demo.core.result_types import DomainError, Result
from pd_prime_demo.customers import service as customers
from pd_prime_demo.documents import fonts, pdf
from pd_prime_demo.documents.context import (
    SAMPLE_INSURED,
    SAMPLE_ISSUED_AT,
    Carrier,
    Envelope,
    Insured,
    check_templates,
    context,
    is_envelope,
    render_layout,
)
from pd_prime_demo.documents.legacy_layouts import (
    CancellationLine,
    CoverageLine,
    Declarations,
    Invoice,
    MailingLabel,
    declarations_layout,
    invoice_layout,
)
from pd_prime_demo.documents.models import Document, DocumentStatus
from pd_prime_demo.documents.templates import SHIPPED, TemplateError, compile_source, load_template

__all__ = [
    "KINDS",
    "CancellationLine",
    "Carrier",
    "CoverageLine",
    "Declarations",
    "DocumentStatus",
    "Insured",
    "Invoice",
    "MailingLabel",
    "TemplateError",
    "check_templates",
    "declarations_layout",
    "get",
    "invoice_layout",
    "list_for_policy",
    "load_template",
    "mark_failed",
    "render",
    "render_layout",
    "request",
    "template_problems",
]


_INSERT = insert(cast(Table, Document.__table__))
_DECLARATIONS = TypeAdapter(Declarations)
_INVOICE = TypeAdapter(Invoice)
_JSON = TypeAdapter(dict[str, Any])

KINDS = frozenset(
    {
        "declarations",
        "invoice",
        "cancellation_notice",
        "nonrenewal_notice",
        "cancellation_confirmation",
    }
)


async def _request(
    session: AsyncSession,
    policy_id: uuid.UUID,
    *,
    kind: str,
    source_id: str,
    filename: str,
    facts: dict[str, object],
    customer_id: uuid.UUID | None,
) -> uuid.UUID:
    """Record a pending document and the event that gets it drawn. A plain insert: nothing
    needs the ORM to track it (many business transactions record one)."""
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
            "status": DocumentStatus.PENDING.value,
            "facts": facts,
            "created_at": clock.now(),
        },
    )
    emit(
        session,
        "document.requested",
        "document",
        str(document_id),
        {"policy_id": str(policy_id), "kind": kind},
        customer_id=customer_id,
    )
    return document_id


async def request(
    session: AsyncSession,
    *,
    kind: str,
    policy_id: uuid.UUID,
    source_id: str,
    filename: str,
    product_code: str,
    facts: Mapping[str, Any],
    customer_id: uuid.UUID | None,
    issued_at: datetime,
) -> uuid.UUID:
    """A document of ``kind`` about ``source_id``, drawn after ``session`` commits from the
    template of ``kind`` for ``product_code``. ``facts`` is what the page prints (every label
    and figure resolved, no PII; Decimals, dates and UUIDs are stored as their JSON strings);
    the insured's name and address are read when it is drawn, the carrier is as configured
    now."""
    if kind not in KINDS:
        raise ValueError(f"unknown document kind {kind!r}")
    if issued_at.tzinfo is None:
        raise ValueError("issued_at must be timezone-aware")
    envelope = Envelope(
        v=1,
        product_code=product_code,
        issued_at=issued_at,
        customer_id=customer_id,
        carrier=Carrier.from_settings(get_settings()),
        data=_JSON.dump_python(dict(facts), mode="json"),
    )
    return await _request(
        session,
        policy_id,
        kind=kind,
        source_id=source_id,
        filename=filename,
        facts=envelope.model_dump(mode="json"),
        customer_id=customer_id,
    )


async def _layout(session: AsyncSession, doc: Document) -> tuple[pdf.Layout, datetime, str | None]:
    facts = doc.facts or {}
    if is_envelope(facts):
        envelope = Envelope.model_validate(facts)
        insured = None
        if envelope.customer_id is not None:
            block = await customers.mailing_block(session, envelope.customer_id)
            insured = Insured(name=block[0], address_lines=block[1]) if block else None
        layout, version = render_layout(
            doc.kind,
            envelope.product_code,
            envelope.data,
            insured,
            envelope.carrier,
            envelope.issued_at,
            templates_dir=get_settings().document_templates_dir,
        )
        return layout, envelope.issued_at, version
    if doc.kind == "declarations":
        page = _DECLARATIONS.validate_python(facts)
        name, address = await customers.mailing_label(session, page.customer_id) or ("", "")
        return declarations_layout(page, MailingLabel(name, address)), page.issued_at, None
    invoice = _INVOICE.validate_python(facts)
    return invoice_layout(invoice), doc.created_at, None


async def render(session: AsyncSession, document_id: uuid.UUID) -> bool:
    """Draw a pending (or failed, when its job is retried) document and store it; the row is
    locked meanwhile, so two deliveries of the job draw it once. False if it is ready already
    or unknown."""
    doc = await session.get(Document, document_id, with_for_update=True)
    if doc is None or doc.status == DocumentStatus.READY:
        return False
    layout, issued_at, template_version = await _layout(session, doc)
    font_set = fonts.fonts(get_settings().document_fonts)
    content = pdf.render(layout, issued_at=issued_at, font_set=font_set)
    doc.content = content
    doc.template_version = template_version
    doc.sha256 = hashlib.sha256(content).hexdigest()
    doc.status = DocumentStatus.READY.value
    doc.error = None
    doc.rendered_at = clock.now()
    emit(
        session,
        "document.ready",
        "document",
        str(doc.id),
        {"policy_id": str(doc.policy_id), "kind": doc.kind, "sha256": doc.sha256},
        customer_id=_customer_of(doc),
    )
    return True


async def mark_failed(session: AsyncSession, document_id: uuid.UUID, error: str) -> None:
    """Every attempt to draw the document failed: it shows as failed, with why, until an
    administrator retries its job (:func:`render` draws a failed one again)."""
    doc = await session.get(Document, document_id, with_for_update=True)
    if doc is None or doc.status == DocumentStatus.READY:
        return
    doc.status = DocumentStatus.FAILED.value
    doc.error = error[:2000]
    emit(
        session,
        "document.failed",
        "document",
        str(doc.id),
        {"policy_id": str(doc.policy_id), "kind": doc.kind},
        customer_id=_customer_of(doc),
    )


def _customer_of(doc: Document) -> uuid.UUID | None:
    raw = (doc.facts or {}).get("customer_id")
    return uuid.UUID(raw) if isinstance(raw, str) else None


async def list_for_policy(
    session: AsyncSession, policy_id: uuid.UUID, *, cursor: str | None = None, limit: int = 200
) -> Result[tuple[list[Document], str | None], DomainError]:
    """A page of the policy's documents, oldest first (the caller checked it may see them)."""
    query = (
        select(Document)
        .where(Document.policy_id == policy_id)
        .options(defer(Document.content), defer(Document.facts))
    )
    return await keyset_page(session, query, Document, cursor=cursor, limit=limit)


async def get(session: AsyncSession, document_id: uuid.UUID) -> Document | None:
    return await session.get(Document, document_id)


SAMPLES = (
    Path(__file__).parent / "samples"
)  # <product_code>__<kind>.json: facts as producers make them


def template_problems(templates_dir: Path | None, *, carrier: Carrier | None = None) -> list[str]:
    """What is wrong with the operator's templates in ``templates_dir`` and the shipped ones,
    in words (empty: nothing): every file is loaded and drawn with the shipped sample facts of
    its kind (its product's when there are some, every product's for a template of any
    product), so a bad override stops ``serve`` and ``worker`` at startup instead of failing a
    customer's page later. A file the loader would never read (``*.yml``, an unknown kind, a
    folder that is not a product code) is a problem too."""
    who = carrier or Carrier.from_settings(get_settings())
    samples: dict[str, dict[str, Mapping[str, Any]]] = {}  # kind -> product -> facts
    for path in sorted(SAMPLES.glob("*__*.json")):
        product, kind = path.stem.split("__", 1)
        samples.setdefault(kind, {})[product] = json.loads(path.read_text())
    problems: list[str] = []
    roots = [SHIPPED] if templates_dir is None else [templates_dir, SHIPPED]
    if templates_dir is not None and not templates_dir.is_dir():
        return [f"{templates_dir}: document_templates_dir is not a directory"]
    for root in roots:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            problems.extend(_file_problems(root, path, samples, who))
    return problems


def _file_problems(
    root: Path, path: Path, samples: Mapping[str, Mapping[str, Mapping[str, Any]]], who: Carrier
) -> list[str]:
    parts = path.relative_to(root).parts
    product = parts[0] if len(parts) == 2 else None
    misplaced = product is not None and not re.fullmatch(r"[a-z0-9_]{1,60}", product)
    if path.suffix != ".yaml" or len(parts) > 2 or path.stem not in KINDS or misplaced:
        if path.name.startswith(".") or path.suffix not in {".yaml", ".yml"}:
            return []  # not meant as a template (a README, an editor's backup)
        return [
            f"{path}: never read: a template is <kind>.yaml or <product_code>/<kind>.yaml "
            "(a product code is lower case letters, digits and _), "
            f"kind one of {sorted(KINDS)}"
        ]
    try:
        template = compile_source(str(path), path.read_bytes())
    except TemplateError as exc:
        return [str(exc)]
    if template.kind != path.stem:
        return [f"{path}: declares kind {template.kind!r}, not {path.stem!r}"]
    by_product = samples.get(path.stem, {})
    if product is not None and product in by_product:
        chosen = {product: by_product[product]}
    else:
        chosen = dict(by_product)
    if not chosen:
        return [f"{path}: no sample facts for {path.stem!r} to draw it with"]
    problems = []
    for code, facts in sorted(chosen.items()):
        try:
            layout = template.layout(context(facts, SAMPLE_INSURED, who, SAMPLE_ISSUED_AT))
            pdf.render(layout, issued_at=SAMPLE_ISSUED_AT)
        except TemplateError as exc:
            problems.append(f"{exc} (with the {code} sample)")
        except Exception as exc:
            problems.append(f"{path}: drawing the {code} sample: {type(exc).__name__}: {exc}")
    return problems
