"""The documents of a policy transaction: its declarations page, and the notice a cancellation
or a non-renewal sends (the cancellation confirmation, the notice of non-renewal).

Requested in the recording transaction (``common.record``), drawn by the documents job once it
commits. Building the facts costs one query for the policy's history (the state before, and the
term's written premium; none for new business) and the producer through the customer and
identity services (by primary key, usually already in the session); a cancellation's
confirmation reads the billing account after its credit (the account view and its refunds).
The rating that itemises the premium runs in memory (0.8 ms for two vehicles and six
coverages, facts dumped). Nothing here runs per coverage or per vehicle.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.billing import service as billing
from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.config import get_settings
from pd_prime_demo.core.result_types import Ok
from pd_prime_demo.customers import service as customers
from pd_prime_demo.documents import service as documents
from pd_prime_demo.identity import service as identity
from pd_prime_demo.policies import repository
from pd_prime_demo.policies.enums import CancellationReason, TransactionKind
from pd_prime_demo.policies.models import Policy, PolicyTransaction
from pd_prime_demo.policies.service import declaration_facts as f
from pd_prime_demo.policies.service.declaration_changes import changes
from pd_prime_demo.policies.service.declarations import (
    drivers,
    dwelling,
    forms,
    local_day,
    money,
    period,
    premium_lines,
    vehicles,
    words,
)
from pd_prime_demo.policies.state import PolicyState
from pd_prime_demo.premium.proration import ZERO
from pd_prime_demo.products import service as products

_TITLES = {
    TransactionKind.NEW_BUSINESS: "New business",
    TransactionKind.ENDORSEMENT: "Policy change (endorsement)",
    TransactionKind.CANCELLATION: "Cancellation",
    TransactionKind.REINSTATEMENT: "Reinstatement",
    TransactionKind.RENEWAL: "Renewal",
    TransactionKind.NON_RENEWAL: "Notice of non-renewal",
}
_CANCELLATION_REASONS = {
    CancellationReason.INSURED_REQUEST: "At the request of the named insured",
    CancellationReason.NON_PAYMENT: "Non-payment of premium",
    CancellationReason.UNDERWRITING: "Underwriting reasons",
}
_DOCUMENTS = Actor.system("documents")


def _reason(txn: PolicyTransaction, state: PolicyState) -> str:
    kind = TransactionKind(txn.kind)
    if kind is TransactionKind.CANCELLATION and state.cancellation is not None:
        return _CANCELLATION_REASONS[state.cancellation.reason_code]
    if kind is TransactionKind.NON_RENEWAL and state.non_renewal is not None:
        return state.non_renewal.reason
    if kind is TransactionKind.REINSTATEMENT:
        if state.lapse is not None:
            return f"Reinstated with a lapse in cover from {state.lapse.from_} to {state.lapse.to}"
        return "Reinstated with no lapse in cover"
    if kind is TransactionKind.RENEWAL:
        return "Renewed for a new policy period"
    return ""


def _order(txn: PolicyTransaction) -> tuple[date, int]:
    return txn.effective_on, txn.seq


def in_effect(history: list[PolicyTransaction]) -> list[PolicyTransaction]:
    """The transactions that count: neither a reversal nor reversed by one (as
    ``intents.in_effect``, which this module cannot import: intents imports common)."""
    reversed_seqs = {t.reverses_seq for t in history if t.kind == TransactionKind.REVERSAL}
    return [t for t in history if t.kind != TransactionKind.REVERSAL and t.seq not in reversed_seqs]


def _before(history: list[PolicyTransaction], txn: PolicyTransaction) -> PolicyState | None:
    """The state in force just before ``txn`` took effect (None for new business)."""
    earlier = [t for t in in_effect(history) if t.id != txn.id and _order(t) < _order(txn)]
    return PolicyState.from_json(max(earlier, key=_order).snapshot) if earlier else None


def _written(history: list[PolicyTransaction], txn: PolicyTransaction) -> Decimal:
    """The premium the term had written before ``txn``."""
    return sum(
        (
            t.premium_change
            for t in in_effect(history)
            if t.id != txn.id and t.term_start == txn.term_start and _order(t) < _order(txn)
        ),
        ZERO,
    )


async def producer(session: AsyncSession, customer_id: uuid.UUID) -> f.Producer:
    """The customer's agent, by name and e-mail; the carrier itself for a direct customer."""
    match await customers.get_customer(session, customer_id, actor=_DOCUMENTS):
        case Ok(customer) if customer.agent_id is not None:
            match await identity.get_user(session, customer.agent_id):
                case Ok(agent):
                    return f.Producer(name=agent.full_name, email=agent.email)
    settings = get_settings()
    return f.Producer(name=f"Direct: {settings.carrier_name}", email=settings.carrier_email)


def declarations_facts(
    policy: Policy,
    txn: PolicyTransaction,
    state: PolicyState,
    version: products.CompiledVersion,
    *,
    before: PolicyState | None,
    written: Decimal,
    agent: f.Producer,
    replaced: PolicyTransaction | None = None,
) -> f.Declarations:
    """The page of ``txn``: pure, from what the caller loaded (``replaced``: the transaction
    ``txn`` re-applies, when it does)."""
    defn = version.definition
    lines = premium_lines(defn, version.engine, state)
    named = drivers(state.risk)
    coverage_total = sum((Decimal(c.premium) for c in lines.coverages), ZERO)
    fees = sum((Decimal(x.amount) for x in lines.fees), ZERO)
    taxes = sum((Decimal(x.amount) for x in lines.taxes), ZERO)
    term = period(defn, state.term_start, state.term_end)
    issued_on = local_day(defn, txn.created_at)
    effect_total = txn.premium_change + txn.fees_change + txn.taxes_change
    return f.Declarations(
        policy_number=policy.number,
        product_code=policy.product_code,
        product_name=defn.product_name,
        state=policy.state,
        rate_version=state.rate_version,
        transaction=f.Transaction(
            kind=txn.kind,
            title=_TITLES.get(TransactionKind(txn.kind), words(txn.kind)),
            number=txn.seq,
            effective_on=txn.effective_on,
            reason=_reason(txn, state),
        ),
        issued_on=issued_on,
        period=term,
        status=words(state.status.value),
        producer=agent,
        payment_plan=words(state.payment_plan or policy.payment_plan),
        vehicles=vehicles(state.risk, named),
        drivers=named,
        dwelling=dwelling(defn, state.risk),
        coverages=lines.coverages,
        coverage_total=money(coverage_total),
        adjustments=lines.adjustments,
        term_premium=money(state.term_premium),
        fees=lines.fees,
        fees_total=money(fees),
        taxes=lines.taxes,
        taxes_total=money(taxes),
        total=money(state.term_premium + fees + taxes),
        term_written=money(written + txn.premium_change),
        forms=forms(defn, state),
        changes=changes(defn, before, state) if before is not None else [],
        effect=f.Effect(
            premium=money(txn.premium_change),
            fees=money(txn.fees_change),
            taxes=money(txn.taxes_change),
            total=money(effect_total),
        ),
        cancellation=_cancellation(txn, state, term, written),
        non_renewal=_non_renewal(state, issued_on),
        replaces=replaced.seq if replaced is not None else None,
        net_effect=_net(txn, replaced) if replaced is not None else None,
    )


def _net(txn: PolicyTransaction, replaced: PolicyTransaction) -> f.Effect:
    premium = txn.premium_change - replaced.premium_change
    fees = txn.fees_change - replaced.fees_change
    taxes = txn.taxes_change - replaced.taxes_change
    return f.Effect(
        premium=money(premium),
        fees=money(fees),
        taxes=money(taxes),
        total=money(premium + fees + taxes),
    )


def _cancellation(
    txn: PolicyTransaction, state: PolicyState, term: f.Period, written: Decimal
) -> f.Cancellation | None:
    cancelled = state.cancellation
    if cancelled is None:
        return None
    taxes_returned = -txn.taxes_change if txn.kind == TransactionKind.CANCELLATION else ZERO
    return f.Cancellation(
        effective_on=cancelled.effective_on,
        time=term.time,
        reason=_CANCELLATION_REASONS[cancelled.reason_code],
        reason_code=cancelled.reason_code.value,
        note=(txn.note or "")
        if txn.kind == TransactionKind.CANCELLATION
        and cancelled.reason_code is CancellationReason.UNDERWRITING
        else "",
        method=words(cancelled.method.value),
        return_premium=money(cancelled.return_premium),
        taxes_returned=money(taxes_returned),
        has_taxes_returned=taxes_returned != 0,
        written_premium=money(written),
        earned_premium=money(written - cancelled.return_premium),
    )


def _non_renewal(state: PolicyState, issued_on: date) -> f.NonRenewal | None:
    """The notice is dated the day it is issued (in the policy's zone), and its days of notice
    run from then to the end of cover: not from the transaction's effective date, which is
    later when the policy's last change takes effect in the future."""
    notice = state.non_renewal
    if notice is None:
        return None
    return f.NonRenewal(
        reason=notice.reason,
        notice_on=issued_on,
        cover_ends_on=state.term_end,
        notice_days=(state.term_end - issued_on).days,
    )


def account_after(balance: Decimal, refunded: Decimal) -> f.AccountAfter:
    """The account after the credit: a positive receivable is still owed, a negative one a
    credit kept; ``refunded`` is what this cancellation's credit paid out at once."""
    owed, credit = max(balance, ZERO), max(-balance, ZERO)
    return f.AccountAfter(
        owed=money(owed),
        credit=money(credit),
        refunded=money(refunded),
        has_owed=owed > 0,
        has_credit=credit > 0,
        has_refund=refunded > 0,
    )


async def _account_after(
    session: AsyncSession, policy: Policy, txn: PolicyTransaction
) -> f.AccountAfter | None:
    """Read after the cancellation's posting (``common.record`` posts it to billing, and any
    refund it makes due, before requesting the documents, in the same transaction)."""
    match await billing.read_account(session, policy.id, actor=_DOCUMENTS):
        case Ok(account):
            pass
        case _:
            return None
    _, refunds = await billing.money_of(session, policy.id)
    refunded = sum((r.amount for r in refunds if r.issued_at >= txn.created_at), ZERO)
    return account_after(account.balance, refunded)


def confirmation_facts(
    page: f.Declarations, account: f.AccountAfter | None = None
) -> f.CancellationConfirmation | None:
    """The confirmation of a cancellation: what its declarations page says of it, and the
    account after its credit (None when the page is not a cancelled policy's)."""
    if page.cancellation is None:
        return None
    return f.CancellationConfirmation(
        policy_number=page.policy_number,
        product_name=page.product_name,
        state=page.state,
        issued_on=page.issued_on,
        period=page.period,
        transaction=page.transaction,
        cancellation=page.cancellation,
        producer=page.producer,
        account=account,
    )


def nonrenewal_facts(page: f.Declarations) -> f.NonRenewalNotice | None:
    """The notice of non-renewal: what its declarations page says of it (None without one)."""
    if page.non_renewal is None:
        return None
    return f.NonRenewalNotice(
        policy_number=page.policy_number,
        product_name=page.product_name,
        state=page.state,
        issued_on=page.issued_on,
        period=page.period,
        non_renewal=page.non_renewal,
        producer=page.producer,
    )


async def request_documents(
    session: AsyncSession,
    policy: Policy,
    txn: PolicyTransaction,
    state: PolicyState,
    version: products.CompiledVersion,
) -> uuid.UUID:
    """Request the declarations page of ``txn`` (and its notice, for a cancellation or a
    non-renewal first recorded, not re-applied after an out-of-sequence change); the page's id."""
    # New business has nothing before it: a bind reads no history.
    history = (
        []
        if txn.kind == TransactionKind.NEW_BUSINESS
        else await repository.transactions(session, policy.id)
    )
    page = declarations_facts(
        policy,
        txn,
        state,
        version,
        before=_before(history, txn),
        written=_written(history, txn),
        agent=await producer(session, policy.customer_id),
        replaced=next((t for t in history if t.seq == txn.reapplies_seq), None)
        if txn.reapplies_seq is not None
        else None,
    )
    stem = f"{policy.number}-{txn.seq:03d}"

    async def request(kind: str, filename: str, facts: f.Facts) -> uuid.UUID:
        return await documents.request(
            session,
            kind=kind,
            policy_id=policy.id,
            source_id=str(txn.id),
            filename=f"{stem}-{filename}.pdf",
            product_code=policy.product_code,
            facts=facts.model_dump(mode="json"),
            customer_id=policy.customer_id,
            issued_at=txn.created_at,
        )

    page_id = await request("declarations", txn.kind, page)
    if txn.reapplies_seq is not None:
        return page_id
    if txn.kind == TransactionKind.CANCELLATION:
        confirmation = confirmation_facts(page, await _account_after(session, policy, txn))
        if confirmation is not None:
            await request("cancellation_confirmation", "cancellation-confirmation", confirmation)
    if txn.kind == TransactionKind.NON_RENEWAL:
        notice = nonrenewal_facts(page)
        if notice is not None:
            await request("nonrenewal_notice", "nonrenewal-notice", notice)
    return page_id
