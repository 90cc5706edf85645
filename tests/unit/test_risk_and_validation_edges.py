"""Edge cases of risk input validation and product validation, field by field."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest

from pd_prime_demo.core.result_types import Err
from pd_prime_demo.products.service import parse_definition
from pd_prime_demo.products.shipped import shipped
from pd_prime_demo.rating.risk import build_risk, build_selections

AUTO = shipped("personal_auto", "TX")
HOME = shipped("homeowners_ho3", "OH")
DRIVER = {
    "age": 40,
    "years_licensed": 20,
    "accidents_3y": 0,
    "violations_3y": 0,
    "good_student": False,
}
VEHICLE = {
    "driver": 0,
    "model_year": 2020,
    "symbol": "B",
    "use": "commute",
    "annual_miles": 9000,
    "anti_theft": False,
}
POLICY = {
    "territory": "austin",
    "prior_insurance": True,
    "multi_policy": False,
    "paid_in_full": False,
}


def _issues(risk: dict[str, Any], defn: Any = AUTO) -> dict[str, str]:
    _, issues = build_risk(defn, risk)
    return {i.pointer: i.detail for i in issues}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("good_student", "yes", "must be true or false"),
        ("age", "forty", "must be a whole number"),
        ("age", True, "must be a number"),
        ("age", 12, "must be at least 16"),
        ("age", 120, "must be at most 99"),
    ],
)
def test_driver_values_are_typed_and_ranged(field: str, value: Any, message: str) -> None:
    risk = {"policy": POLICY, "drivers": [{**DRIVER, field: value}], "vehicles": [VEHICLE]}
    assert _issues(risk)[f"#/risk/drivers/0/{field}"] == message


def test_structure_problems_are_reported() -> None:
    issues = _issues({"policy": "flat", "drivers": "many", "vehicles": [VEHICLE] * 7, "extra": 1})
    assert issues["#/risk/policy"] == "must be an object"
    assert issues["#/risk/drivers"] == "must be a list"
    assert issues["#/risk/vehicles"].startswith("needs 1 to 6")
    assert issues["#/risk/extra"] == "unknown section"
    missing = _issues({"policy": {**POLICY, "credit": 700}, "drivers": [{}], "vehicles": [VEHICLE]})
    assert missing["#/risk/policy/credit"] == "not a rating variable of this product"
    assert missing["#/risk/drivers/0/age"] == "required"


def test_decimal_values_accept_numbers_and_strings_only() -> None:
    base = {
        "territory": "metro",
        "construction": "frame",
        "protection_class": 3,
        "year_built": 1990,
        "roof_age": 5,
        "claims_5y": 0,
        "occupancy": "owner",
        "protective_devices": False,
        "multi_policy": False,
    }
    ok, issues = build_risk(HOME, {"policy": {**base, "coverage_a": "250000.50"}})
    assert not issues
    assert ok.policy["coverage_a"] == Decimal("250000.50")
    for bad in ("lots", [1], "NaN"):
        assert _issues({"policy": {**base, "coverage_a": bad}}, HOME)[
            "#/risk/policy/coverage_a"
        ] == ("must be a number")
    assert (
        "this product rates no drivers"
        in _issues({"policy": {**base, "coverage_a": 300000}, "drivers": [DRIVER]}, HOME).values()
    )


def test_selections_check_options_and_requirements() -> None:
    selections, issues = build_selections(
        AUTO,
        {
            "bi": {},
            "pd": {"limit": "25"},
            "comprehensive": {"deductible": "100"},
            "umuim": {"deductible": "500"},
            "towing": {},
        },
        "#/c",
    )
    found = {i.pointer: i.detail for i in issues}
    assert found["#/c/comprehensive"] == "requires collision"
    assert found["#/c/umuim/deductible"] == "must be absent (no options)"
    assert found["#/c/towing"] == "not a coverage of this product"
    assert selections["bi"].limit == "50/100", "omitted limits take the product default"
    assert list(selections) == ["bi", "pd", "umuim", "comprehensive"], "in the product's order"


def _problems(raw: dict[str, Any]) -> dict[str, str]:
    result = parse_definition(raw)
    assert isinstance(result, Err)
    return {i.pointer: i.detail for i in result.error.errors}


def test_variable_and_coverage_declarations_are_checked() -> None:
    raw = copy.deepcopy(AUTO.model_dump(mode="json"))
    raw["variables"].append({"name": "tier", "scope": "policy", "type": "enum"})
    raw["variables"].append(
        {"name": "score", "scope": "policy", "type": "integer", "minimum": 9, "maximum": 1}
    )
    raw["variables"].append(dict(raw["variables"][0]))
    raw["coverages"][0]["limits"].append(dict(raw["coverages"][0]["limits"][0]))
    raw["coverages"][4]["default_deductible"] = None
    for coverage in raw["coverages"]:
        coverage["required"] = False
    raw["algorithm"]["coverages"]["ghost"] = raw["algorithm"]["coverages"]["bi"]
    del raw["algorithm"]["coverages"]["medpay"]
    raw["cancellation"] = {
        "method": "short_rate",
        "short_rate_table": [{"up_to_percent": "50", "earned_percent": "60"}],
    }
    problems = _problems(raw)
    joined = " | ".join(f"{k}: {v}" for k, v in problems.items())
    assert "an enum needs its allowed values" in joined
    assert "a numeric variable needs minimum <= maximum" in joined
    assert "variable names must be unique per scope" in joined
    assert "duplicate option code" in joined
    assert "a default option is required" in joined
    assert "at least one coverage must be required" in joined
    assert "unknown coverage 'ghost'" in joined
    assert "no steps for coverage 'medpay'" in joined
    assert "the last row must reach 100%" in joined


def test_home_product_rejects_vehicle_scoped_pieces() -> None:
    raw = copy.deepcopy(HOME.model_dump(mode="json"))
    raw["variables"].append({"name": "make", "scope": "vehicle", "type": "enum", "values": ["x"]})
    raw["coverages"][0]["unit"] = "vehicle"
    raw["underwriting_rules"].append(
        {
            "code": "drv",
            "action": "refer",
            "scope": "policy",
            "when": [{"ref": "driver.age", "op": "lt", "value": "18"}],
            "reason": "young",
        }
    )
    raw["algorithm"]["coverages"]["dwelling"][0] = {"op": "multiply", "name": "m", "factor": "1"}
    raw["algorithm"]["coverages"]["wind_hail"][1] = {
        "op": "multiply",
        "name": "t",
        "table": "territory",
        "factor": "2",
    }
    raw["tables"]["home_age"] = {
        "kind": "band",
        "key": "policy.occupancy",
        "bands": [{"min": 0, "max": None, "value": "1"}],
    }
    raw["tables"]["amount_of_insurance"]["points"][1]["x"] = 10
    problems = _problems(raw)
    joined = " | ".join(f"{k}: {v}" for k, v in problems.items())
    assert "the product lists no vehicles" in joined
    assert "needs a per-driver or per-vehicle context" in joined or "unknown variable" in joined
    assert "the first step must be a base step" in joined
    assert "give exactly one of table or a constant" in joined
    assert "must be a numeric variable" in joined
    assert "x values must strictly increase" in joined
