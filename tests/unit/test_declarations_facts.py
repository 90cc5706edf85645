"""The declarations' facts, built from a state as the bind records it, and the three policy
documents drawn from them: every field on the page (pypdf's text layer), and premium lines that
sum to the stored figures to the cent."""

from __future__ import annotations

import copy
import io
import time
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pypdf
from hypothesis import given, settings
from hypothesis import strategies as st

from pd_prime_demo.core.config import get_settings
from pd_prime_demo.documents import pdf
from pd_prime_demo.documents.context import Carrier, Insured, render_layout
from pd_prime_demo.policies import rules
from pd_prime_demo.policies.enums import CancellationReason
from pd_prime_demo.policies.models import Policy, PolicyTransaction
from pd_prime_demo.policies.service import declaration_facts as f
from pd_prime_demo.policies.service.common import priced
from pd_prime_demo.policies.service.policy_documents import (
    account_after,
    confirmation_facts,
    declarations_facts,
    nonrenewal_facts,
)
from pd_prime_demo.policies.state import PolicyState
from pd_prime_demo.premium.cancellation import CancellationTerms
from pd_prime_demo.premium.proration import Proration
from pd_prime_demo.products.service import CompiledVersion
from pd_prime_demo.products.shipped import shipped
from pd_prime_demo.quotes.schemas import AUTO_EXAMPLE
from pd_prime_demo.rating.engine import compile_product
from pd_prime_demo.rating.packages import rate_packages

_VERSIONS: dict[str, CompiledVersion] = {}
AGENT = f.Producer(name="Ana Agent", email="ana@agency.example")
NAME = "Łukasz Nguyễn"
INSURED = Insured(name="Zoë Ångström", address_lines=("12 Elm St", "Austin, TX 78701"))
ISSUED = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
AUTO_COVERAGES = {
    "bi": {"limit": "100/300"},
    "pd": {"limit": "50"},
    "umuim": {"limit": "50/100"},
    "medpay": {"limit": "5000"},
    "collision": {"deductible": "500"},
    "comprehensive": {"deductible": "250"},
}
HOME_COVERAGES: dict[str, dict[str, str]] = {
    "dwelling": {"deductible": "1000"},
    "wind_hail": {"deductible": "2pct"},
    "other_structures": {},
    "personal_property": {},
    "loss_of_use": {},
    "personal_liability": {"limit": "300000"},
    "medical_payments": {},
}


def _version(product: str, state: str) -> CompiledVersion:
    defn = shipped(product, state)
    return CompiledVersion(
        id=uuid.uuid4(),
        product_code=product,
        state=state,
        version=defn.version,
        content_hash="0" * 64,
        definition=defn,
        engine=compile_product(defn),
    )


def auto_risk() -> dict[str, Any]:
    risk: dict[str, Any] = copy.deepcopy(AUTO_EXAMPLE["risk"])
    risk["policy"]["paid_in_full"] = True
    risk["drivers"][0]["name"] = NAME
    risk["vehicles"][0].update(make="Toyota", model="Camry", vin="4T1BF1FK5CU123456")
    risk["vehicles"][1].update(make="Honda", model="Civic")
    return risk


def home_risk(**policy: Any) -> dict[str, Any]:
    return {
        "policy": {
            "territory": "metro",
            "construction": "masonry",
            "protection_class": 3,
            "year_built": 1999,
            "roof_age": 8,
            "coverage_a": 300000,
            "claims_5y": 0,
            "occupancy": "owner",
            "protective_devices": False,
            "multi_policy": False,
            **policy,
        }
    }


def issue(
    version: CompiledVersion,
    risk: dict[str, Any],
    coverages: dict[str, dict[str, str]],
    surcharge: Decimal | None = None,
) -> rules.Transition:
    rated = rate_packages(
        version.definition, version.engine, risk, [{"name": "x", "coverages": coverages}], surcharge
    )
    result = rated.value.results[0][1]  # type: ignore[union-attr]
    return rules.issue(
        term_start=date(2027, 1, 1),
        term_end=date(2027, 7, 1) if version.definition.term_months == 6 else date(2028, 1, 1),
        option="x",
        coverages=coverages,
        risk=risk,
        priced=priced(version, result),
        surcharge=surcharge,
        payment_plan="semi_annual",
        insured_id=uuid.uuid4(),
        proration=Proration.DAYS,
    )


def record(
    version: CompiledVersion,
    transition: rules.Transition,
    seq: int,
    created_at: datetime = ISSUED,
) -> PolicyTransaction:
    return PolicyTransaction(
        id=uuid.uuid4(),
        seq=seq,
        kind=transition.kind.value,
        effective_on=transition.effective_on,
        term_start=transition.state.term_start,
        term_end=transition.state.term_end,
        premium_change=transition.premium_change,
        fees_change=transition.fees_change,
        taxes_change=transition.taxes_change,
        snapshot=transition.state.to_json(),
        reason_code=transition.reason_code,
        note=transition.note,
        created_at=created_at,
        reapplies_seq=None,
    )


def policy_of(version: CompiledVersion) -> Policy:
    return Policy(
        id=uuid.uuid4(),
        number=f"PA-{version.state}-0000042",
        product_code=version.product_code,
        state=version.state,
        customer_id=uuid.uuid4(),
        payment_plan="semi_annual",
    )


def facts(
    version: CompiledVersion,
    transition: rules.Transition,
    *,
    seq: int = 1,
    before: PolicyState | None = None,
    written: Decimal = Decimal(0),
    created_at: datetime = ISSUED,
) -> f.Declarations:
    txn = record(version, transition, seq, created_at)
    return declarations_facts(
        policy_of(version),
        txn,
        transition.state,
        version,
        before=before,
        written=written,
        agent=AGENT,
    )


def _sum(amounts: list[str]) -> Decimal:
    return sum((Decimal(a) for a in amounts), Decimal(0))


def text_of(kind: str, product_code: str, doc: f.Facts) -> str:
    layout, _ = render_layout(
        kind,
        product_code,
        doc.model_dump(mode="json"),
        INSURED,
        Carrier.from_settings(get_settings()),
        ISSUED,
    )
    reader = pypdf.PdfReader(io.BytesIO(pdf.render(layout, issued_at=ISSUED)))
    return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)


def _money(value: str) -> str:
    amount = Decimal(value)
    return f"{'-' if amount < 0 else ''}${abs(amount):,.2f}"


def test_auto_lines_per_vehicle_and_adjustments_sum_to_the_stored_premium() -> None:
    version = _version("personal_auto", "TX")
    transition = issue(version, auto_risk(), AUTO_COVERAGES, surcharge=Decimal("1.10"))
    state = transition.state
    started = time.perf_counter()
    page = facts(version, transition)
    took = time.perf_counter() - started
    print(f"declarations facts: {took * 1000:.2f} ms")
    # Six per-vehicle coverages on two vehicles: twelve lines, each vehicle's own premium.
    assert len(page.coverages) == 12
    assert [c.vehicle for c in page.coverages[:6]] == ["Vehicle 1"] * 6
    for code, stored in state.coverage_premiums.items():
        assert _sum([c.premium for c in page.coverages if c.code == code]) == stored
    assert Decimal(page.coverage_total) == sum(state.coverage_premiums.values())
    names = [a.name for a in page.adjustments]
    assert names[0] == "Underwriting surcharge (+10%)"
    assert "Paid in full (-5%)" in names
    assert Decimal(page.coverage_total) + _sum([a.amount for a in page.adjustments]) == (
        state.term_premium
    )
    assert Decimal(page.term_premium) == state.term_premium
    assert [(x.name, x.amount) for x in page.fees] == [("Policy fee", "25.00")]
    assert _sum([x.amount for x in page.fees]) == state.fees
    assert _sum([x.amount for x in page.taxes]) == state.taxes
    assert Decimal(page.total) == state.term_premium + state.fees + state.taxes
    bi = page.coverages[0]
    assert (bi.name, bi.limit) == (
        "Bodily injury liability",
        "$100/300 thousand per person/accident",
    )
    collision = next(c for c in page.coverages if c.code == "collision")
    assert (collision.limit, collision.deductible) == ("Actual cash value", "$500")
    assert page.vehicles[0].model_dump() == {
        "number": 1,
        "year": "2022",
        "make": "Toyota",
        "model": "Camry",
        "vin": "4T1BF1FK5CU123456",
        "use": "Commute",
        "principal_driver": NAME,
    }
    assert [d.name for d in page.drivers] == [NAME, "Driver 2"]
    assert page.period.zone == "Central Time (America/Chicago)"
    assert [x.number for x in page.forms] == [
        "PP 00 01",
        "PP 01 93",
        "PP 04 49",
        "PP 03 40",
        "PP 03 13",
    ]


def test_ho3_limits_read_as_dollars() -> None:
    version = _version("homeowners_ho3", "OH")
    transition = issue(
        version, home_risk(premises_address="7 Oak Lane, Dayton, OH 45402"), HOME_COVERAGES
    )
    page = facts(version, transition)
    by_code = {c.code: c for c in page.coverages}
    assert by_code["dwelling"].limit == "$300,000"
    assert by_code["dwelling"].deductible == "$1,000"
    assert by_code["other_structures"].limit == "$30,000 (10% of Coverage A)"
    assert by_code["personal_property"].limit == "$150,000 (50% of Coverage A)"
    assert by_code["loss_of_use"].limit == "$60,000 (20% of Coverage A)"
    assert by_code["wind_hail"].deductible == "$6,000 (2% of Coverage A)"
    assert by_code["personal_liability"].limit == "$300,000"
    assert page.dwelling is not None
    assert page.dwelling.premises == "7 Oak Lane, Dayton, OH 45402"
    assert page.dwelling.coverage_a == "$300,000"
    assert page.vehicles == []
    assert page.period.zone == "Eastern Time (America/New_York)"
    assert [x.number for x in page.forms] == ["HO 00 03", "HO 01 34", "HO 03 12"]
    lines = _sum([c.premium for c in page.coverages]) + _sum([a.amount for a in page.adjustments])
    assert lines == transition.state.term_premium
    assert facts(version, issue(version, home_risk(), HOME_COVERAGES)).dwelling.premises == (  # type: ignore[union-attr]
        "The mailing address of the named insured"
    )


def test_stored_figures_a_rating_cannot_reproduce_print_whole() -> None:
    """An imported policy's own premiums: the page prints them, and its lines still add up."""
    version = _version("personal_auto", "TX")
    transition = issue(version, auto_risk(), AUTO_COVERAGES)
    state = transition.state.model_copy(
        update={
            "coverage_premiums": {"bi": Decimal("400.00"), "pd": Decimal("300.00")},
            "term_premium": Decimal("750.00"),
        }
    )
    page = facts(
        version,
        rules.Transition(
            transition.kind,
            transition.effective_on,
            state,
            Decimal("750.00"),
            transition.fees_change,
            transition.taxes_change,
            (),
        ),
    )
    assert [(c.code, c.vehicle, c.premium) for c in page.coverages] == [
        ("bi", "All vehicles", "400.00"),
        ("pd", "All vehicles", "300.00"),
    ]
    assert [(a.name, a.amount) for a in page.adjustments] == [("Premium adjustments", "50.00")]
    assert page.term_premium == "750.00"


def test_the_declarations_page_prints_every_field() -> None:
    version = _version("personal_auto", "TX")
    transition = issue(version, auto_risk(), AUTO_COVERAGES, surcharge=Decimal("1.10"))
    page = facts(version, transition)
    text = text_of("declarations", "personal_auto", page)
    for expected in [
        "PA-TX-0000042",
        "Personal Auto (TX)",
        page.rate_version,
        "New business",
        "January 1, 2027 to July 1, 2027",
        "12:01 a.m. standard time",
        "Central Time (America/Chicago)",
        "In force",
        "Zoë Ångström",
        "12 Elm St",
        "Ana Agent",
        "ana@agency.example",
        "Semi annual",
        "2022 Toyota Camry",
        "4T1BF1FK5CU123456",
        "2014 Honda Civic",
        NAME,  # the driver schedule in any script prints as written
        "Driver 2",
        "$100/300 thousand per person/accident",
        "Actual cash value",
        "Underwriting surcharge (+10%)",
        "Paid in full (-5%)",
        "Policy fee",
        "Full-term premium, fees and taxes at these terms",
        _money(page.total),
        _money(page.term_premium),
        _money(page.coverage_total),
        "PP 00 01",
        "Personal Auto Policy",
        "Uninsured/Underinsured Motorists Coverage - Texas",
    ]:
        assert expected in text, expected
    amounts = [c.premium for c in page.coverages] + [a.amount for a in page.adjustments]
    for amount in amounts:
        assert _money(amount) in text


def test_an_endorsement_page_shows_what_changed_and_its_premium_effect() -> None:
    version = _version("personal_auto", "TX")
    new = issue(version, auto_risk(), AUTO_COVERAGES)
    risk = auto_risk()
    risk["vehicles"] = risk["vehicles"][:1]
    coverages = {k: v for k, v in AUTO_COVERAGES.items() if k != "medpay"} | {
        "bi": {"limit": "250/500"}
    }
    rated = rate_packages(
        version.definition, version.engine, risk, [{"name": "x", "coverages": coverages}], None
    )
    endorsed = rules.endorse(
        new.state,
        priced(version, rated.value.results[0][1]),  # type: ignore[union-attr]
        effective_on=date(2027, 3, 1),
        risk=risk,
        coverages=coverages,
        proration=Proration.DAYS,
    )
    page = facts(version, endorsed, seq=2, before=new.state, written=new.premium_change)
    # The period so far: what new business wrote plus this change, beside the full-term rate.
    written_so_far = new.premium_change + endorsed.premium_change
    assert written_so_far != endorsed.state.term_premium
    assert page.term_written == str(written_so_far)
    assert page.term_premium == str(endorsed.state.term_premium)
    changed = {c.item: (c.before, c.after) for c in page.changes}
    assert changed["Bodily injury liability"] == (
        "limit $100/300 thousand per person/accident",
        "limit $250/500 thousand per person/accident",
    )
    assert changed["Medical payments removed"] == ("limit $5,000", "")
    assert changed["Vehicle 2 removed"] == ("2014 Honda Civic", "")
    assert Decimal(page.effect.premium) == endorsed.premium_change
    text = text_of("declarations", "personal_auto", page)
    for expected in [
        "Policy change (endorsement)",
        "What changed",
        "Vehicle 2 removed",
        "Medical payments removed",
        "$250/500 thousand per person/accident",
        _money(page.effect.premium),
        "Premium change",
        "Term premium",
        "Full-term premium, fees and taxes at these terms",
        f"Premium written for this policy period so far {_money(page.term_written)}",
    ]:
        assert expected in text, expected


def test_cancellation_confirmation_and_non_renewal_notice() -> None:
    version = _version("homeowners_ho3", "TX")
    new = issue(version, home_risk(), HOME_COVERAGES)
    written = new.premium_change
    cancelled = rules.cancel(
        new.state,
        rules.TermFigures(written, new.taxes_change, new.earnings),
        effective_on=date(2027, 4, 1),
        reason=CancellationReason.NON_PAYMENT,
        product_method="pro_rata",
        terms=CancellationTerms(),
    )
    page = facts(version, cancelled, seq=2, before=new.state, written=written)
    assert page.cancellation is not None
    stored = cancelled.state.cancellation
    assert stored is not None
    assert (
        Decimal(page.cancellation.return_premium)
        == stored.return_premium
        == -cancelled.premium_change
    )
    # By hand: $1,635.98 for 2027, cancelled pro rata Apr 1 (90 days in force, 275 left):
    # returned 1635.98 x 275/365 = 1232.5931... -> $1,232.59, earned 1635.98 - 1232.59.
    assert written == Decimal("1635.98")
    assert page.cancellation.return_premium == "1232.59"
    assert page.cancellation.earned_premium == "403.39"
    assert page.cancellation.written_premium == "1635.98"
    confirmation = confirmation_facts(page)
    assert confirmation is not None
    assert confirmation.cancellation == page.cancellation
    assert confirmation_facts(facts(version, new)) is None
    text = text_of("cancellation_confirmation", "homeowners_ho3", confirmation)
    for expected in [
        "Confirmation of cancellation",
        "April 1, 2027",
        "12:01 a.m. standard time",
        "Non-payment of premium",
        "Pro rata",
        _money(page.cancellation.return_premium),
        _money(page.cancellation.earned_premium),
        "credited to your policy's billing account",
        "Zoë Ångström",
        "Ana Agent",
    ]:
        assert expected in text, expected
    # Texas charges no premium tax on this policy: no taxes line; one that returns taxes has it.
    assert not page.cancellation.has_taxes_returned
    assert "Taxes and assessments returned" not in text
    taxed = confirmation.model_copy(
        update={
            "cancellation": page.cancellation.model_copy(
                update={"taxes_returned": "12.34", "has_taxes_returned": True}
            )
        }
    )
    text = text_of("cancellation_confirmation", "homeowners_ho3", taxed)
    assert "Taxes and assessments returned $12.34" in text
    text = text_of("declarations", "homeowners_ho3", page)
    assert "Cancelled" in text
    assert _money(page.cancellation.return_premium) in text

    # Recorded at 02:00 UTC on Oct 2 (still Oct 1 in Chicago), effective Nov 15 (the day the
    # policy's last change takes effect): the notice is dated the day it is issued, and its
    # days of notice run from then, Oct 1 2027 to Jan 1 2028 = 92 days.
    notice = rules.non_renew(
        new.state, reason="Three water losses in two years", notice_on=date(2027, 11, 15)
    )
    page = facts(
        version, notice, seq=2, before=new.state, created_at=datetime(2027, 10, 2, 2, tzinfo=UTC)
    )
    assert page.non_renewal is not None
    assert page.issued_on == page.non_renewal.notice_on == date(2027, 10, 1)
    assert page.non_renewal.notice_days == 92
    doc = nonrenewal_facts(page)
    assert doc is not None
    assert doc.non_renewal == page.non_renewal
    assert nonrenewal_facts(facts(version, new)) is None
    text = text_of("nonrenewal_notice", "homeowners_ho3", doc)
    for expected in [
        "Notice of non-renewal",
        "Three water losses in two years",
        "October 1, 2027",
        "Your coverage ends on January 1, 2028",
        "no coverage under this policy after that",
        "Your rights",
        "You may apply for coverage with another insurer",
        "department of insurance of your state (TX)",
        "Ana Agent",
        "Central Time (America/Chicago)",
    ]:
        assert expected in text, expected
    assert "[" not in text  # no placeholder for the carrier to fill in is ever mailed
    assert "November 15, 2027" not in text
    assert "Days of notice 92" in text


def test_renewal_and_reinstatement_pages_say_what_they_did() -> None:
    version = _version("homeowners_ho3", "TX")
    new = issue(version, home_risk(), HOME_COVERAGES)
    offered = rules.renew(
        new.state.model_copy(update={"rate_version": "TX-2025.9"}),
        priced(
            version,
            rate_packages(
                version.definition,
                version.engine,
                home_risk(),
                [{"name": "x", "coverages": HOME_COVERAGES}],
                None,
            ).value.results[0][1],  # type: ignore[union-attr]
        ),
        term_end=date(2029, 1, 1),
        proration=Proration.DAYS,
    )
    renewal = rules.accept_renewal(offered, proration=Proration.DAYS)
    before = new.state.model_copy(update={"rate_version": "TX-2025.9"})
    page = facts(version, renewal, seq=2, before=before)
    changed = {c.item: (c.before, c.after) for c in page.changes}
    assert changed["Policy period"] == ("2027-01-01 to 2028-01-01", "2028-01-01 to 2029-01-01")
    assert changed["Rate version"] == ("TX-2025.9", version.definition.version)
    assert page.transaction.reason == "Renewed for a new policy period"
    assert Decimal(page.effect.premium) == renewal.premium_change == offered.term_premium

    cancelled = rules.cancel(
        new.state,
        rules.TermFigures(new.premium_change, new.taxes_change, new.earnings),
        effective_on=date(2027, 4, 1),
        reason=CancellationReason.UNDERWRITING,
        product_method="pro_rata",
        terms=CancellationTerms(),
    )
    later = rules.reinstate(
        cancelled.state, cancelled, effective_on=date(2027, 4, 11), proration=Proration.DAYS
    )
    page = facts(version, later, seq=3, before=cancelled.state)
    assert page.transaction.reason == (
        "Reinstated with a lapse in cover from 2027-04-01 to 2027-04-11"
    )
    assert {c.item: (c.before, c.after) for c in page.changes}["Status"] == (
        "Cancelled",
        "In force",
    )
    assert page.cancellation is None
    assert Decimal(page.effect.premium) == later.premium_change
    text = text_of("declarations", "homeowners_ho3", page)
    for expected in ["Reinstatement", "lapse in cover", "Status", _money(page.effect.premium)]:
        assert expected in text, expected


def test_an_underwriting_cancellation_prints_the_stated_reason_as_data() -> None:
    version = _version("homeowners_ho3", "TX")
    new = issue(version, home_risk(), HOME_COVERAGES)
    note = "Roof past its service life {{ carrier.name }} <b>"
    term = rules.TermFigures(new.premium_change, new.taxes_change, new.earnings)

    def cancel(reason: CancellationReason) -> rules.Transition:
        return rules.cancel(
            new.state, term, effective_on=date(2027, 4, 1), reason=reason,
            product_method="pro_rata", terms=CancellationTerms(), note=note,
        )  # fmt: skip

    page = facts(version, cancel(CancellationReason.UNDERWRITING), seq=2, before=new.state)
    confirmation = confirmation_facts(page)
    assert confirmation is not None
    assert (confirmation.cancellation.reason_code, confirmation.cancellation.note) == (
        "underwriting",
        note,
    )
    text = text_of("cancellation_confirmation", "homeowners_ho3", confirmation)
    assert f"Reason Underwriting reasons: {note}" in text  # printed as typed, never evaluated
    # The account after the credit, as billing reads it: a credit kept, a refund paid out.
    for balance, refunded, printed, absent in [
        (
            "-25.00",
            "100.00",
            ["Credit on your account $25.00", "Refunded to you $100.00"],
            "Amount you still owe",
        ),
        ("0.00", "0.00", ["Nothing is owed on your account"], "Refunded"),
        ("12.34", "0.00", ["Amount you still owe $12.34"], "Nothing is owed"),
    ]:
        after = account_after(Decimal(balance), Decimal(refunded))
        with_account = confirmation_facts(page, after)
        assert with_account is not None
        text = text_of("cancellation_confirmation", "homeowners_ho3", with_account)
        for expected in printed:
            assert expected in text, expected
        assert absent not in text
    # The insured's own request: the note is the staff's, not printed.
    page = facts(version, cancel(CancellationReason.INSURED_REQUEST), seq=2, before=new.state)
    assert page.cancellation is not None
    assert page.cancellation.note == ""
    assert "service life" not in text_of("declarations", "homeowners_ho3", page)


@settings(max_examples=60, deadline=None)
@given(
    surcharge=st.none() | st.decimals("0.80", "1.50", places=3),
    paid_in_full=st.booleans(),
    multi_policy=st.booleans(),
    miles=st.lists(st.integers(0, 30000), min_size=1, max_size=4),
    ages=st.lists(st.integers(16, 90), min_size=1, max_size=3),
    drop=st.sets(st.sampled_from(["umuim", "medpay", "comprehensive"])),
)
def test_the_printed_lines_always_sum_to_the_stored_figures(
    surcharge: Decimal | None,
    paid_in_full: bool,
    multi_policy: bool,
    miles: list[int],
    ages: list[int],
    drop: set[str],
) -> None:
    version = _VERSIONS.setdefault("auto", _version("personal_auto", "TX"))
    risk = auto_risk()
    risk["policy"].update(paid_in_full=paid_in_full, multi_policy=multi_policy)
    template = risk["drivers"][0]
    risk["drivers"] = [
        {**template, "age": age, "years_licensed": min(age - 16, 80)} for age in ages
    ]
    car = risk["vehicles"][0]
    risk["vehicles"] = [
        {**car, "annual_miles": m, "driver": i % len(ages)} for i, m in enumerate(miles)
    ]
    coverages = {k: v for k, v in AUTO_COVERAGES.items() if k not in drop}
    state = issue(version, risk, coverages, surcharge).state
    page = facts(version, issue(version, risk, coverages, surcharge))
    assert len(page.coverages) == len(coverages) * len(miles)
    assert _sum([c.premium for c in page.coverages]) == sum(state.coverage_premiums.values())
    assert Decimal(page.coverage_total) + _sum([a.amount for a in page.adjustments]) == (
        state.term_premium
    )
    assert all(Decimal(a.amount) != 0 for a in page.adjustments)
    assert _sum([x.amount for x in page.fees + page.taxes]) == state.fees + state.taxes
