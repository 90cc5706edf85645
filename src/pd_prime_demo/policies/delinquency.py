"""The billing run: invoices ahead of due dates, then delinquency.

Past the product's grace period an unpaid invoice gets a notice of cancellation for
non-payment, effective ``notice_days`` later; if it is still unpaid on that date, the policy is
cancelled for non-payment (pro-rata) effective that date. The worker runs this daily; the API
and the CLI can trigger it too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.billing import service as billing
from pd_prime_demo.billing.models import InstallmentRow
from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.outbox import emit
from pd_prime_demo.core.result_types import Err
from pd_prime_demo.policies import service as policies
from pd_prime_demo.policies.models import Policy


@dataclass(frozen=True, slots=True)
class BillingRun:
    on: date
    invoiced: int
    notices: int
    cancellations: int


async def run_billing(session: AsyncSession, *, on: date) -> BillingRun:
    actor = Actor.system("billing-run")
    invoiced = await billing.invoice_due(session, through=on)
    notices = cancellations = 0
    invoiced_rows = (
        await session.scalars(
            select(InstallmentRow)
            .where(InstallmentRow.invoice_number.is_not(None), InstallmentRow.due_on < on)
            .order_by(InstallmentRow.due_on)
        )
    ).all()
    for policy_id in dict.fromkeys(r.policy_id for r in invoiced_rows):
        policy = await session.get(Policy, policy_id, with_for_update=True)
        assert policy is not None
        history = await policies.transactions(session, policy.id)
        if policies.state_as_of(history, on).status != "in_force":
            continue
        rules = (await policies.definition_for(session, history[-1].product_version_id)).billing
        view = await billing.account(session, policy)
        for item in view.past_due(on, rules.grace_days):
            row = item.row
            if row.notice_sent_on is None:
                row.notice_sent_on = on
                row.cancel_effective_on = on + timedelta(days=rules.notice_days)
                detail = {
                    "invoice": row.invoice_number,
                    "cancel_effective_on": row.cancel_effective_on.isoformat(),
                }
                await audit.record(
                    session, actor, "billing.cancellation_notice", "policy", str(policy.id), detail
                )
                emit(session, "billing.cancellation_notice", "policy", str(policy.id), detail)
                notices += 1
            elif row.cancel_effective_on is not None and on >= row.cancel_effective_on:
                result = await policies.cancel(
                    session,
                    policy.id,
                    effective_on=row.cancel_effective_on,
                    reason_code="non_payment",
                    note=f"unpaid invoice {row.invoice_number}",
                    actor=actor,
                )
                if not isinstance(result, Err):
                    cancellations += 1
                break
    await session.flush()
    return BillingRun(on, invoiced, notices, cancellations)
