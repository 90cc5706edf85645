"""The request API end to end on PostgreSQL: a document requested with facts is stored in its
envelope (the carrier as configured then, no PII), drawn from its template with the insured's
name and address read when drawn, and kept with its hash and template version; a document
recorded before templates still draws; an operator's template wins."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from httpx import AsyncClient
from pydantic import TypeAdapter
from pypdf import PdfReader
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.core.actor import Actor, Role
from pd_prime_demo.core.config import get_settings
from pd_prime_demo.core.result_types import Ok
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.documents import service as documents
from pd_prime_demo.documents.legacy_layouts import Declarations
from pd_prime_demo.documents.models import Document
from pd_prime_demo.documents.sample import SAMPLE_TEMPLATE, sample_facts
from pd_prime_demo.identity.rules import permissions_for
from pd_prime_demo.policies import service as policies
from tests.factories import auto_quote, person, user_login
from tests.unit.test_documents import _cancelled

ISSUED = datetime(2027, 3, 1, 15, 30, tzinfo=UTC)
NAME = "Żaneta Ψάλτη"


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Set settings (PD_PRIME_<NAME>=value) for the process, as an operator would."""

    def set_env(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(f"PD_PRIME_{name.upper()}", value)
        get_settings.cache_clear()

    yield set_env
    monkeypatch.undo()
    get_settings.cache_clear()


async def _policy(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> tuple[uuid.UUID, uuid.UUID]:
    agent = await user_login(client, runtime, Role.AGENT)
    body = person(first_name="Żaneta", last_name="Ψάλτη")
    customer = (await client.post("/api/v1/customers", json=body, headers=agent.headers)).json()
    quote = (
        await client.post("/api/v1/quotes", json=auto_quote(customer["id"]), headers=agent.headers)
    ).json()
    actor = Actor.user(uuid.UUID(str(agent.user_id)), Role.AGENT, permissions_for(Role.AGENT))
    bound = await policies.bind_quote(
        session, uuid.UUID(quote["id"]), option="standard", payment_plan="annual", actor=actor
    )
    assert isinstance(bound, Ok)
    return bound.value.policy.id, uuid.UUID(customer["id"])


async def _request(
    session: AsyncSession, policy_id: uuid.UUID, customer_id: uuid.UUID, facts: dict[str, Any]
) -> uuid.UUID:
    return await documents.request(
        session,
        kind="declarations",
        policy_id=policy_id,
        source_id="test-1",
        filename="PA-test.pdf",
        product_code="engine_test_product",
        facts=facts,
        customer_id=customer_id,
        issued_at=ISSUED,
    )


def _text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


async def test_a_requested_document_is_drawn_from_its_template_with_the_insured_read_then(
    client: AsyncClient,
    runtime: Runtime,
    session: AsyncSession,
    tmp_path: Path,
    configure: Callable[..., None],
) -> None:
    (tmp_path / "engine_test_product").mkdir()
    template = tmp_path / "engine_test_product" / "declarations.yaml"
    template.write_text(SAMPLE_TEMPLATE)
    configure(document_templates_dir=str(tmp_path), carrier_name="Acme Mutual Insurance Company")
    policy_id, customer_id = await _policy(client, runtime, session)

    document_id = await _request(session, policy_id, customer_id, sample_facts())
    row = await session.get(Document, document_id)
    assert row is not None
    assert row.status == "pending"
    stored = row.facts or {}
    assert stored["v"] == 1
    assert stored["product_code"] == "engine_test_product"
    assert stored["customer_id"] == str(customer_id)
    assert stored["carrier"]["name"] == "Acme Mutual Insurance Company"
    assert stored["data"] == sample_facts()
    assert "Żaneta" not in json.dumps(stored, ensure_ascii=False)  # no PII in the facts

    # The carrier printed is the one configured when the document was requested.
    configure(carrier_name="Renamed Later Insurance Company")
    assert await documents.render(session, document_id)
    await session.flush()
    assert row.status == "ready"
    assert row.content is not None
    assert row.sha256 == hashlib.sha256(row.content).hexdigest()
    digest = hashlib.sha256(template.read_bytes()).hexdigest()[:16]
    assert row.template_version == f"declarations/sample.1@{digest}"
    text = _text(row.content)
    assert "Acme Mutual Insurance Company" in text
    assert "Renamed Later" not in text
    assert f"Named insured {NAME}" in text  # read from the customer when drawn
    assert "Personal auto policy declarations" in text
    assert not await documents.render(session, document_id)  # drawn once


async def test_the_same_request_draws_the_same_bytes(
    client: AsyncClient,
    runtime: Runtime,
    session: AsyncSession,
    tmp_path: Path,
    configure: Callable[..., None],
) -> None:
    (tmp_path / "declarations.yaml").write_text(SAMPLE_TEMPLATE)
    configure(document_templates_dir=str(tmp_path))
    policy_id, customer_id = await _policy(client, runtime, session)
    first = await _request(session, policy_id, customer_id, sample_facts())
    second = await _request(session, policy_id, customer_id, sample_facts())
    for document_id in (first, second):
        assert await documents.render(session, document_id)
    a, b = await session.get(Document, first), await session.get(Document, second)
    assert a is not None
    assert b is not None
    assert a.sha256 == b.sha256


async def test_a_template_error_fails_the_drawing_and_names_the_block(
    client: AsyncClient,
    runtime: Runtime,
    session: AsyncSession,
    tmp_path: Path,
    configure: Callable[..., None],
) -> None:
    field = '["Policy number", "{{ doc.policy_number }}"]'
    broken = SAMPLE_TEMPLATE.replace(field, field.replace("number }}", "nubmer }}"))
    (tmp_path / "declarations.yaml").write_text(broken)
    configure(document_templates_dir=str(tmp_path))
    policy_id, customer_id = await _policy(client, runtime, session)
    document_id = await _request(session, policy_id, customer_id, sample_facts())
    with pytest.raises(documents.TemplateError, match=r"block 3 \(fields\).*policy_nubmer"):
        await documents.render(session, document_id)


async def test_unknown_kinds_and_naive_times_are_refused(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    policy_id, customer_id = await _policy(client, runtime, session)
    with pytest.raises(ValueError, match="unknown document kind"):
        await documents.request(
            session,
            kind="love_letter",
            policy_id=policy_id,
            source_id="x",
            filename="x.pdf",
            product_code="personal_auto",
            facts={},
            customer_id=customer_id,
            issued_at=ISSUED,
        )
    with pytest.raises(ValueError, match="timezone-aware"):
        await documents.request(
            session,
            kind="invoice",
            policy_id=policy_id,
            source_id="x",
            filename="x.pdf",
            product_code="personal_auto",
            facts={},
            customer_id=customer_id,
            issued_at=datetime(2027, 3, 1),
        )


async def test_a_document_recorded_before_templates_still_draws(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    """Facts without the envelope (declarations stored before this change) go to the legacy
    layout, with the insured read when drawn, and no template version."""
    policy_id, customer_id = await _policy(client, runtime, session)
    page = dataclasses.replace(_cancelled(), policy_id=policy_id, customer_id=customer_id)
    row = Document(
        policy_id=policy_id,
        kind="declarations",
        source_id=str(page.transaction_id),
        filename=page.filename,
        media_type="application/pdf",
        status="pending",
        facts=TypeAdapter(Declarations).dump_python(page, mode="json"),
        created_at=ISSUED,
    )
    session.add(row)
    await session.flush()
    assert await documents.render(session, row.id)
    await session.flush()
    assert row.status == "ready"
    assert row.template_version is None
    text = _text(row.content or b"")
    assert NAME in text
    assert "PA-TX-0000042" in text
