"""What a template sees: the stored envelope of facts, the carrier and the insured.

A document's ``facts`` column holds an envelope (version 1)::

    {"v": 1,
     "product_code": "personal_auto",          # picks the template
     "issued_at": "2027-03-01T15:30:00+00:00",  # printed; the PDF's creation date
     "customer_id": "…" | null,                 # whose name and address are read when drawn
     "carrier": {"name", "naic", "address": [...], "phone", "email", "website",
                 "remit_to": [...], "payment_instructions"},   # settings at request time
     "data": {...}}                             # the caller's facts: the template's ``doc``

The carrier is snapshotted so that a document drawn again (a failed job retried, a later
re-render) states the insurer as it was when the document was issued. The insured's name and
address are not stored (PII): they are read when the page is drawn.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from pd_prime_demo.core.config import Settings
from pd_prime_demo.documents import pdf
from pd_prime_demo.documents.templates import load_template


class Carrier(BaseModel):
    """The insurer as its documents state it (``core.config`` "Documents" settings)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    naic: str
    address: tuple[str, ...]
    phone: str = ""
    email: str = ""
    website: str = ""
    remit_to: tuple[str, ...] = ()
    payment_instructions: str = ""

    @classmethod
    def from_settings(cls, settings: Settings) -> Carrier:
        return cls(
            name=settings.carrier_name,
            naic=settings.carrier_naic,
            address=tuple(settings.carrier_address),
            phone=settings.carrier_phone,
            email=settings.carrier_email,
            website=settings.carrier_website,
            remit_to=tuple(settings.carrier_remit_to),
            payment_instructions=settings.carrier_payment_instructions,
        )


class Insured(BaseModel):
    """The named insured's mailing block, read when the page is drawn."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = ""
    address_lines: tuple[str, ...] = ()


class Envelope(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1]
    product_code: str
    issued_at: datetime
    customer_id: uuid.UUID | None
    carrier: Carrier
    data: dict[str, Any]


def is_envelope(facts: Mapping[str, Any] | None) -> bool:
    """Documents recorded before templates stored bare facts (drawn by the legacy layouts)."""
    return facts is not None and facts.get("v") == 1 and "data" in facts


# Control characters, the line and paragraph separators, and the bidi marks (LRM, RLM, ALM),
# embeddings, overrides and isolates, in data: a newline or a separator in a name must not
# start a line the template did not write, a bidi control must not make a value display as
# something else. Newlines come from templates only.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def clean(value: Any) -> Any:
    """``value`` (JSON) with every string's unsafe characters replaced by a space."""
    if isinstance(value, str):
        return _UNSAFE.sub(" ", value)
    if isinstance(value, Mapping):
        return {key: clean(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [clean(item) for item in value]
    return value


def context(
    facts: Mapping[str, Any], insured: Insured | None, carrier: Carrier, issued_at: datetime
) -> dict[str, Any]:
    """A template's names: ``doc``, ``insured``, ``carrier``, ``issued_at``."""
    person = insured or Insured()
    return {
        "doc": clean(facts),
        "insured": {"name": clean(person.name), "address_lines": clean(person.address_lines)},
        "carrier": carrier.model_dump(mode="json"),
        "issued_at": issued_at,
    }


def render_layout(
    kind: str,
    product_code: str,
    facts: Mapping[str, Any],
    insured: Insured | None,
    carrier: Carrier,
    issued_at: datetime,
    *,
    templates_dir: Path | None = None,
) -> tuple[pdf.Layout, str]:
    """The layout of a document and the version of the template that made it; no database
    (templates are unit-tested through this)."""
    template = load_template(kind, product_code, templates_dir)
    layout = template.layout(context(facts, insured, carrier, issued_at))
    return layout, template.version


SAMPLE_INSURED = Insured(name="Jane Roe", address_lines=("1 Main St", "Austin, TX 78701"))
SAMPLE_ISSUED_AT = datetime(2027, 3, 1, 15, 30, tzinfo=UTC)


def check_templates(
    facts_by_kind: Mapping[str, Mapping[str, Any]],
    *,
    product_code: str = "default",
    carrier: Carrier | None = None,
    templates_dir: Path | None = None,
) -> dict[str, bytes]:
    """Draw each kind in ``facts_by_kind`` from its template with those facts (a sample
    insured and carrier): the PDF of each, for a test to read; a template that does not load,
    validate or render raises :class:`~pd_prime_demo.documents.templates.TemplateError`."""
    from pd_prime_demo.core.config import get_settings

    who = carrier or Carrier.from_settings(get_settings())
    drawn: dict[str, bytes] = {}
    for kind, facts in facts_by_kind.items():
        layout, _ = render_layout(
            kind,
            product_code,
            facts,
            SAMPLE_INSURED,
            who,
            SAMPLE_ISSUED_AT,
            templates_dir=templates_dir,
        )
        drawn[kind] = pdf.render(layout, issued_at=SAMPLE_ISSUED_AT)
    return drawn
