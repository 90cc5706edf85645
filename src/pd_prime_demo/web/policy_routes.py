"""The policy page: what was in force on an "as of" date, the transaction timeline, the
documents and the billing schedule (installments, invoices and payments)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from pd_prime_demo.api.dependencies import Session
from pd_prime_demo.billing import service as billing
from pd_prime_demo.core import clock
from pd_prime_demo.core.result_types import Err, Ok
from pd_prime_demo.documents import service as documents
from pd_prime_demo.policies import service as policies
from pd_prime_demo.products import service as products
from pd_prime_demo.web import pages
from pd_prime_demo.web.deps import StaffDep

router = APIRouter(prefix="/app", include_in_schema=False)


@router.get("/policies/{policy_id}", response_class=HTMLResponse)
async def read_policy(
    policy_id: uuid.UUID,
    request: Request,
    session: Session,
    staff: StaffDep,
    as_of: str | None = None,
) -> Response:
    actor = staff.actor
    context: dict[str, Any] = {"staff": staff}
    try:
        on = date.fromisoformat(as_of) if as_of else clock.today()
    except ValueError:
        on = clock.today()
        context["date_problem"] = "Enter the date as YYYY-MM-DD; showing today instead."
    match await policies.read_as_of(session, policy_id, on, actor=actor):
        case Err(error):
            return await pages.failed(request, session, error, context)
        case Ok((policy, state)):
            pass
    terms = state.snapshot
    names: dict[str, str] = {}
    if terms and "product_version_id" in terms:
        version = await products.compiled_version(
            session, uuid.UUID(str(terms["product_version_id"]))
        )
        names = {c.code: c.name for c in version.definition.coverages}
    context |= {
        "coverage_names": names,
        "policy": policy,
        "state": state,
        "terms": state.snapshot,
        "history": await policies.transactions(session, policy.id),
    }
    match await documents.list_for_policy(session, policy.id, limit=50):
        case Ok((docs, _)):
            context["documents"] = docs
        case Err():
            context["documents"] = []
    match await billing.read_account(session, policy.id, actor=actor, as_of=on):
        case Ok(account):
            context["account"] = account
        case Err():
            context["account"] = None
    return pages.render(request, "app/policy.html", context)
