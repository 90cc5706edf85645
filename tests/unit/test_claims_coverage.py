"""Coverage on a claim as pure rules: the exposure terms each kind of limit and deductible
gives, and the coverage check's findings on the boundary dates."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from pd_prime_demo.claims.coverage import (
    PolicyOnLossDate,
    TermsUnresolvedError,
    exposure_terms,
    loss_day,
    verify,
    zone_finding,
)
from pd_prime_demo.core.result_types import Err
from pd_prime_demo.products.service import parse_definition
from pd_prime_demo.products.shipped import shipped, shipped_definitions
from pd_prime_demo.rating.definition import ProductVersionDefinition

AUTO = shipped("personal_auto", "TX")
HOME = shipped("homeowners_ho3", "OH")
HOME_RISK = {"policy": {"coverage_a": 300000, "territory": "metro"}}
AUTO_RISK = {"policy": {}, "vehicles": [{"model_year": 2022}, {"model_year": 2014}]}


def test_a_split_limit_reads_each_claimant_and_each_occurrence() -> None:
    terms = exposure_terms(AUTO, "bi", {"limit": "30/60"}, AUTO_RISK, 0)
    assert terms.limit_amount == Decimal("30000")
    assert terms.occurrence_limit == Decimal("60000")
    assert terms.deductible_amount == Decimal("0")
    assert "30000.00 each claimant, 60000.00 each occurrence" in terms.explanation
    higher = exposure_terms(AUTO, "umuim", {"limit": "250/500"}, AUTO_RISK, 1)
    assert (higher.limit_amount, higher.occurrence_limit) == (Decimal(250000), Decimal(500000))


def test_an_option_amount_is_the_limit_for_each_claimant_and_the_occurrence() -> None:
    terms = exposure_terms(AUTO, "pd", {"limit": "100"}, AUTO_RISK, 0)
    assert terms.limit_amount == terms.occurrence_limit == Decimal("100000")
    medpay = exposure_terms(AUTO, "medpay", {"limit": "5000"}, AUTO_RISK, 0)
    assert medpay.limit_amount == Decimal("5000")


def test_valuation_basis_has_no_policy_limit_but_its_deductible() -> None:
    terms = exposure_terms(AUTO, "collision", {"deductible": "500"}, AUTO_RISK, 0)
    assert terms.limit_amount is None
    assert terms.occurrence_limit is None
    assert terms.deductible_amount == Decimal("500")
    assert "valuation" in terms.explanation
    comp = exposure_terms(AUTO, "comprehensive", {"deductible": "250"}, AUTO_RISK, 0)
    assert comp.deductible_amount == Decimal("250")


def test_a_variable_basis_reads_the_rating_input_on_the_loss_date() -> None:
    terms = exposure_terms(HOME, "dwelling", {"deductible": "1000"}, HOME_RISK)
    assert terms.limit_amount == terms.occurrence_limit == Decimal("300000")
    assert terms.deductible_amount == Decimal("1000")
    raised = exposure_terms(
        HOME, "dwelling", {"deductible": "1000"}, {"policy": {"coverage_a": 412500}}
    )
    assert raised.limit_amount == Decimal("412500")


def test_percent_of_coverage_a_limits_and_deductibles() -> None:
    b = exposure_terms(HOME, "other_structures", {"limit": "10pct"}, HOME_RISK)
    assert b.limit_amount == Decimal("30000.00")
    c = exposure_terms(HOME, "personal_property", {"limit": "70pct"}, HOME_RISK)
    assert c.limit_amount == Decimal("210000.00")
    d = exposure_terms(HOME, "loss_of_use", {"limit": "20pct"}, {"policy": {"coverage_a": 123457}})
    # 20% of 123,457 = 24,691.40: a cent figure, rounded half up.
    assert d.limit_amount == Decimal("24691.40")
    wind = exposure_terms(HOME, "wind_hail", {"deductible": "2pct"}, HOME_RISK)
    assert wind.limit_amount == Decimal("300000")
    assert wind.deductible_amount == Decimal("6000.00")
    assert "2% of policy.coverage_a 300000.00 = 6000.00" in wind.explanation


def test_a_per_claimant_limit_alone_leaves_the_occurrence_uncapped() -> None:
    f = exposure_terms(HOME, "medical_payments", {"limit": "5000"}, HOME_RISK)
    assert f.limit_amount == Decimal("5000")
    assert f.occurrence_limit is None
    e = exposure_terms(HOME, "personal_liability", {"limit": "300000"}, HOME_RISK)
    assert e.limit_amount == e.occurrence_limit == Decimal("300000")


def test_terms_the_product_does_not_state_are_refused_not_guessed() -> None:
    bare = ProductVersionDefinition.model_validate({**HOME.model_dump(mode="json"), "claims": None})
    with pytest.raises(TermsUnresolvedError):
        exposure_terms(bare, "personal_liability", {"limit": "300000"}, HOME_RISK)
    with pytest.raises(TermsUnresolvedError):
        exposure_terms(HOME, "other_structures", {"limit": "10pct"}, {"policy": {}})
    with pytest.raises(TermsUnresolvedError):
        exposure_terms(AUTO, "not_a_coverage", {}, AUTO_RISK)


def _policy(status: str = "in_force", **kw: object) -> PolicyOnLossDate:
    values: dict[str, object] = {
        "status": status,
        "term_start": date(2027, 1, 1),
        "term_end": date(2027, 7, 1),
        "coverages": {"bi": {"limit": "50/100"}, "pd": {"limit": "50"}},
        "vehicle_count": 2,
    }
    values.update(kw)
    return PolicyOnLossDate(**values)  # type: ignore[arg-type]


def _codes(policy: PolicyOnLossDate, cause: list[str], units: list[int] | None = None) -> list[str]:
    findings, _ = verify(
        policy,
        date(2027, 3, 1),
        cause,
        "x",
        vehicle_coverages={"bi", "pd", "collision"},
        vehicle_units=units or [],
    )
    return [f.code for f in findings]


def test_verify_names_each_reason_cover_is_in_doubt() -> None:
    assert _codes(_policy(), ["bi", "pd"]) == []
    assert _codes(_policy(), ["collision"]) == ["policy.coverage_missing"]
    assert _codes(_policy("not_yet_effective"), ["bi"]) == ["policy.not_yet_effective"]
    assert _codes(_policy("expired"), ["bi"]) == ["policy.expired"]
    assert _codes(_policy("cancelled", cancelled_on=date(2027, 2, 1)), ["bi"]) == [
        "policy.cancelled"
    ]
    assert _codes(_policy(), ["bi"], [2]) == ["policy.vehicle_not_scheduled"]
    lapsed = _policy(lapse=(date(2027, 2, 20), date(2027, 3, 5)))
    assert _codes(lapsed, ["bi"]) == ["policy.lapsed"]
    after_lapse = _policy(lapse=(date(2027, 2, 1), date(2027, 3, 1)))
    assert _codes(after_lapse, ["bi"]) == [], "cover resumes on the reinstatement day"


def test_verify_returns_the_coverages_the_loss_may_be_paid_under() -> None:
    _, had = verify(
        _policy(),
        date(2027, 3, 1),
        ["collision", "pd"],
        "x",
        vehicle_coverages=set(),
        vehicle_units=[],
    )
    assert had == ["pd"]


def _claims_issues(change: Any) -> list[tuple[str, str]]:
    from pd_prime_demo.rating.validation import validate_definition

    raw = HOME.model_dump(mode="json")
    change(raw["claims"])
    defn = ProductVersionDefinition.model_validate(raw)
    return [(i.pointer, i.detail) for i in validate_definition(defn)]


def test_the_shipped_claims_sections_are_valid() -> None:
    from pd_prime_demo.products.shipped import shipped_definitions
    from pd_prime_demo.rating.validation import validate_definition

    for defn in shipped_definitions():
        assert defn.claims is not None
        assert validate_definition(defn) == []


def test_claims_section_problems_point_at_the_bad_entry() -> None:
    def unknown_coverage(c: dict[str, Any]) -> None:
        c["causes_of_loss"][0]["coverages"].append("earthquake")

    assert _claims_issues(unknown_coverage) == [
        ("#/claims/causes_of_loss/0/coverages/4", "unknown coverage 'earthquake'")
    ]

    def unknown_option(c: dict[str, Any]) -> None:
        c["coverage_terms"]["personal_liability"]["limits"]["1/2"] = {"per_occurrence": "5"}

    assert _claims_issues(unknown_option)[0][0] == (
        "#/claims/coverage_terms/personal_liability/limits/1~12"
    )

    def unread_option(c: dict[str, Any]) -> None:
        del c["coverage_terms"]["medical_payments"]

    pointer, detail = _claims_issues(unread_option)[0]
    assert pointer == "#/claims/coverage_terms/medical_payments/limits"
    assert "1000, 5000" in detail

    def variable_without_one(c: dict[str, Any]) -> None:
        c["coverage_terms"]["dwelling"]["limit_variable"] = None

    assert _claims_issues(variable_without_one)[0][0] == (
        "#/claims/coverage_terms/dwelling/limit_variable"
    )

    def not_numeric(c: dict[str, Any]) -> None:
        c["coverage_terms"]["other_structures"]["limits"]["10pct"]["percent_of"] = (
            "policy.territory"
        )

    assert _claims_issues(not_numeric) == [
        (
            "#/claims/coverage_terms/other_structures/limits/10pct/percent_of",
            "'policy.territory' is not numeric",
        )
    ]

    def inverted_split(c: dict[str, Any]) -> None:
        c["coverage_terms"]["personal_liability"]["limits"]["100000"] = {
            "per_claimant": "200000",
            "per_occurrence": "100000",
        }

    assert _claims_issues(inverted_split)[0][0].endswith("/limits/100000/per_claimant")

    def both_ways(c: dict[str, Any]) -> None:
        c["coverage_terms"]["medical_payments"]["limits"]["1000"]["percent"] = "5"

    assert "percent_of and percent" in _claims_issues(both_ways)[0][1]

    def no_limit_options(c: dict[str, Any]) -> None:
        c["coverage_terms"]["dwelling"] = {}

    assert ("#/claims/coverage_terms/dwelling/limit_basis") in [
        p for p, _ in _claims_issues(no_limit_options)
    ]


def test_per_vehicle_coverages_are_not_had_on_an_unscheduled_vehicle() -> None:
    findings, had = verify(
        _policy(),
        date(2027, 3, 1),
        ["bi", "pd"],
        "liability",
        vehicle_coverages={"bi"},
        vehicle_units=[0, 3],
    )
    assert [f.code for f in findings] == ["policy.vehicle_not_scheduled"]
    assert "Vehicle 3" in findings[0].message
    assert had == ["pd"]


@given(
    st.integers(min_value=50_000, max_value=2_000_000),
    st.integers(min_value=50_000, max_value=2_000_000),
)
def test_percent_of_coverage_a_terms_rise_with_coverage_a(a: int, b: int) -> None:
    low, high = sorted((a, b))
    for code, chosen in (
        ("other_structures", {"limit": "20pct"}),
        ("personal_property", {"limit": "50pct"}),
        ("loss_of_use", {"limit": "30pct"}),
        ("wind_hail", {"deductible": "5pct"}),
        ("dwelling", {"deductible": "500"}),
    ):
        small = exposure_terms(HOME, code, chosen, {"policy": {"coverage_a": low}})
        large = exposure_terms(HOME, code, chosen, {"policy": {"coverage_a": high}})
        assert small.limit_amount is not None
        assert large.limit_amount is not None
        assert small.limit_amount <= large.limit_amount
        assert small.deductible_amount <= large.deductible_amount
        assert small.limit_amount == small.limit_amount.quantize(Decimal("0.01"))


def test_every_coverage_of_every_shipped_product_reads_its_defaults_when_none_was_chosen() -> None:
    # A package that picks no option stores ``{}`` (HO-3 standard: personal_property): a claim
    # reads the coverage's default, as rating does.
    for defn in shipped_definitions():
        risk = HOME_RISK if defn.product_code == "homeowners_ho3" else AUTO_RISK
        for coverage in defn.coverages:
            unit = 0 if coverage.unit == "vehicle" else None
            terms = exposure_terms(defn, coverage.code, {}, risk, unit)
            chosen = {
                k: v
                for k, v in (
                    ("limit", coverage.default_limit),
                    ("deductible", coverage.default_deductible),
                )
                if v is not None
            }
            assert terms == exposure_terms(defn, coverage.code, chosen, risk, unit), (
                defn.product_code,
                coverage.code,
            )
    contents = exposure_terms(HOME, "personal_property", {}, HOME_RISK)
    assert contents.limit_amount == Decimal("150000.00"), "50% of Coverage A 300,000"
    dwelling = exposure_terms(HOME, "dwelling", {}, HOME_RISK)
    assert dwelling.deductible_amount == Decimal("1000"), "the default deductible, not none"


def _home_issues(change: Any) -> list[tuple[str, str]]:
    from pd_prime_demo.rating.claims_validation import check_claims

    raw = HOME.model_dump(mode="json")
    change(raw)
    defn = ProductVersionDefinition.model_validate(raw)
    return [(i.pointer, i.detail) for i in check_claims(defn, {v.name: v for v in defn.variables})]


def test_a_coverage_a_cause_maps_to_must_resolve_its_terms_from_its_defaults() -> None:
    index = next(i for i, c in enumerate(HOME.coverages) if c.code == "personal_property")

    # A coverage with options but no default: the product validation says it once (a claim
    # reading the default is one more reason, not a second message at the same pointer).
    raw = HOME.model_dump(mode="json")
    raw["coverages"][index]["default_limit"] = None
    refused = parse_definition(raw)
    assert isinstance(refused, Err)
    at_default = [i for i in refused.error.errors if i.pointer.endswith(f"/{index}/default_limit")]
    assert [i.detail for i in at_default] == ["a default option is required"]

    def unread_default(raw: dict[str, Any]) -> None:
        del raw["claims"]["coverage_terms"]["personal_property"]["limits"]["50pct"]

    problems = dict(_home_issues(unread_default))
    assert "50pct" in problems[f"#/coverages/{index}/default_limit"]


def test_the_claims_section_states_a_valid_time_zone() -> None:
    assert {(d.state, d.claims.time_zone) for d in shipped_definitions() if d.claims} == {
        ("TX", "America/Chicago"),
        ("OH", "America/New_York"),
        ("FL", "America/New_York"),
    }
    raw = HOME.model_dump(mode="json")
    for bad in ("Mars/Olympus", "", "../etc/passwd"):
        raw["claims"]["time_zone"] = bad
        with pytest.raises(ValidationError, match="time_zone"):
            ProductVersionDefinition.model_validate(raw)
    del raw["claims"]["time_zone"]
    with pytest.raises(ValidationError, match="time_zone"):
        ProductVersionDefinition.model_validate(raw)


def test_the_loss_day_is_the_policy_zones_and_another_day_elsewhere_is_a_finding() -> None:
    # 20:00 in Austin on the 14th is already the 15th on Kiritimati (UTC+14).
    loss_at = datetime.fromisoformat("2027-03-14T20:00:00-05:00")
    assert loss_day(loss_at, "America/Chicago") == date(2027, 3, 14)
    assert loss_day(loss_at, "Pacific/Kiritimati") == date(2027, 3, 15)
    finding = zone_finding(loss_at, "Pacific/Kiritimati", "America/Chicago")
    assert finding is not None
    assert finding.code == "loss_date_zone_differs"
    assert "2027-03-15" in finding.message
    assert "2027-03-14" in finding.message
    assert zone_finding(loss_at, "America/Chicago", "America/Chicago") is None
    assert zone_finding(loss_at, "America/Denver", "America/Chicago") is None
