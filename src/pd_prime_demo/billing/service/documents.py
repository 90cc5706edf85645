"""What the billing documents print: an invoice, and a notice of cancellation for non-payment.

The facts are typed here and built by pure functions from the rows the billing run has just
decided on (an installment, what has been paid against each installment, the ledger balance),
so the figures on a page are the stored installment amounts and dates, never recomputed from
a schedule. Every figure is resolved (money as "1234.50", counts, dates): the templates
(``documents/templates/invoice.yaml``, ``cancellation_notice.yaml``) do no arithmetic.

No PII: the insured's name and mailing address are read when the page is drawn; the carrier's
remit-to address and payment instructions come from the document's envelope.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, PlainSerializer
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.billing.models import BillingAccount, InstallmentRow, Payment
from pd_prime_demo.billing.service.views import AccountView, InstallmentView
from pd_prime_demo.core import clock
from pd_prime_demo.core.result_types import Ok
from pd_prime_demo.premium.proration import CENT
from pd_prime_demo.products import service as products

ZERO = Decimal(0)
# A non-payment cancellation takes effect at the start of its day (the policy period's hour).
EFFECTIVE_TIME = "12:01 a.m."
# The zone as the declarations print it (policies/service/declarations.py: billing may not
# import policies, which depends on billing), from the product's ``claims.time_zone``.
_ZONES = {
    "America/New_York": "Eastern",
    "America/Detroit": "Eastern",
    "America/Chicago": "Central",
    "America/Denver": "Mountain",
    "America/Phoenix": "Mountain",
    "America/Los_Angeles": "Pacific",
    "America/Anchorage": "Alaska",
    "Pacific/Honolulu": "Hawaii-Aleutian",
}


def zone_shown(zone: str) -> str:
    """ "Central Time (America/Chicago)" for a zone the declarations name, else the zone."""
    name = _ZONES.get(zone)
    return f"{name} Time ({zone})" if name else zone


def _cents(value: Decimal) -> str:
    return str(value.quantize(CENT))


Money = Annotated[Decimal, PlainSerializer(_cents, return_type=str, when_used="json")]


class _Facts(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class InvoiceLine(_Facts):
    """An earlier invoice still unpaid: what it billed and what of it is outstanding (an
    installment not invoiced yet has no number: payments reach it before later ones)."""

    invoice_number: str | None
    due_on: date
    billed: Money  # installment + fee, as stored on the installment row
    outstanding: Money


class Charge(_Facts):
    """A line of the invoice's amount due; the lines sum to ``total_due``. ``item`` is a code
    the template words: the installment, its fee, payments and credits already applied to it
    (negative), or an earlier invoice past due (its number and due date)."""

    item: Literal["installment", "fee", "applied", "past_due"]
    amount: Money
    invoice_number: str | None = None
    due_on: date | None = None


class PaymentLine(_Facts):
    received_on: date
    method: str  # "card", "ach", "check" (the template prints it with `words`)
    amount: Money


class PendingCancellation(_Facts):
    """A notice of cancellation for non-payment already sent and not yet stopped, as an invoice
    issued with it or after it states it (so the two never contradict each other): what the
    notice asks for now (payments since applied), by when, and when the cancellation takes
    effect."""

    notice_date: date
    invoice_number: str  # the invoice the notice is for
    amount_due: Money  # what stops it: every unpaid installment up to that invoice
    pay_by: date
    cancel_effective_on: date
    cancel_effective_time: str


class InvoiceFacts(_Facts):
    """An invoice: one installment, what is past due with it, the account's balance, and the
    cancellation a notice has announced, if one is pending (``None`` on invoices recorded
    before it was printed, whose facts have no such key)."""

    invoice_number: str
    invoice_date: date
    policy_number: str
    product_name: str
    state: str
    term_start: date
    term_end: date
    installment_number: int  # x of n: its place among the term's live installments
    installment_count: int
    installment_amount: Money
    installment_fee: Money
    installment_billed: Money  # amount + fee
    applied_to_installment: Money  # payments and credits already applied to it
    installment_due: Money  # billed - applied
    past_due: tuple[InvoiceLine, ...]
    past_due_total: Money
    charges: tuple[Charge, ...]  # what makes up total_due, line by line
    last_invoice_on: date | None  # payments are listed from then (from the start if None)
    payments_since: tuple[PaymentLine, ...]
    payments_since_total: Money
    credit_on_account: Money  # money no installment needs yet
    total_due: Money  # installment_due + past_due_total
    due_on: date
    balance: Money  # the ledger's premium receivable after this invoice: positive = owed
    minimum_due: bool  # total_due is less than the balance: the rest is billed later
    grace_days: int
    pending_cancellation: PendingCancellation | None = None
    zone: str = ""  # the zone the policy's times are read in, as printed ("" if unknown)


class CancellationNoticeFacts(_Facts):
    """A notice of cancellation for non-payment, exactly as the billing run decided it."""

    notice_date: date  # the day it is sent (mailed), which the notice period runs from
    policy_number: str
    product_name: str
    state: str
    term_start: date
    term_end: date
    invoice_number: str  # the invoice whose non-payment the notice is for
    unpaid: tuple[InvoiceLine, ...]  # it and every earlier invoice still unpaid
    amount_due: Money  # what keeps the policy in force: the sum of ``unpaid``
    pay_by: date  # the last day a payment is in time (the day before the cancellation)
    cancel_effective_on: date
    cancel_effective_time: str
    notice_days: int  # the days it gives: from the notice date to the cancellation
    grace_days: int
    balance: Money
    zone: str = ""  # the zone the cancellation's time is read in, as printed ("" if unknown)


def _line(item: InstallmentView) -> InvoiceLine:
    return InvoiceLine(
        invoice_number=item.row.invoice_number,
        due_on=item.row.due_on,
        billed=item.due,
        outstanding=item.outstanding,
    )


def _unpaid_through(installments: Sequence[InstallmentView], index: int) -> list[InvoiceLine]:
    """What keeps the policy in force against a notice for ``installments[index]``: payments
    are applied oldest first, so every unpaid installment up to and including it."""
    return [_line(i) for i in installments[: index + 1] if i.outstanding > 0]


def _pending_cancellation(installments: Sequence[InstallmentView]) -> PendingCancellation | None:
    """The earliest notice whose installment is still unpaid (a paid one was withdrawn)."""
    for index, item in enumerate(installments):
        row = item.row
        if row.notice_sent_on is None or row.cancel_effective_on is None:
            continue
        if item.outstanding <= 0:
            continue
        assert row.invoice_number is not None
        unpaid = _unpaid_through(installments, index)
        return PendingCancellation(
            notice_date=row.notice_sent_on,
            invoice_number=row.invoice_number,
            amount_due=sum((line.outstanding for line in unpaid), ZERO),
            pay_by=row.cancel_effective_on - timedelta(days=1),
            cancel_effective_on=row.cancel_effective_on,
            cancel_effective_time=EFFECTIVE_TIME,
        )
    return None


def invoice_facts(
    account: BillingAccount,
    row: InstallmentRow,
    installments: Sequence[InstallmentView],
    *,
    credit: Decimal,
    balance: Decimal,
    payments: Sequence[Payment],
    product_name: str,
    term_end: date,
    zone: str = "",
) -> InvoiceFacts:
    """The invoice of ``row`` (just invoiced) from the account's installments as allocated
    (``views.allocate``: payments applied oldest first), the money no installment needs
    (``credit``), the ledger ``balance`` and the account's payments."""
    assert row.invoice_number is not None
    assert row.invoiced_on is not None
    this = next(i for i in installments if i.row is row)
    term = sorted(
        (i.row for i in installments if i.row.term_start == row.term_start),
        key=lambda r: r.seq,
    )
    live = [r for r in term if r.cancelled_on is None]
    earlier = [i for i in installments if i.row is not row and i.is_invoiced]
    past_due = [_line(i) for i in earlier if i.outstanding > 0 and i.row.due_on < row.invoiced_on]
    past_due_total = sum((line.outstanding for line in past_due), ZERO)
    last_invoice_on = max(
        (i.row.invoiced_on for i in earlier if i.row.invoiced_on is not None), default=None
    )
    since = [
        PaymentLine(received_on=p.received_at.date(), method=p.method, amount=p.amount)
        for p in payments
        if last_invoice_on is None or p.received_at.date() >= last_invoice_on
    ]
    total_due = this.outstanding + past_due_total
    charges = [Charge(item="installment", amount=row.amount, due_on=row.due_on)]
    if row.fee:
        charges.append(Charge(item="fee", amount=row.fee))
    if this.paid:
        charges.append(Charge(item="applied", amount=-this.paid))
    charges += [
        Charge(
            item="past_due", amount=p.outstanding, invoice_number=p.invoice_number, due_on=p.due_on
        )
        for p in past_due
    ]
    return InvoiceFacts(
        invoice_number=row.invoice_number,
        invoice_date=row.invoiced_on,
        policy_number=account.policy_number,
        product_name=product_name,
        state=account.state,
        term_start=row.term_start,
        term_end=term_end,
        installment_number=next(n for n, r in enumerate(live, 1) if r is row),
        installment_count=len(live),
        installment_amount=row.amount,
        installment_fee=row.fee,
        installment_billed=this.due,
        applied_to_installment=this.paid,
        installment_due=this.outstanding,
        past_due=tuple(past_due),
        past_due_total=past_due_total,
        charges=tuple(charges),
        last_invoice_on=last_invoice_on,
        payments_since=tuple(since),
        payments_since_total=sum((p.amount for p in since), ZERO),
        credit_on_account=credit,
        total_due=total_due,
        due_on=row.due_on,
        balance=balance,
        minimum_due=total_due < balance,
        grace_days=account.grace_days,
        pending_cancellation=_pending_cancellation(installments),
        zone=zone,
    )


def notice_facts(
    view: AccountView,
    item: InstallmentView,
    *,
    product_name: str,
    term_end: date,
    zone: str = "",
) -> CancellationNoticeFacts:
    """The notice for ``item`` (past grace, its ``notice_sent_on`` and ``cancel_effective_on``
    just set): dated the day it is sent, and the days of notice it really gives. Payments are
    applied oldest first, so what keeps the policy in force is every unpaid invoice up to and
    including this one: the cancellation is withdrawn only once this one is paid in full."""
    row = item.row
    assert row.invoice_number is not None
    assert row.notice_sent_on is not None
    assert row.cancel_effective_on is not None
    index = next(n for n, i in enumerate(view.installments) if i.row is row)
    unpaid = _unpaid_through(view.installments, index)
    return CancellationNoticeFacts(
        notice_date=row.notice_sent_on,
        policy_number=view.account.policy_number,
        product_name=product_name,
        state=view.account.state,
        term_start=row.term_start,
        term_end=term_end,
        invoice_number=row.invoice_number,
        unpaid=tuple(unpaid),
        amount_due=sum((line.outstanding for line in unpaid), ZERO),
        pay_by=row.cancel_effective_on - timedelta(days=1),
        cancel_effective_on=row.cancel_effective_on,
        cancel_effective_time=EFFECTIVE_TIME,
        notice_days=(row.cancel_effective_on - row.notice_sent_on).days,
        grace_days=view.account.grace_days,
        balance=view.balance,
        zone=zone,
    )


class ProductNames:
    """The products' names and zones by code and state, asked of the products domain once per
    run (a billing run invoices many policies of few products). Billing keeps only the
    product's code: the name and zone printed are those of the version in force today."""

    def __init__(self) -> None:
        self._found: dict[tuple[str, str], tuple[str, str]] = {}

    async def name(self, session: AsyncSession, product_code: str, state: str) -> str:
        return (await self._get(session, product_code, state))[0]

    async def zone(self, session: AsyncSession, product_code: str, state: str) -> str:
        """The zone as printed ("Central Time (America/Chicago)"), "" if the product names none."""
        return (await self._get(session, product_code, state))[1]

    async def _get(self, session: AsyncSession, product_code: str, state: str) -> tuple[str, str]:
        key = (product_code, state)
        if key not in self._found:
            self._found[key] = await _product_name(session, product_code, state)
        return self._found[key]


async def _product_name(session: AsyncSession, product_code: str, state: str) -> tuple[str, str]:
    match await products.version_in_force(session, product_code, state, clock.today()):
        case Ok(version):
            claims = version.definition.claims
            zone = zone_shown(claims.time_zone) if claims is not None else ""
            return version.definition.product_name, zone
    # Withdrawn since (no version in force): the name the latest version was filed under.
    versions = await products.list_versions(
        session, product_code=product_code, state=state, status=None
    )
    return (versions[-1].product_name if versions else product_code), ""
