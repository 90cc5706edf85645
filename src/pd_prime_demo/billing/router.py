"""Billing routes: a policy's account and payments, the billing run and the ledger."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status

from pd_prime_demo.api import API_V1
from pd_prime_demo.api.dependencies import Session
from pd_prime_demo.api.response_patterns import handle_result, problem_responses
from pd_prime_demo.billing import service
from pd_prime_demo.billing.schemas import (
    AccountRead,
    BillingRunCreate,
    BillingRunRead,
    EarningRunCreate,
    EarningRunRead,
    InstallmentRead,
    PaymentCreate,
    PaymentRead,
    PaymentRecorded,
    RefundRead,
    SettledRead,
    SkippedRead,
    TrialBalanceRead,
)
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor, Permission
from pd_prime_demo.core.dates import BusinessDate, Moment
from pd_prime_demo.identity.dependencies import CurrentActor, require

router = APIRouter(prefix=API_V1, tags=["billing"])

Manager = Annotated[Actor, Depends(require(Permission.BILLING_MANAGE))]


@dataclass(frozen=True, slots=True)
class BillingPorts:
    """What billing needs from domains it may not import, wired by ``main.create_app``."""

    cancel_policy: service.CancelPolicy


async def billing_ports(request: Request) -> BillingPorts:
    ports: BillingPorts = request.app.state.billing_ports
    return ports


def _installment(item: service.InstallmentView) -> InstallmentRead:
    row = item.row
    return InstallmentRead(
        term_start=row.term_start,
        seq=row.seq,
        due_on=row.due_on,
        amount=row.amount,
        fee=row.fee,
        invoice_number=row.invoice_number if item.is_invoiced else None,
        invoiced_on=row.invoiced_on if item.is_invoiced else None,
        status=item.status,
        paid=item.paid,
        outstanding=item.outstanding,
    )


@router.get(
    "/policies/{policy_id}/billing",
    response_model=AccountRead,
    responses=problem_responses(401, 404, 422),
    summary="Installments and invoices, payments and refunds, and the ledger balance",
)
async def read_billing(
    policy_id: uuid.UUID,
    session: Session,
    actor: CurrentActor,
    as_of: Annotated[
        BusinessDate | None, Query(description="At the end of this day; default now.")
    ] = None,
    known_at: Annotated[
        Moment | None, Query(description="As the system knew it at this moment.")
    ] = None,
) -> AccountRead:
    view = handle_result(
        await service.read_account(session, policy_id, actor=actor, as_of=as_of, known_at=known_at)
    )
    payments, refunds = view.payments, view.refunds
    if as_of is None and known_at is None:
        payments, refunds = await service.money_of(session, policy_id)
    return AccountRead(
        as_of=as_of,
        known_at=known_at,
        balance=view.balance,
        paid=view.paid,
        refunded=view.refunded,
        unapplied=view.credit,
        installments=[_installment(i) for i in view.installments],
        payments=[PaymentRead.model_validate(p) for p in payments],
        refunds=[RefundRead.model_validate(r) for r in refunds],
    )


@router.post(
    "/policies/{policy_id}/payments",
    response_model=PaymentRecorded,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": PaymentRecorded, "description": "Replayed: already recorded"},
        **problem_responses(401, 403, 404, 422),
    },
    summary="Pay (Idempotency-Key required: a retry never pays twice)",
)
async def pay_policy(
    policy_id: uuid.UUID,
    body: PaymentCreate,
    response: Response,
    session: Session,
    actor: Annotated[Actor, Depends(require(Permission.BILLING_PAY))],
    idempotency_key: Annotated[
        str,
        Header(alias="Idempotency-Key", min_length=1, max_length=255, pattern=r"^[\x21-\x7e]+$"),
    ],
) -> PaymentRecorded:
    # The account's row lock serialises payments on it: a second request with the same key
    # waits for the first to commit, then finds its payment and replays it.
    account = handle_result(
        await service.account_for(session, policy_id, actor=actor, for_update=True)
    )
    recorded = handle_result(
        await service.pay(
            session,
            account,
            amount=body.amount,
            method=body.method,
            idempotency_key=idempotency_key,
            actor=actor,
        )
    )
    if not recorded.created:
        response.status_code = status.HTTP_200_OK
        response.headers["Idempotent-Replayed"] = "true"
    payment = recorded.payment
    return PaymentRecorded(
        id=payment.id,
        amount=payment.amount,
        method=payment.method,
        received_at=payment.received_at,
        settled=[SettledRead.model_validate(item) for item in recorded.settled],
        credit=payment.amount - sum((Decimal(i["amount"]) for i in recorded.settled), Decimal(0)),
    )


@router.post(
    "/billing/runs",
    response_model=BillingRunRead,
    responses=problem_responses(401, 403, 422),
    summary="Run billing for a day: invoices, notices, non-payment cancellations",
)
async def start_billing_run(
    body: BillingRunCreate,
    session: Session,
    _: Manager,
    ports: Annotated[BillingPorts, Depends(billing_ports)],
) -> BillingRunRead:
    run = handle_result(
        await service.run_billing(
            session, on=body.on or clock.today(), cancel_policy=ports.cancel_policy
        )
    )
    return BillingRunRead(
        on=run.on,
        invoiced=run.invoiced,
        notices=run.notices,
        cancellations=run.cancellations,
        skipped=[SkippedRead.model_validate(s) for s in run.skipped],
    )


@router.post(
    "/ledger/earnings",
    response_model=EarningRunRead,
    responses=problem_responses(401, 403, 422),
    summary="Recognise earned premium (daily pro-rata) through a date",
)
async def post_earnings(body: EarningRunCreate, session: Session, _: Manager) -> EarningRunRead:
    posted = handle_result(
        await service.post_earned(session, through=body.through, restate=body.restate)
    )
    return EarningRunRead(through=body.through, entries_posted=posted)


@router.get(
    "/ledger/trial-balance",
    response_model=TrialBalanceRead,
    responses=problem_responses(401, 403),
    summary="Prove the ledger balances: total debits, credits, and any unbalanced entry",
)
async def read_trial_balance(session: Session, _: Manager) -> TrialBalanceRead:
    trial = await service.trial_balance(session)
    accounts = await service.balances(session)
    return TrialBalanceRead(
        balanced=trial.balanced,
        debits=trial.debits,
        credits=trial.credits,
        unbalanced_entries=trial.unbalanced_entries,
        accounts={a.value: v for a, v in accounts.items()},
    )
