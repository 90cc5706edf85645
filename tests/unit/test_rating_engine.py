"""The rating engine: every step type and rounding mode, properties, and hand-computed premiums."""

from __future__ import annotations

import copy
from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pd_prime_demo.products.shipped import shipped
from pd_prime_demo.rating.definition import ProductVersionDefinition
from pd_prime_demo.rating.engine import (
    RatingInput,
    Selection,
    Value,
    compile_product,
    underwrite,
)

D = Decimal


def _product(
    steps: list[dict[str, Any]],
    *,
    tables: dict[str, Any] | None = None,
    policy: list[dict[str, Any]] | None = None,
) -> Any:
    """A one-coverage product around ``steps``: the smallest thing that exercises them."""
    defn = ProductVersionDefinition.model_validate(
        {
            "product_code": "test",
            "product_name": "Test",
            "line_of_business": "homeowners",
            "state": "TX",
            "version": "t1",
            "effective_new_business": "2026-01-01",
            "effective_renewal": "2026-01-01",
            "variables": [
                {"name": "zone", "scope": "policy", "type": "enum", "values": ["a", "b"]},
                {
                    "name": "size",
                    "scope": "policy",
                    "type": "decimal",
                    "minimum": 0,
                    "maximum": 100,
                },
                {"name": "flag", "scope": "policy", "type": "boolean"},
            ],
            "coverages": [
                {
                    "code": "main",
                    "name": "Main",
                    "unit": "policy",
                    "required": True,
                    "limits": [{"code": "low", "label": "Low"}, {"code": "high", "label": "High"}],
                    "default_limit": "low",
                }
            ],
            "tables": tables or {},
            "algorithm": {"coverages": {"main": steps}, "policy": policy or []},
            "cancellation": {"method": "pro_rata"},
        }
    )
    return compile_product(defn)


def _rate(
    product: Any,
    *,
    zone: str = "a",
    size: str = "50",
    flag: bool = False,
    limit: str = "low",
    explain: bool = True,
) -> Any:
    risk = RatingInput(
        policy={"zone": zone, "size": D(size), "flag": flag},
        coverages={"main": Selection(limit=limit)},
    )
    result = product.rate(risk, explain=explain)
    # Every step test also checks the generated amount-only path against the explained steps.
    assert product.rate(risk, explain=False) == replace(result, worksheet=())
    return result


BASE = {"op": "base", "name": "base", "amount": "100"}
ROUND = {"op": "round", "name": "round", "unit": "0.01", "mode": "half_up"}


def test_exact_lookup_by_key_and_by_coverage_limit() -> None:
    product = _product(
        [
            {"op": "base", "name": "base", "table": "zone"},
            {"op": "multiply", "name": "ilf", "table": "ilf"},
            ROUND,
        ],
        tables={
            "zone": {
                "kind": "exact",
                "keys": ["policy.zone"],
                "rows": [{"key": ["a"], "value": "100"}, {"key": ["b"], "value": "150"}],
            },
            "ilf": {
                "kind": "exact",
                "keys": ["coverage.limit"],
                "rows": [{"key": ["low"], "value": "1"}, {"key": ["high"], "value": "1.25"}],
            },
        },
    )
    assert _rate(product, zone="b", limit="high").premium == D("187.50")
    lines = _rate(product, zone="b", limit="high").worksheet
    assert (lines[0].table, lines[0].key, lines[0].amount) == ("zone", "b", D("150"))
    assert (lines[1].table, lines[1].key, lines[1].factor) == ("ilf", "high", D("1.25"))


def test_band_lookup_inclusive_lower_exclusive_upper() -> None:
    product = _product(
        [BASE, {"op": "multiply", "name": "size", "table": "size"}, ROUND],
        tables={
            "size": {
                "kind": "band",
                "key": "policy.size",
                "bands": [
                    {"min": 0, "max": 10, "value": "0.5"},
                    {"min": 10, "max": None, "value": "2"},
                ],
            }
        },
    )
    assert _rate(product, size="9.99").premium == D("50.00")
    assert _rate(product, size="10").premium == D("200.00")


def test_linear_interpolation_between_points() -> None:
    product = _product(
        [BASE, {"op": "multiply", "name": "curve", "table": "curve"}, ROUND],
        tables={
            "curve": {
                "kind": "interpolate",
                "key": "policy.size",
                "round_to": "0.001",
                "points": [{"x": 0, "y": "1"}, {"x": 40, "y": "2"}, {"x": 100, "y": "2.6"}],
            }
        },
    )
    assert _rate(product, size="10").worksheet[1].factor == D("1.250")
    assert _rate(product, size="70").premium == D("230.00")
    assert _rate(product, size="100").premium == D("260.00")


def test_add_and_conditional_steps() -> None:
    product = _product(
        [
            BASE,
            {"op": "add", "name": "expense constant", "amount": "12.50"},
            {
                "op": "multiply",
                "name": "flag load",
                "factor": "1.2",
                "when": [{"ref": "policy.flag", "op": "eq", "value": True}],
            },
            ROUND,
        ]
    )
    assert _rate(product).premium == D("112.50")
    assert _rate(product, flag=True).premium == D("135.00")
    assert "flag load" not in [line.step for line in _rate(product).worksheet]


@pytest.mark.parametrize(
    ("combine", "expected"), [("multiplicative", "72.00"), ("additive", "70.00")]
)
def test_discounts_combine(combine: str, expected: str) -> None:
    product = _product(
        [
            BASE,
            {
                "op": "discounts",
                "name": "discounts",
                "combine": combine,
                "items": [
                    {
                        "name": "x",
                        "factor": "0.9",
                        "when": [{"ref": "policy.zone", "op": "eq", "value": "a"}],
                    },
                    {
                        "name": "y",
                        "factor": "0.8",
                        "when": [{"ref": "policy.size", "op": "gte", "value": "10"}],
                    },
                ],
            },
            ROUND,
        ]
    )
    assert _rate(product).premium == D(expected)


def test_discount_cap() -> None:
    product = _product(
        [
            BASE,
            {
                "op": "discounts",
                "name": "d",
                "max_discount": "0.15",
                "items": [
                    {
                        "name": "x",
                        "factor": "0.8",
                        "when": [{"ref": "policy.zone", "op": "in", "value": ["a"]}],
                    },
                ],
            },
            ROUND,
        ]
    )
    result = _rate(product)
    assert result.premium == D("85.00")
    assert result.worksheet[1].key == "x (capped)"


def test_minimum_premium_step() -> None:
    product = _product(
        [
            BASE,
            {"op": "multiply", "name": "tiny", "factor": "0.1"},
            {"op": "minimum", "name": "coverage minimum", "amount": "25"},
            ROUND,
        ]
    )
    assert _rate(product).premium == D("25.00")


@pytest.mark.parametrize(
    ("mode", "unit", "expected"),
    [
        ("half_up", "0.01", "100.13"),
        ("half_even", "0.01", "100.12"),
        ("up", "1", "101"),
        ("down", "1", "100"),
        ("ceiling", "0.1", "100.2"),
        ("floor", "0.1", "100.1"),
    ],
)
def test_rounding_modes(mode: str, unit: str, expected: str) -> None:
    product = _product(
        [
            {"op": "base", "name": "b", "amount": "100.125"},
            {"op": "round", "name": "r", "unit": unit, "mode": mode},
        ]
    )
    assert _rate(product).premium == D(expected)


def test_policy_fees_and_taxes() -> None:
    product = _product(
        [BASE, ROUND],
        policy=[
            {"op": "minimum", "name": "policy minimum", "amount": "150"},
            {"op": "fee", "name": "policy fee", "amount": "20"},
            {"op": "tax", "name": "premium tax", "rate": "0.05", "base": "premium"},
            {
                "op": "tax",
                "name": "fee-inclusive surcharge",
                "rate": "0.01",
                "base": "premium_and_fees",
            },
        ],
    )
    result = _rate(product)
    assert result.premium == D("150")
    assert [f.amount for f in result.fees] == [D("20")]
    assert [t.amount for t in result.taxes] == [D("7.50"), D("1.70")]
    assert result.total == D("179.20")


def _auto_risk(state: str = "TX", **changes: Any) -> RatingInput:
    drivers: list[dict[str, Value]] = [
        {
            "age": 40,
            "years_licensed": 20,
            "accidents_3y": 0,
            "violations_3y": 0,
            "good_student": False,
        }
    ]
    vehicles: list[dict[str, Value]] = [
        {
            "driver": 0,
            "model_year": 2021,
            "symbol": "B",
            "use": "commute",
            "annual_miles": 12000,
            "anti_theft": False,
        }
    ]
    territory = {"TX": "austin", "OH": "columbus", "FL": "tampa"}[state]
    policy: dict[str, Value] = {
        "territory": territory,
        "prior_insurance": False,
        "multi_policy": False,
        "paid_in_full": False,
    }
    risk = RatingInput(
        policy=policy,
        drivers=drivers,
        vehicles=vehicles,
        coverages={"bi": Selection("50/100"), "pd": Selection("50")},
    )
    return replace(risk, **changes)


def test_tx_auto_liability_matches_hand_computation() -> None:
    """TX Personal Auto, one 40-year-old driver, one commuting vehicle, BI 50/100 and PD 50.

    BI: base 210 x territory austin 1.10 x ILF 1.00 x age 1.00 x experience(20 yrs)
        x accidents 1.00 x violations 1.00 x use 1.00 x mileage 1.00.
    Experience interpolates between (10, 1.00) and (80, 0.96): 1.00 - 0.04 * 10/70
        = 0.994285... -> 0.9943 (half up to 4 places, as the table declares).
    """
    experience = D("0.9943")
    bi = (D(210) * D("1.10") * experience).quantize(D("0.01"), ROUND_HALF_UP)
    pd = (D(165) * D("1.10") * experience).quantize(D("0.01"), ROUND_HALF_UP)
    assert (bi, pd) == (D("229.68"), D("180.47"))
    premium = max(bi + pd, D(350))  # TX minimum premium 350
    result = compile_product(shipped("personal_auto", "TX")).rate(_auto_risk())
    assert result.coverage_premiums == {"bi": bi, "pd": pd}
    assert result.premium == premium == D("410.15")
    assert result.total == premium + D("25.00")


def test_fl_homeowners_matches_hand_computation() -> None:
    """FL HO-3, coastal masonry home, Coverage A 250,000 (amount factor exactly 1.00)."""
    policy: dict[str, Value] = {
        "territory": "inland",
        "construction": "masonry",
        "protection_class": 5,
        "year_built": 1990,
        "roof_age": 12,
        "coverage_a": D(250000),
        "claims_5y": 0,
        "occupancy": "owner",
        "protective_devices": False,
        "multi_policy": False,
    }
    product = compile_product(shipped("homeowners_ho3", "FL"))
    coverages = {
        c.code: Selection(c.default_limit, c.default_deductible)
        for c in product.definition.coverages
    }
    result = product.rate(RatingInput(policy=policy, coverages=coverages))
    dwelling = (D(1650) * D("1.20") * D("1.00") * D("0.95") * D("1.00") * D("1.00")).quantize(
        D("0.01")
    )
    wind = (D(980) * D("1.20") * D("1.00") * D("1.00") * D("0.88")).quantize(D("0.01"))
    assert result.coverage_premiums["dwelling"] == dwelling == D("1881.00")
    assert result.coverage_premiums["wind_hail"] == wind == D("1034.88")
    premium = dwelling + wind + D(34) + D(6)  # Coverage E $300,000 and F $1,000 charges
    assert result.premium == premium
    assert [t.amount for t in result.taxes] == [
        (premium * D("0.01")).quantize(D("0.01")),
        (premium * D("0.007")).quantize(D("0.01")),
    ]
    assert result.total == premium + D(50) + sum(t.amount for t in result.taxes)


ages = st.integers(16, 99)
limits = st.sampled_from(["30/60", "50/100", "100/300", "250/500"])


@settings(max_examples=200, deadline=None)
@given(
    age=ages,
    years=st.integers(0, 80),
    accidents=st.integers(0, 10),
    miles=st.integers(0, 100000),
    state=st.sampled_from(["TX", "OH", "FL"]),
    limit=limits,
)
def test_premium_never_negative_and_deterministic(
    age: int, years: int, accidents: int, miles: int, state: str, limit: str
) -> None:
    product = _compiled[state]
    risk = _auto_risk(state, coverages={"bi": Selection(limit), "pd": Selection("50")})
    risk = replace(
        risk,
        drivers=[
            {**risk.drivers[0], "age": age, "years_licensed": years, "accidents_3y": accidents}
        ],
        vehicles=[{**risk.vehicles[0], "annual_miles": miles}],
    )
    first = product.rate(risk)
    assert first.premium >= 0
    assert first.total >= first.premium
    assert product.rate(risk, explain=False) == replace(first, worksheet=())
    assert product.rate(risk) == first


@settings(max_examples=100, deadline=None)
@given(state=st.sampled_from(["TX", "OH", "FL"]), low=st.integers(0, 3), high=st.integers(0, 3))
def test_premium_never_decreases_when_only_the_limit_increases(
    state: str, low: int, high: int
) -> None:
    options = ["30/60", "50/100", "100/300", "250/500"]
    low, high = sorted((low, high))
    product = _compiled[state]
    cheap = product.rate(
        _auto_risk(state, coverages={"bi": Selection(options[low]), "pd": Selection("50")})
    )
    rich = product.rate(
        _auto_risk(state, coverages={"bi": Selection(options[high]), "pd": Selection("50")})
    )
    assert rich.coverage_premiums["bi"] >= cheap.coverage_premiums["bi"]


_compiled = {s: compile_product(shipped("personal_auto", s)) for s in ("TX", "OH", "FL")}


def test_underwriting_rules_fire_where_they_apply() -> None:
    product = _compiled["TX"]
    risk = _auto_risk()
    assert underwrite(product, risk) == []
    bad = replace(
        risk,
        drivers=[{**risk.drivers[0], "accidents_3y": 4}],
        vehicles=[{**risk.vehicles[0], "symbol": "D"}],
    )
    hits = {(h.code, h.where) for h in underwrite(product, bad)}
    assert hits == {("too_many_accidents", "driver[0]"), ("exotic_vehicle", "vehicle[0]")}


def test_shipped_definitions_round_trip_through_json() -> None:
    for code in ("personal_auto", "homeowners_ho3"):
        defn = shipped(code, "OH")
        again = ProductVersionDefinition.model_validate_json(defn.model_dump_json())
        assert again == defn
        assert copy.deepcopy(defn) == defn
