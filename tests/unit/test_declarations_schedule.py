"""The descriptive schedule (a vehicle's make, model and VIN, a driver's name, the HO-3
premises address): accepted with the risk, refused at its pointer when bad, never rated; and the
version checks that keep what documents read from a product resolvable."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from pd_prime_demo.products.shipped import shipped
from pd_prime_demo.quotes.schemas import AUTO_EXAMPLE
from pd_prime_demo.rating.definition import ProductVersionDefinition
from pd_prime_demo.rating.engine import compile_product
from pd_prime_demo.rating.risk import build_risk
from pd_prime_demo.rating.validation import validate_definition


def _auto_risk() -> dict[str, Any]:
    risk: dict[str, Any] = copy.deepcopy(AUTO_EXAMPLE["risk"])
    return risk


def _pointers(issues: list[Any]) -> dict[str, str]:
    return {i.pointer: i.detail for i in issues}


def test_schedule_fields_are_accepted_and_left_out_of_rating() -> None:
    defn = shipped("personal_auto", "TX")
    plain = _auto_risk()
    described = _auto_risk()
    described["drivers"][0]["name"] = "Łukasz Nguyễn"
    described["vehicles"][0].update(make="Toyota", model="Camry", vin="4T1BF1FK5CU123456")
    plain_input, plain_issues = build_risk(defn, plain)
    described_input, issues = build_risk(defn, described)
    assert plain_issues == []
    assert issues == []
    # Descriptive facts never reach rating: the rating input is the same, and so the premium.
    assert described_input == plain_input
    assert "vin" not in described_input.vehicles[0]
    engine = compile_product(defn)
    assert engine.rate(described_input).premium == engine.rate(plain_input).premium


def test_bad_schedule_fields_are_refused_at_their_pointers() -> None:
    defn = shipped("personal_auto", "TX")
    risk = _auto_risk()
    risk["vehicles"][0]["vin"] = "4T1BF1FK5CU12345O"  # the letter O is not used in VINs
    risk["vehicles"][1]["vin"] = "SHORT"
    risk["vehicles"][1]["make"] = "x" * 31
    risk["drivers"][1]["name"] = 42
    risk["drivers"][0]["name"] = "  "
    _, issues = build_risk(defn, risk)
    found = _pointers(issues)
    assert found["#/risk/vehicles/0/vin"].startswith("must match")
    assert found["#/risk/vehicles/1/vin"].startswith("must match")
    assert found["#/risk/vehicles/1/make"] == "must be at most 30 characters"
    assert found["#/risk/drivers/1/name"] == "must be a string"
    assert found["#/risk/drivers/0/name"] == "must not be blank"
    assert len(issues) == 5


def test_a_required_schedule_field_must_be_given() -> None:
    defn = shipped("homeowners_ho3", "OH")
    raw = defn.model_dump(mode="json")
    raw["schedule"]["policy"][0]["required"] = True
    strict = ProductVersionDefinition.model_validate(raw)
    policy = {
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
    }
    _, issues = build_risk(strict, {"policy": policy})
    assert _pointers(issues) == {"#/risk/policy/premises_address": "required"}
    _, issues = build_risk(strict, {"policy": {**policy, "premises_address": "12 Elm St"}})
    assert issues == []


def test_shipped_products_name_forms_percent_options_and_limit_sources() -> None:
    for product, state in [("homeowners_ho3", s) for s in ("TX", "OH", "FL")]:
        defn = shipped(product, state)
        covs = {c.code: c for c in defn.coverages}
        assert covs["dwelling"].limit_from == "policy.coverage_a"
        assert {c for c, cov in covs.items() if cov.basis == "policy.coverage_a"} == {
            "wind_hail",
            "other_structures",
            "personal_property",
            "loss_of_use",
        }
        assert [o.percent for o in covs["other_structures"].limits] == [10, 20]
        assert defn.forms[0].number == "HO 00 03"
        assert defn.forms[0].edition == "05 11"
        assert any(f.coverages == ["wind_hail"] for f in defn.forms)
    auto = shipped("personal_auto", "FL")
    assert auto.forms[0].number == "PP 00 01"
    assert auto.forms[0].edition == "09 18"
    assert {tuple(f.coverages) for f in auto.forms} >= {("umuim",), ("medpay",), ()}
    assert [f.name for f in auto.schedule.vehicle] == ["make", "model", "vin"]


def _broken(*changes: Callable[[dict[str, Any]], None]) -> dict[str, str]:
    raw = shipped("homeowners_ho3", "TX").model_dump(mode="json")
    for change in changes:
        change(raw)
    return _pointers(validate_definition(ProductVersionDefinition.model_validate(raw)))


def test_validation_refuses_what_documents_could_not_read() -> None:
    def bad_basis(raw: dict[str, Any]) -> None:
        raw["coverages"][2]["basis"] = "policy.territory"  # an enum, not an amount

    def bad_limit_from(raw: dict[str, Any]) -> None:
        raw["coverages"][0]["limit_from"] = "policy.nowhere"

    def bad_form(raw: dict[str, Any]) -> None:
        raw["forms"][2]["coverages"] = ["earthquake"]

    def clash(raw: dict[str, Any]) -> None:
        raw["schedule"]["policy"].append({"name": "roof_age", "label": "Roof age"})

    def bad_pattern(raw: dict[str, Any]) -> None:
        raw["schedule"]["policy"][0]["pattern"] = "([a-z"

    def no_basis(raw: dict[str, Any]) -> None:
        raw["coverages"][1]["basis"] = None

    found = _broken(bad_basis, bad_limit_from, bad_form, clash, bad_pattern, no_basis)
    assert "not a numeric policy variable" in found["#/coverages/2/basis"]
    assert "not a numeric policy variable" in found["#/coverages/0/limit_from"]
    assert found["#/forms/2/coverages/0"] == "unknown coverage 'earthquake'"
    assert found["#/schedule/policy/1/name"] == "'roof_age' is a rating variable"
    assert found["#/schedule/policy/0/pattern"].startswith("not a valid pattern")
    assert found["#/coverages/1/basis"] == "percentage options need a basis"
    assert _broken() == {}
