"""Billing operations and the ledger (billing staff and admins)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict

from pd_prime_demo.api import API_V1
from pd_prime_demo.api.dependencies import Session, require
from pd_prime_demo.api.response_patterns import problem_responses
from pd_prime_demo.billing import ledger
from pd_prime_demo.billing.earning import post_earned
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor, Permission
from pd_prime_demo.policies.delinquency import run_billing

router = APIRouter(prefix=API_V1, tags=["billing"])

Manager = Annotated[Actor, Depends(require(Permission.BILLING_MANAGE))]


class _In(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BillingRunCreate(_In):
    on: date | None = None


class BillingRunRead(BaseModel):
    model_config = ConfigDict(frozen=True)
    on: date
    invoiced: int
    notices: int
    cancellations: int


class EarningRunCreate(_In):
    through: date


class EarningRunRead(BaseModel):
    model_config = ConfigDict(frozen=True)
    through: date
    entries_posted: int


class TrialBalanceRead(BaseModel):
    model_config = ConfigDict(frozen=True)
    balanced: bool
    debits: Decimal
    credits: Decimal
    unbalanced_entries: list[int]
    accounts: dict[str, Decimal]


@router.post(
    "/billing/runs",
    response_model=BillingRunRead,
    responses=problem_responses(401, 403, 422),
    summary="Run billing for a day: invoices, notices, non-payment cancellations",
)
async def start_billing_run(body: BillingRunCreate, session: Session, _: Manager) -> BillingRunRead:
    run = await run_billing(session, on=body.on or clock.today())
    return BillingRunRead(
        on=run.on, invoiced=run.invoiced, notices=run.notices, cancellations=run.cancellations
    )


@router.post(
    "/ledger/earnings",
    response_model=EarningRunRead,
    responses=problem_responses(401, 403, 422),
    summary="Recognise earned premium (daily pro-rata) through a date",
)
async def post_earnings(body: EarningRunCreate, session: Session, _: Manager) -> EarningRunRead:
    return EarningRunRead(
        through=body.through, entries_posted=await post_earned(session, through=body.through)
    )


@router.get(
    "/ledger/trial-balance",
    response_model=TrialBalanceRead,
    responses=problem_responses(401, 403),
    summary="Prove the ledger balances: total debits, credits, and any unbalanced entry",
)
async def read_trial_balance(session: Session, _: Manager) -> TrialBalanceRead:
    trial = await ledger.trial_balance(session)
    accounts = await ledger.balances(session)
    return TrialBalanceRead(
        balanced=trial.balanced,
        debits=trial.debits,
        credits=trial.credits,
        unbalanced_entries=trial.unbalanced_entries,
        accounts={a.value: v for a, v in accounts.items()},
    )
