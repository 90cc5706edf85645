"""The console's home per role, customer search (a keyset page) and the customer view."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from pd_prime_demo.api.dependencies import RuntimeDep, Session
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Permission
from pd_prime_demo.core.result_types import Err, Ok
from pd_prime_demo.customers import service as customers
from pd_prime_demo.policies import service as policies
from pd_prime_demo.quotes import service as quotes
from pd_prime_demo.web import pages
from pd_prime_demo.web.deps import StaffDep

router = APIRouter(prefix="/app", include_in_schema=False)
PAGE = 25
SHOWN = 10  # items per list on the home and customer pages (a link leads to the rest)


@router.get("", response_class=HTMLResponse)
async def home(request: Request, session: Session, staff: StaffDep) -> Response:
    actor = staff.actor
    context: dict[str, Any] = {"staff": staff, "open_quotes": None, "referrals": None}
    if actor.has(Permission.QUOTES_READ):
        match await quotes.list_quotes(
            session, actor=actor, status="quoted", customer_id=None, cursor=None, limit=SHOWN
        ):
            case Ok((rows, more)):
                context["open_quotes"] = (rows, more is not None)
            case Err():
                pass
    if actor.has(Permission.UNDERWRITING_DECIDE):
        match await quotes.referral_queue(session, actor=actor, limit=SHOWN):
            case Ok((rows, more)):
                context["referrals"] = (rows, more is not None)
            case Err():
                pass
    return pages.render(request, "app/home.html", context)


@router.get("/customers", response_class=HTMLResponse)
async def search_customers(
    request: Request,
    session: Session,
    runtime: RuntimeDep,
    staff: StaffDep,
    q: str | None = None,
    cursor: str | None = None,
) -> Response:
    q = (q or "").strip()[:100] or None
    context: dict[str, Any] = {"staff": staff, "q": q or ""}
    match await customers.list_customers(
        session, actor=staff.actor, q=q, cursor=(cursor or "")[:200] or None, limit=PAGE
    ):
        case Err(error):
            return await pages.failed(request, session, error, context)
        case Ok((rows, next_cursor)):
            pass
    context["customers"] = await customers.present(
        session, rows, actor=staff.actor, cipher=runtime.cipher
    )
    context["next_cursor"] = next_cursor
    # htmx asks for the results only, as the user types.
    name = "app/customer_rows.html" if request.headers.get("HX-Request") else "app/customers.html"
    return pages.render(request, name, context)


@router.get("/customers/{customer_id}", response_class=HTMLResponse)
async def read_customer(
    customer_id: uuid.UUID, request: Request, session: Session, runtime: RuntimeDep, staff: StaffDep
) -> Response:
    actor = staff.actor
    match await customers.get_customer(session, customer_id, actor=actor):
        case Err(error):
            return await pages.failed(request, session, error, {"staff": staff})
        case Ok(found):
            pass
    customer = await customers.present_one(session, found, actor=actor, cipher=runtime.cipher)
    context: dict[str, Any] = {"staff": staff, "customer": customer, "quotes": [], "policies": []}
    match await quotes.list_quotes(
        session, actor=actor, status=None, customer_id=customer_id, cursor=None, limit=SHOWN
    ):
        case Ok((rows, _)):
            context["quotes"] = rows
        case Err():
            pass
    match await policies.list_policies(
        session,
        actor=actor,
        where=policies.PolicyFilter(customer_id=customer_id),
        on=clock.today(),
        cursor=None,
        limit=SHOWN,
    ):
        case Ok((found_policies, _)):
            context["policies"] = found_policies
        case Err():
            pass
    return pages.render(request, "app/customer.html", context)
