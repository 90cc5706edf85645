"""The invoice and the notice of cancellation for non-payment: their facts, built from the
installment rows as allocated, and the pages their shipped templates draw (text read back with
pypdf, so every field is checked on the page a customer gets)."""

from __future__ import annotations

import io
import json
import re
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pypdf import PdfReader

from pd_prime_demo.billing.models import BillingAccount, InstallmentRow, Payment
from pd_prime_demo.billing.service.documents import (
    CancellationNoticeFacts,
    InvoiceFacts,
    invoice_facts,
    notice_facts,
)
from pd_prime_demo.billing.service.views import AccountView, InstallmentLike, allocate
from pd_prime_demo.core.config import Settings as AppSettings
from pd_prime_demo.documents import pdf
from pd_prime_demo.documents.context import Carrier, Insured, render_layout

START = date(2027, 3, 1)
END = date(2028, 3, 1)
CARRIER = Carrier.from_settings(AppSettings())
INSURED = Insured(name="Jane Roe", address_lines=("12 Elm Street", "Apt 4", "Austin, TX 78701"))
PRODUCT = "Personal Auto (Texas)"
ZONE = "Central Time (America/Chicago)"
D = Decimal


def _account() -> BillingAccount:
    return BillingAccount(
        policy_id=uuid.uuid4(),
        policy_number="PA-TX-0000042",
        policy_serial=42,
        customer_id=uuid.uuid4(),
        product_code="personal_auto",
        state="TX",
        payment_plan="monthly",
        installment_fee=D("5.00"),
        invoice_lead_days=15,
        grace_days=10,
        notice_days=10,
        opened_at=datetime(2027, 2, 1, tzinfo=UTC),
    )


def _schedule(account: BillingAccount) -> list[InstallmentRow]:
    """A monthly term: 100.04 at inception, then eleven of 100.00 with a 5.00 fee."""
    rows = []
    for seq in range(1, 13):
        due = date(2027 + (seq + 1) // 12, (seq + 1) % 12 + 1, 1)
        rows.append(
            InstallmentRow(
                id=uuid.uuid4(),
                policy_id=account.policy_id,
                term_start=START,
                seq=seq,
                due_on=due,
                amount=D("100.04") if seq == 1 else D("100.00"),
                fee=D("0.00") if seq == 1 else D("5.00"),
            )
        )
    return rows


def _invoice(row: InstallmentRow, on: date) -> None:
    row.invoice_number = f"INV-42-{row.term_start:%Y%m%d}-{row.seq:02d}"
    row.invoiced_on = on


def _payment(account: BillingAccount, amount: str, on: date) -> Payment:
    return Payment(
        policy_id=account.policy_id,
        amount=D(amount),
        method="check",
        received_at=datetime.combine(on, datetime.min.time(), UTC) + timedelta(hours=10),
    )


def _facts_for_second(
    paid: str, *, balance: str = "1145.04"
) -> tuple[InvoiceFacts, list[InstallmentRow]]:
    account = _account()
    rows = _schedule(account)
    _invoice(rows[0], date(2027, 2, 14))
    payments = [_payment(account, paid, date(2027, 2, 20))] if paid != "0" else []
    _invoice(rows[1], date(2027, 3, 17))
    views, left = allocate(list[InstallmentLike](rows), sum((p.amount for p in payments), D(0)))
    facts = invoice_facts(
        account,
        rows[1],
        views,
        credit=left,
        balance=D(balance),
        payments=payments,
        product_name=PRODUCT,
        term_end=END,
    )
    return facts, rows


def test_an_invoice_states_the_installment_and_what_is_past_due_with_it() -> None:
    facts, rows = _facts_for_second("60.00")
    assert (facts.installment_number, facts.installment_count) == (2, 12)
    assert facts.installment_amount == rows[1].amount
    assert facts.installment_fee == rows[1].fee
    assert [(p.invoice_number, p.due_on, p.outstanding) for p in facts.past_due] == [
        (rows[0].invoice_number, rows[0].due_on, D("40.04"))
    ]
    assert facts.total_due == D("145.04")
    assert sum((c.amount for c in facts.charges), D(0)) == facts.total_due
    assert facts.last_invoice_on == date(2027, 2, 14)
    assert [(p.received_on, p.amount) for p in facts.payments_since] == [
        (date(2027, 2, 20), D("60.00"))
    ]
    assert facts.minimum_due, "the rest of the balance is billed later"
    assert facts.due_on == rows[1].due_on
    dumped = facts.model_dump(mode="json")
    assert dumped["total_due"] == "145.04"
    assert dumped["installment_fee"] == "5.00"


def test_money_already_applied_to_an_installment_is_taken_off_what_it_asks() -> None:
    facts, _ = _facts_for_second("150.00")  # 100.04 pays installment 1, 49.96 goes on to 2
    assert facts.past_due == ()
    assert facts.applied_to_installment == D("49.96")
    assert facts.installment_due == D("55.04")
    assert [(c.item, c.amount) for c in facts.charges] == [
        ("installment", D("100.00")),
        ("fee", D("5.00")),
        ("applied", D("-49.96")),
    ]
    assert facts.total_due == D("55.04")


def test_x_of_n_counts_the_terms_live_installments_only() -> None:
    account = _account()
    rows = _schedule(account)
    for row in rows[6:]:
        row.cancelled_on = date(2027, 8, 15)  # cover ended: the last six are void
    _invoice(rows[0], date(2027, 2, 14))
    _invoice(rows[1], date(2027, 3, 17))
    views, left = allocate(list[InstallmentLike](rows), D("100.04"))
    facts = invoice_facts(
        account,
        rows[1],
        views,
        credit=left,
        balance=D("525.00"),
        payments=[],
        product_name=PRODUCT,
        term_end=END,
    )
    assert (facts.installment_number, facts.installment_count) == (2, 6)


def _text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return re.sub(r"\s+", " ", " ".join(page.extract_text() or "" for page in reader.pages))


def _draw(kind: str, facts: dict[str, Any], insured: Insured = INSURED) -> str:
    issued = datetime(2027, 3, 17, 6, tzinfo=UTC)
    layout, version = render_layout(kind, "personal_auto", facts, insured, CARRIER, issued)
    assert version.startswith(f"{kind}/")
    return _text(pdf.render(layout, issued_at=issued))


def test_the_invoice_page_prints_every_field_a_payer_needs() -> None:
    facts, _ = _facts_for_second("60.00")
    text = _draw("invoice", facts.model_dump(mode="json"))
    expected = [
        CARRIER.name,
        f"NAIC {CARRIER.naic}",
        *CARRIER.address,
        CARRIER.phone,
        "Jane Roe",
        "12 Elm Street",
        "Austin, TX 78701",
        "Invoice INV-42-20270301-02",
        "March 17, 2027",  # invoice date
        "PA-TX-0000042",
        "Personal Auto (Texas) (TX)",
        "March 1, 2027 to March 1, 2028",
        "Installment 2 of 12",
        "$100.00",
        "Installment fee",
        "$5.00",
        "Past due: invoice INV-42-20270301-01",
        "$40.04",
        "Total amount due",
        "$145.04",
        "April 1, 2027",  # due date
        "Minimum amount due",
        "February 20, 2027",  # the payment since the last invoice
        "$60.00",
        "$1,145.04",  # the account balance
        "within 10 days after the due date",
        CARRIER.payment_instructions[:40],
        *CARRIER.remit_to,
        "Payment coupon",
        "Amount enclosed",
    ]
    missing = [x for x in expected if x not in text]
    assert not missing, (missing, text)
    assert "personal_auto" not in text, "the product prints by its name, not its code"
    coupon = text[text.index("Payment coupon") :]
    for field in ("PA-TX-0000042", "INV-42-20270301-02", "Jane Roe", "April 1, 2027", "$145.04"):
        assert field in coupon, field
    assert CARRIER.remit_to[-1] in coupon


def test_a_cyrillic_name_prints_as_written_on_the_invoice() -> None:
    facts, _ = _facts_for_second("0")
    insured = Insured(name="Людмила Иванова", address_lines=("ул. Ленина, 5", "Austin, TX 78701"))
    text = _draw("invoice", facts.model_dump(mode="json"), insured)
    assert "Людмила Иванова" in text
    assert "ул. Ленина, 5" in text
    assert "No payment received since your last invoice of February 14, 2027" in text


def _notice() -> tuple[CancellationNoticeFacts, list[InstallmentRow]]:
    account = _account()
    rows = _schedule(account)
    _invoice(rows[0], date(2027, 2, 14))
    _invoice(rows[1], date(2027, 3, 17))
    payments = [_payment(account, "30.00", date(2027, 2, 25))]
    views, left = allocate(list[InstallmentLike](rows), D("30.00"))
    on = date(2027, 4, 12)
    rows[1].notice_sent_on = on
    rows[1].cancel_effective_on = on + timedelta(days=account.notice_days)
    view = AccountView(account, views, D("30.00"), D(0), D("1175.04"), left, payments, [])
    item = next(i for i in view.installments if i.row is rows[1])
    facts = notice_facts(view, item, product_name=PRODUCT, term_end=END, zone=ZONE)
    return facts, rows


def test_a_notice_asks_for_every_unpaid_invoice_up_to_the_one_it_is_for() -> None:
    facts, rows = _notice()
    assert facts.invoice_number == rows[1].invoice_number
    assert [(u.invoice_number, u.outstanding) for u in facts.unpaid] == [
        (rows[0].invoice_number, D("70.04")),
        (rows[1].invoice_number, D("105.00")),
    ]
    assert facts.amount_due == D("175.04")
    assert facts.cancel_effective_on == rows[1].cancel_effective_on == date(2027, 4, 22)
    assert facts.pay_by == date(2027, 4, 21)
    assert facts.notice_days == 10
    assert facts.notice_date == rows[1].notice_sent_on


def test_a_notice_gives_the_days_between_its_sending_and_the_cancellation() -> None:
    """The notice is dated the day it is sent and says the days it really gives, read from the
    row's dates (never the account's setting beside dates that do not give it)."""
    facts, rows = _notice()
    assert facts.notice_days == (facts.cancel_effective_on - facts.notice_date).days
    account = _account()
    views, left = allocate(list[InstallmentLike](rows), D("30.00"))
    rows[1].notice_sent_on = date(2027, 4, 19)
    rows[1].cancel_effective_on = date(2027, 5, 3)
    view = AccountView(account, views, D("30.00"), D(0), D("1175.04"), left, [], [])
    item = next(i for i in view.installments if i.row is rows[1])
    later = notice_facts(view, item, product_name=PRODUCT, term_end=END)
    assert (later.notice_date, later.notice_days) == (date(2027, 4, 19), 14)
    assert later.pay_by == date(2027, 5, 2)


def test_the_notice_page_states_the_cancellation_and_how_to_stop_it() -> None:
    facts, _ = _notice()
    text = _draw("cancellation_notice", facts.model_dump(mode="json"))
    expected = [
        CARRIER.name,
        "Notice of cancellation for non-payment of premium",
        "Jane Roe",
        "12 Elm Street",
        "April 12, 2027",  # notice date
        "PA-TX-0000042",
        "Personal Auto (Texas)",
        "INV-42-20270301-01",
        "March 1, 2027",
        "$70.04",
        "INV-42-20270301-02",
        "April 1, 2027",
        "$105.00",
        "$175.04",
        f"12:01 a.m. standard time, {ZONE}, on April 22, 2027",
        f"March 1, 2028, 12:01 a.m. standard time, {ZONE}",  # the policy period
        "at least 10 days' notice",
        "by April 21, 2027",
        "stays in force",
        "refunded to you after the cancellation",
        CARRIER.payment_instructions[:40],
        *CARRIER.remit_to,
        "Payment coupon",
        "Amount enclosed",
    ]
    missing = [x for x in expected if x not in text]
    assert not missing, (missing, text)
    coupon = text[text.index("Payment coupon") :]
    for field in ("PA-TX-0000042", "INV-42-20270301-02", "Jane Roe", "$175.04"):
        assert field in coupon, field


@settings(max_examples=200, deadline=None)
@given(
    invoiced=st.integers(min_value=1, max_value=12),
    paid=st.decimals(min_value=0, max_value=2000, places=2),
)
def test_an_invoices_lines_always_add_up_to_what_the_account_owes_on_it(
    invoiced: int, paid: Decimal
) -> None:
    """Whatever has been paid, the charges sum to the total, the total is what the account's
    invoiced installments due by then still owe, and nothing is applied twice."""
    account = _account()
    rows = _schedule(account)
    for row in rows[:invoiced]:
        _invoice(row, row.due_on - timedelta(days=15))
    row = rows[invoiced - 1]
    views, left = allocate(list[InstallmentLike](rows), paid)
    facts = invoice_facts(
        account,
        row,
        views,
        credit=left,
        balance=D("1200.00"),
        payments=[],
        product_name=PRODUCT,
        term_end=END,
    )
    assert sum((c.amount for c in facts.charges), D(0)) == facts.total_due
    owed = sum((v.outstanding for v in views[:invoiced]), D(0))
    assert facts.total_due == owed
    assert D(0) <= facts.applied_to_installment <= facts.installment_billed
    assert (facts.installment_number, facts.installment_count) == (invoiced, 12)
    assert len(facts.past_due) <= invoiced - 1


def test_the_benchmarks_sample_facts_are_what_billing_records_today() -> None:
    """``pd-prime bench documents`` draws sample facts captured from this code: they must
    still be valid facts (recapture them when a field changes)."""
    samples = Path(pdf.__file__).parent / "samples"
    kinds: dict[str, type[InvoiceFacts] | type[CancellationNoticeFacts]] = {
        "invoice": InvoiceFacts,
        "cancellation_notice": CancellationNoticeFacts,
    }
    for name, model in kinds.items():
        raw = json.loads((samples / f"personal_auto__{name}.json").read_text())
        dumped = model.model_validate(raw).model_dump(mode="json")
        # Optional facts added since (facts recorded before them have no such key) may be absent.
        assert {k: v for k, v in dumped.items() if k in raw or v not in (None, "")} == raw, name


def _invoice_after_notice(paid: str) -> tuple[InvoiceFacts, list[InstallmentRow]]:
    """Installment 3 invoiced on the day installment 2's notice was sent (April 12, 2027)."""
    account = _account()
    rows = _schedule(account)
    _invoice(rows[0], date(2027, 2, 14))
    _invoice(rows[1], date(2027, 3, 17))
    rows[1].notice_sent_on = date(2027, 4, 12)
    rows[1].cancel_effective_on = date(2027, 4, 22)
    _invoice(rows[2], date(2027, 4, 12))
    payments = [_payment(account, paid, date(2027, 4, 1))]
    views, left = allocate(list[InstallmentLike](rows), D(paid))
    facts = invoice_facts(
        account,
        rows[2],
        views,
        credit=left,
        balance=D("1070.04"),
        payments=payments,
        product_name=PRODUCT,
        term_end=END,
    )
    return facts, rows


def test_an_invoice_after_a_notice_states_the_cancellation_and_what_stops_it() -> None:
    facts, rows = _invoice_after_notice("30.00")
    pending = facts.pending_cancellation
    assert pending is not None
    assert pending.invoice_number == rows[1].invoice_number
    assert pending.amount_due == D("175.04")  # installments 1 and 2, as the notice asks
    assert (pending.pay_by, pending.cancel_effective_on) == (date(2027, 4, 21), date(2027, 4, 22))
    text = _draw("invoice", facts.model_dump(mode="json"))
    expected = [
        "A notice of cancellation for non-payment of premium was sent to you on April 12, 2027",
        "pay $175.04 by April 21, 2027 to keep your policy",
        "12:01 a.m. standard time on April 22, 2027",
        "Please pay $175.04 by April 21, 2027 to stop the cancellation",
        "due now: $175.04 must be received by April 21, 2027 to keep your policy",
    ]
    missing = [x for x in expected if x not in text]
    assert not missing, (missing, text)
    assert "will be sent to you" not in text, "the notice has been sent"
    coupon = text[text.index("Payment coupon") :]
    assert "To keep your policy $175.04 by April 21, 2027" in coupon


def test_a_notice_paid_in_full_is_not_pending_on_a_later_invoice() -> None:
    facts, _ = _invoice_after_notice("205.04")  # installments 1 and 2 paid
    assert facts.pending_cancellation is None
    text = _draw("invoice", facts.model_dump(mode="json"))
    assert "Notice of cancellation" not in text
    assert "a notice of cancellation for non-payment will be sent to you" in text


def test_an_invoice_recorded_before_pending_cancellations_still_draws() -> None:
    facts, _ = _facts_for_second("0")
    old = facts.model_dump(mode="json")
    del old["pending_cancellation"]
    assert "will be sent to you" in _draw("invoice", old)


def _paid_at_bind(paid: str) -> InvoiceFacts:
    """An annual plan's one installment, paid at bind (``paid`` beyond it is a credit)."""
    account = _account()
    account.payment_plan, account.installment_fee = "annual", D("0.00")
    row = InstallmentRow(
        id=uuid.uuid4(),
        policy_id=account.policy_id,
        term_start=START,
        seq=1,
        due_on=START,
        amount=D("1200.00"),
        fee=D("0.00"),
    )
    _invoice(row, date(2027, 2, 14))
    payments = [_payment(account, paid, date(2027, 2, 1))]
    views, left = allocate([row], D(paid))
    return invoice_facts(
        account,
        row,
        views,
        credit=left,
        balance=D("1200.00") - D(paid),
        payments=payments,
        product_name=PRODUCT,
        term_end=END,
    )


def test_an_invoice_with_nothing_due_is_a_record_without_a_coupon_or_demand() -> None:
    facts = _paid_at_bind("1200.00")
    assert facts.total_due == D(0)
    text = _draw("invoice", facts.model_dump(mode="json"))
    assert "Paid in full: nothing is due. This invoice is your record." in text
    assert "Installment 1 of 1" in text
    for demand in ("Payment coupon", "How to pay", "Please pay", "Amount enclosed"):
        assert demand not in text, demand
    assert "credit" not in text.lower().replace("payments and credits", "")


def test_a_credit_balance_says_it_is_a_credit() -> None:
    facts = _paid_at_bind("1250.00")
    assert facts.balance == D("-50.00")
    text = _draw("invoice", facts.model_dump(mode="json"))
    assert "Paid in full: nothing is due." in text
    assert "Your account has a credit of $50.00" in text
    assert "Account balance $50.00 credit" in text
    assert "-$50.00" not in text
    assert "Payment coupon" not in text


def test_an_installment_paid_ahead_asks_for_nothing_and_says_the_rest_is_billed_later() -> None:
    facts, _ = _facts_for_second("205.04")  # installments 1 and 2 paid before the invoice
    assert facts.total_due == D(0)
    assert facts.minimum_due
    text = _draw("invoice", facts.model_dump(mode="json"))
    assert "Nothing is due on this invoice: it has been paid." in text
    assert "billed in later installments" in text
    for wrong in ("Paid in full", "Minimum amount due", "Payment coupon", "Please pay"):
        assert wrong not in text, wrong
