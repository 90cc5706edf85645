"""The billing run: non-payment cancellations that are due, invoices ahead of due dates, and
notices of cancellation for invoices unpaid past their grace period.

Past the product's grace period an unpaid invoice gets a notice of cancellation for
non-payment (a ``cancellation_notice`` document with the dates and amounts set here),
effective ``notice_days`` after the day it is sent; if it is still unpaid on that date, the
policy is cancelled for non-payment effective that date. A notice is sent the day it is drawn
and mailed, today, even from a run catching up a missed day: dated that day instead, it would
give less notice than it says (the run of Dec 19 caught up on Dec 26 would cancel on Dec 29).

Billing does not change policies: the run is handed the policies domain's cancellation
(``cancel_policy``) and calls it; that function locks the policy, then asks
:func:`non_payment_cancellation_due` again under the account's lock, so a payment that arrives
meanwhile wins.

Locks: a policy's row before its billing account's row, and the account's row before any of its
installments, payments or refunds, on every path; runs are serialised by an advisory lock.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.billing import repository
from pd_prime_demo.billing.models import InstallmentRow
from pd_prime_demo.billing.service.documents import ProductNames, notice_facts
from pd_prime_demo.billing.service.invoicing import invoice_due
from pd_prime_demo.billing.service.views import AccountView, InstallmentView, view
from pd_prime_demo.core import clock, locks
from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.after_commit import after_commit
from pd_prime_demo.core.outbox import emit
from pd_prime_demo.core.result_types import DomainError, Err, FieldIssue, Ok, Result, invalid
from pd_prime_demo.core.telemetry import DELINQUENCY_NOTICES, NONPAYMENT_CANCELLATIONS
from pd_prime_demo.core.tracing import annotate, business_span
from pd_prime_demo.documents import service as documents


class CancelPolicy(Protocol):
    """The policies domain's non-payment cancellation, as the billing run calls it: cancel the
    policy if :func:`non_payment_cancellation_due` says so; Ok(True) if it was cancelled."""

    def __call__(
        self, session: AsyncSession, policy_id: uuid.UUID, *, on: date
    ) -> Awaitable[Result[bool, DomainError]]: ...


@dataclass(frozen=True, slots=True)
class DueCancellation:
    effective_on: date
    invoice_number: str


@dataclass(frozen=True, slots=True)
class Skipped:
    """A policy the run should have cancelled for non-payment but could not, and why."""

    policy_id: uuid.UUID
    policy_number: str
    code: str
    reason: str


@dataclass(frozen=True, slots=True)
class BillingRun:
    on: date
    invoiced: int
    notices: int
    cancellations: int
    skipped: tuple[Skipped, ...] = ()


RUN_LOCK = "job:billing.run"


async def run_billing(
    session: AsyncSession, *, on: date, cancel_policy: CancelPolicy
) -> Result[BillingRun, DomainError]:
    """Run billing for ``on`` (today, or a past day missed): never ahead of time, which would
    issue notices and cancellations early."""
    with business_span("billing.run", on=on.isoformat()) as span:
        ran = await _run(session, on, cancel_policy)
        match ran:
            case Ok(run):
                annotate(
                    span,
                    outcome="ran",
                    invoices=run.invoiced,
                    notices=run.notices,
                    cancellations=run.cancellations,
                    skipped=len(run.skipped),
                )
                # Counted once the run's transaction commits (a run that rolls back sent no
                # notice and cancelled nothing); a re-run finds them done and counts zero.
                after_commit(session, lambda: DELINQUENCY_NOTICES.inc(run.notices))
                after_commit(session, lambda: NONPAYMENT_CANCELLATIONS.inc(run.cancellations))
            case Err(error):
                annotate(span, outcome=error.code)
        return ran


async def _run(
    session: AsyncSession, on: date, cancel_policy: CancelPolicy
) -> Result[BillingRun, DomainError]:
    if on > clock.today():
        return Err(
            invalid(
                "billing.run_in_future",
                "billing runs for today or a past day, never ahead",
                FieldIssue("#/on", f"must not be after {clock.today().isoformat()}"),
            )
        )
    await locks.lock(session, RUN_LOCK)
    candidates = await repository.accounts_with_invoices_due_before(session, on)
    cancellations = 0
    skipped: list[Skipped] = []
    for policy_id in candidates:
        match await cancel_policy(session, policy_id, on=on):
            case Ok(True):
                cancellations += 1
            case Ok(False):
                pass
            case Err(error):
                account = await repository.account(session, policy_id)
                number = account.policy_number if account is not None else str(policy_id)
                skipped.append(Skipped(policy_id, number, error.code, error.detail))
    # Notices before invoices: an invoice issued in the same run states the notice's terms
    # (the installment rows are the session's own, so the invoicing reads the dates just set).
    products = ProductNames()
    notices = 0
    actor = Actor.system("billing-run")
    for policy_id in candidates:
        notices += await _send_notices(session, policy_id, on, actor, products)
    invoiced = await invoice_due(session, through=on, products=products)
    await session.flush()
    return Ok(BillingRun(on, invoiced, notices, cancellations, tuple(skipped)))


async def _covered_on(session: AsyncSession, policy_id: uuid.UUID, on: date) -> bool:
    return await repository.covered_on(session, policy_id, on)


async def _send_notices(
    session: AsyncSession, policy_id: uuid.UUID, on: date, actor: Actor, products: ProductNames
) -> int:
    account = await repository.account(session, policy_id, for_update=True)
    assert account is not None
    if not await _covered_on(session, policy_id, on):
        return 0
    sent = 0
    account_view = await view(session, account)
    mailed_on = clock.today()  # not ``on``: a catch-up run mails its notices today
    for item in account_view.past_due(on):
        row = item.row
        if row.notice_sent_on is not None:
            continue
        row.notice_sent_on = mailed_on
        row.cancel_effective_on = mailed_on + timedelta(days=account.notice_days)
        await _request_notice(session, account_view, item, products)
        detail = {
            "invoice": row.invoice_number,
            "notice_sent_on": mailed_on.isoformat(),
            "cancel_effective_on": row.cancel_effective_on.isoformat(),
        }
        await audit.record(
            session, actor, "billing.cancellation_notice", "policy", str(policy_id), detail
        )
        emit(
            session,
            "billing.cancellation_notice",
            "policy",
            str(policy_id),
            detail,
            customer_id=account.customer_id,
        )
        sent += 1
    return sent


async def _request_notice(
    session: AsyncSession,
    account_view: AccountView,
    item: InstallmentView,
    products: ProductNames,
) -> None:
    """The notice's page (one per notice: the document's source is the installment whose
    non-payment it announces, recorded in the transaction that sets its dates), dated the day
    it is sent."""
    account = account_view.account
    row = item.row
    assert isinstance(row, InstallmentRow)
    assert row.invoice_number is not None
    assert row.notice_sent_on is not None
    term = await repository.term(session, account.policy_id, row.term_start)
    assert term is not None
    facts = notice_facts(
        account_view,
        item,
        product_name=await products.name(session, account.product_code, account.state),
        term_end=term.term_end,
        zone=await products.zone(session, account.product_code, account.state),
    )
    await documents.request(
        session,
        kind="cancellation_notice",
        policy_id=account.policy_id,
        source_id=str(row.id),
        filename=f"{row.invoice_number}-notice-{row.notice_sent_on:%Y%m%d}.pdf",
        product_code=account.product_code,
        facts=facts.model_dump(mode="json"),
        customer_id=account.customer_id,
        issued_at=clock.now(),
    )


async def non_payment_cancellation_due(
    session: AsyncSession, policy_id: uuid.UUID, on: date
) -> DueCancellation | None:
    """The cancellation a notice announced, if its date has come and the invoice is still
    unpaid (the account is locked: call it holding the policy's lock)."""
    account = await repository.account(session, policy_id, for_update=True)
    if account is None or not await _covered_on(session, policy_id, on):
        return None
    for item in (await view(session, account)).past_due(on):
        row = item.row
        if row.cancel_effective_on is not None and on >= row.cancel_effective_on:
            assert row.invoice_number is not None
            return DueCancellation(row.cancel_effective_on, row.invoice_number)
    return None
