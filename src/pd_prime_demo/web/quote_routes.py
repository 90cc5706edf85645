"""Quoting in the console: the guided form generated from the product definition, the rated
packages side by side with their rating worksheets, and binding a package into a policy."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from pd_prime_demo.api.dependencies import RuntimeDep, Session
from pd_prime_demo.core import clock
from pd_prime_demo.core.result_types import DomainError, Err, FieldIssue, Ok, invalid
from pd_prime_demo.customers import service as customers
from pd_prime_demo.policies import service as policies
from pd_prime_demo.products import service as products
from pd_prime_demo.quotes import service as quotes

# quotes.service does not re-export its request model yet (customers.service does its own).
from pd_prime_demo.quotes.service.create import QuoteCreate  # type: ignore[attr-defined]
from pd_prime_demo.web import pages, quote_form
from pd_prime_demo.web.deps import StaffDep
from pd_prime_demo.web.session import Staff

router = APIRouter(prefix="/app", include_in_schema=False)


def _form_values(raw: Any) -> dict[str, str]:
    return {k: v[:200] for k, v in raw.items() if isinstance(v, str)}


def _issues(error: ValidationError) -> DomainError:
    """Pydantic's refusal of the body as the API words it: one issue per JSON Pointer."""
    found = tuple(
        FieldIssue("#/" + "/".join(str(p) for p in e["loc"]), e["msg"]) for e in error.errors()
    )
    return invalid("request.invalid", "some answers need another look", *found)


async def _products(session: Session, state: str | None) -> list[tuple[str, str, str]]:
    """(product_code, state, name) of the active versions, the customer's state first."""
    rows = await products.list_versions(session, product_code=None, state=None, status=None)
    return sorted(
        {(v.product_code, v.state, v.product_name) for v in rows if v.status == "active"},
        key=lambda r: (r[1] != state, r[1], r[0]),
    )


async def _customer(
    session: Session, runtime: RuntimeDep, staff: Staff, customer_id: uuid.UUID
) -> Any:
    """The customer as presented (masked without pii:read), or None if not theirs to see."""
    match await customers.get_customer(session, customer_id, actor=staff.actor):
        case Ok(found):
            return await customers.present_one(
                session, found, actor=staff.actor, cipher=runtime.cipher
            )
        case Err():
            return None


@router.get("/customers/{customer_id}/quotes/new", response_class=HTMLResponse)
async def new_quote(
    customer_id: uuid.UUID,
    request: Request,
    session: Session,
    runtime: RuntimeDep,
    staff: StaffDep,
    product: str | None = None,
    state: str | None = None,
    effective_on: str | None = None,
    choice: str | None = None,
) -> Response:
    if choice and "|" in choice:  # the chooser's one select: "personal_auto|TX"
        product, _, state = choice.partition("|")
    customer = await _customer(session, runtime, staff, customer_id)
    if customer is None:
        return await pages.failed(request, session, customers.NOT_FOUND, {"staff": staff})
    context: dict[str, Any] = {"staff": staff, "customer": customer}
    context["products"] = await _products(session, customer.address.state)
    if not product or not state:
        return pages.render(request, "app/quote_choose.html", context)
    on = _date(effective_on) or clock.today() + timedelta(days=7)
    match await products.version_in_force(session, product, state, on):
        case Err(error):
            return await pages.failed(
                request, session, error, context, template="app/quote_choose.html"
            )
        case Ok(version):
            pass
    asked = _form_values(request.query_params)
    counts = quote_form.unit_counts(version.definition, asked)
    form = quote_form.build(version.definition, effective_on=on, counts=counts)
    return pages.render(request, "app/quote_form.html", {**context, "form": form})


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@router.post("/customers/{customer_id}/quotes", response_class=HTMLResponse)
async def create_quote(
    customer_id: uuid.UUID,
    request: Request,
    session: Session,
    runtime: RuntimeDep,
    staff: StaffDep,
) -> Response:
    customer = await _customer(session, runtime, staff, customer_id)
    if customer is None:
        return await pages.failed(request, session, customers.NOT_FOUND, {"staff": staff})
    values = _form_values(await request.form())
    on = _date(values.get("effective_on")) or clock.today()
    match await products.version_in_force(
        session, values.get("product_code", ""), values.get("state", ""), on
    ):
        case Err(error):
            return await pages.failed(request, session, error, {"staff": staff})
        case Ok(version):
            pass
    defn = version.definition
    counts = quote_form.unit_counts(defn, values)
    packages = int(values.get("packages", "2")) if values.get("packages", "2").isdigit() else 2
    body = {"customer_id": str(customer_id), **quote_form.read(defn, values, counts, packages)}
    try:
        data = QuoteCreate.model_validate(body)
    except ValidationError as exc:
        result: Any = Err(_issues(exc))
    else:
        result = await quotes.create_quote(session, data, actor=staff.actor)
    match result:
        case Ok(quote):
            return RedirectResponse(f"/app/quotes/{quote.id}", status_code=303)
        case Err(error):
            await session.rollback()
            problem = pages.message_of(error)
            form = quote_form.build(
                defn,
                effective_on=on,
                values=values,
                errors=problem.fields,
                packages=packages,
                counts=counts,
            )
            return pages.render(
                request,
                "app/quote_form.html",
                {"staff": staff, "customer": customer, "form": form, "problem": problem},
                status=pages.STATUS_BY_KIND[error.kind],
            )
    raise AssertionError("unreachable")  # pragma: no cover


@router.get("/quotes/{quote_id}", response_class=HTMLResponse)
async def read_quote(
    quote_id: uuid.UUID, request: Request, session: Session, staff: StaffDep
) -> Response:
    match await quotes.get_quote(session, quote_id, actor=staff.actor):
        case Err(error):
            return await pages.failed(request, session, error, {"staff": staff})
        case Ok(quote):
            pass
    context: dict[str, Any] = {"staff": staff, "quote": quote, "sheets": [], "coverages": {}}
    if quote.rating is not None:
        match await quotes.worksheet(session, quote):
            case Ok((version, results)):
                defn = version.definition
                context["coverages"] = {c.code: c.name for c in defn.coverages}
                context["plans"] = [p.code for p in defn.billing.payment_plans]
                context["sheets"] = results
            case Err(error):
                context["problem"] = pages.message_of(error)
    context["bindable"] = quote.status in quotes.BINDABLE_STATUSES
    return pages.render(request, "app/quote.html", context)


@router.post("/quotes/{quote_id}/bind", response_class=HTMLResponse)
async def bind_quote(
    quote_id: uuid.UUID, request: Request, session: Session, staff: StaffDep
) -> Response:
    values = _form_values(await request.form())
    result = await policies.bind_quote(
        session,
        quote_id,
        option=values.get("option") or None,
        payment_plan=values.get("payment_plan") or "annual",
        actor=staff.actor,
    )
    match result:
        case Ok(bound):
            return RedirectResponse(f"/app/policies/{bound.policy.id}", status_code=303)
        case Err(error):
            return await pages.failed(request, session, error, {"staff": staff})
    raise AssertionError("unreachable")  # pragma: no cover
