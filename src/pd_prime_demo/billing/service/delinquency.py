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
installments, payments or refunds, on every path. The run is cut into keyset ranges of accounts
(:func:`account_ranges`), each billed in one transaction (:func:`bill_accounts`): the worker
defers one chunk job a range, so workers share a run and a crash re-does at most one range.
Every step re-checks its state under the account's lock, so a range billed twice (a retried
chunk, the API's run beside the worker's) does nothing twice; an advisory lock per range makes
a re-done chunk wait for the first rather than contend with it row by row, and one for the whole
book (``RUN_LOCK``) serialises the API's whole-book runs.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.billing import repository
from pd_prime_demo.billing.models import InstallmentRow
from pd_prime_demo.billing.service.documents import ProductNames, notice_facts
from pd_prime_demo.billing.service.invoicing import invoice_accounts
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


@dataclass(frozen=True, slots=True)
class AccountRange:
    """A keyset range of billing accounts, ``(after, upto]`` by policy id (None: open)."""

    after: uuid.UUID | None = None
    upto: uuid.UUID | None = None

    @property
    def lock_name(self) -> str:
        return f"{RUN_LOCK}:{self.after or 'first'}"


async def account_ranges(
    session: AsyncSession, *, size: int, after: uuid.UUID | None = None
) -> AsyncIterator[AccountRange]:
    """The book cut into ranges of ``size`` accounts, in id order, reading one page of ids at
    a time (never the book). The last range is open-ended: an account opened meanwhile is in
    it."""
    while True:
        ids = await repository.account_ids_after(session, after, size)
        if len(ids) < size:
            yield AccountRange(after, None)
            return
        yield AccountRange(after, ids[-1])
        after = ids[-1]


async def run_billing(
    session: AsyncSession, *, on: date, cancel_policy: CancelPolicy, chunk_size: int = 500
) -> Result[BillingRun, DomainError]:
    """Run billing for ``on`` (today, or a past day missed) over the whole book in this one
    transaction (the API's run, the demo's replay): never ahead of time, which would issue
    notices and cancellations early. Whole-book runs are serialised by ``RUN_LOCK``; the
    worker runs the same chunks (:func:`bill_accounts`) each in a transaction of its own."""
    if (refused := _refuse_future(on)) is not None:
        return refused
    await locks.lock(session, RUN_LOCK)
    total = BillingRun(on, 0, 0, 0)
    async for accounts in account_ranges(session, size=chunk_size):
        match await bill_accounts(session, on=on, accounts=accounts, cancel_policy=cancel_policy):
            case Ok(run):
                total = BillingRun(
                    on,
                    total.invoiced + run.invoiced,
                    total.notices + run.notices,
                    total.cancellations + run.cancellations,
                    total.skipped + run.skipped,
                )
            case Err() as err:
                return err
    return Ok(total)


async def bill_accounts(
    session: AsyncSession,
    *,
    on: date,
    accounts: AccountRange,
    cancel_policy: CancelPolicy,
    lock_range: bool = False,
) -> Result[BillingRun, DomainError]:
    """The billing run of ``on`` over one range of accounts: every step of an account
    (cancellation, then notices, then invoices) in this transaction, so its order holds.

    Each step re-checks under the account's row lock what it finds done (an invoice number,
    a notice's date, a cancelled policy), so the range done again, by a retry or a second
    run, does nothing twice. With ``lock_range`` (a chunk job), one transaction bills a range
    at a time: a re-done copy of a chunk waits for the first and then finds it all done."""
    if (refused := _refuse_future(on)) is not None:
        return refused
    with business_span("billing.run", on=on.isoformat()) as span:
        if lock_range:
            await locks.lock(session, accounts.lock_name)
        run = await _run(session, on, accounts, cancel_policy)
        annotate(
            span,
            outcome="ran",
            invoices=run.invoiced,
            notices=run.notices,
            cancellations=run.cancellations,
            skipped=len(run.skipped),
        )
        # Counted once the transaction commits (one that rolls back sent no notice and
        # cancelled nothing); a re-run finds them done and counts zero.
        after_commit(session, lambda: DELINQUENCY_NOTICES.inc(run.notices))
        after_commit(session, lambda: NONPAYMENT_CANCELLATIONS.inc(run.cancellations))
        return Ok(run)


def _refuse_future(on: date) -> Err[DomainError] | None:
    if on <= clock.today():
        return None
    return Err(
        invalid(
            "billing.run_in_future",
            "billing runs for today or a past day, never ahead",
            FieldIssue("#/on", f"must not be after {clock.today().isoformat()}"),
        )
    )


async def _run(
    session: AsyncSession, on: date, accounts: AccountRange, cancel_policy: CancelPolicy
) -> BillingRun:
    work = await repository.billing_work(session, on=on, after=accounts.after, upto=accounts.upto)
    # Only accounts owing money past their grace period on a covered term can be due a
    # cancellation or a notice; each is decided exactly under its locks.
    candidates = [w.policy_id for w in work if w.maybe_delinquent]
    cancellations = 0
    skipped: list[Skipped] = []
    # Only where a notice's date has come (the policy is locked for it, before its account).
    for policy_id in [w.policy_id for w in work if w.maybe_cancel]:
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
    to_invoice = [w.policy_id for w in work if w.to_invoice]
    invoiced = await invoice_accounts(session, to_invoice, through=on, products=products)
    await session.flush()
    return BillingRun(on, invoiced, notices, cancellations, tuple(skipped))


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
    # The allocation alone decides it: the ledger's balance is not read.
    for item in (await view(session, account, with_balance=False)).past_due(on):
        row = item.row
        if row.cancel_effective_on is not None and on >= row.cancel_effective_on:
            assert row.invoice_number is not None
            return DueCancellation(row.cancel_effective_on, row.invoice_number)
    return None
