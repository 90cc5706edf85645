"""The shipped products: Personal Auto and Homeowners HO-3, each filed in three states.

These are built as data (:class:`ProductVersionDefinition`) and loaded through the same upload
path as any carrier's own product; nothing in the engine knows about them. The numbers are
illustrative, shaped like real rate manuals (territory base rates, increased-limit and
deductible factors, driver and vehicle classes, amount-of-insurance curves, state fees).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pd_prime_demo.rating.definition import ProductVersionDefinition

EFFECTIVE = date(2026, 1, 1)


def _exact(key: str, rows: dict[str, str]) -> dict[str, Any]:
    return {
        "kind": "exact",
        "keys": [key],
        "rows": [{"key": [k], "value": v} for k, v in rows.items()],
    }


def _bands(key: str, bands: list[tuple[int | str, int | str | None, str]]) -> dict[str, Any]:
    return {
        "kind": "band",
        "key": key,
        "bands": [{"min": lo, "max": hi, "value": v} for lo, hi, v in bands],
    }


def _round(name: str = "round to cents") -> dict[str, Any]:
    return {"op": "round", "name": name, "unit": "0.01", "mode": "half_up"}


def _mult(name: str, table: str) -> dict[str, Any]:
    return {"op": "multiply", "name": name, "table": table}


def _var(name: str, scope: str, type_: str, **kw: Any) -> dict[str, Any]:
    return {"name": name, "scope": scope, "type": type_, **kw}


def _cond(ref: str, op: str, value: Any) -> dict[str, Any]:
    return {"ref": ref, "op": op, "value": value}


# ---------------------------------------------------------------------------------------------
# Personal Auto
# ---------------------------------------------------------------------------------------------

AUTO_STATES: dict[str, dict[str, Any]] = {
    "TX": {
        "territories": {"houston": "1.35", "dallas": "1.25", "austin": "1.10", "rural": "0.85"},
        "base": {
            "bi": "210",
            "pd": "165",
            "umuim": "72",
            "medpay": "38",
            "collision": "310",
            "comprehensive": "115",
        },
        "fees": [("Policy fee", "25.00")],
        "taxes": [],
        "minimum": "350",
    },
    "OH": {
        "territories": {
            "columbus": "1.15",
            "cleveland": "1.30",
            "cincinnati": "1.20",
            "rural": "0.80",
        },
        "base": {
            "bi": "165",
            "pd": "130",
            "umuim": "55",
            "medpay": "30",
            "collision": "255",
            "comprehensive": "85",
        },
        "fees": [("Policy fee", "15.00")],
        "taxes": [],
        "minimum": "250",
    },
    "FL": {
        "territories": {"miami": "1.60", "tampa": "1.30", "orlando": "1.25", "panhandle": "0.95"},
        "base": {
            "bi": "245",
            "pd": "190",
            "umuim": "98",
            "medpay": "52",
            "collision": "345",
            "comprehensive": "140",
        },
        "fees": [("Policy fee", "30.00")],
        "taxes": [("FL Insurance Guaranty Association assessment", "0.007")],
        "minimum": "400",
    },
}

BI_LIMITS = [("30/60", "0.85"), ("50/100", "1.00"), ("100/300", "1.28"), ("250/500", "1.55")]


def personal_auto(state: str) -> ProductVersionDefinition:
    p = AUTO_STATES[state]
    territories = list(p["territories"])
    bi_options = [{"code": c, "label": f"${c} thousand per person/accident"} for c, _ in BI_LIMITS]
    coverages = [
        {
            "code": "bi",
            "name": "Bodily injury liability",
            "unit": "vehicle",
            "required": True,
            "limits": bi_options,
            "default_limit": "50/100",
        },
        {
            "code": "pd",
            "name": "Property damage liability",
            "unit": "vehicle",
            "required": True,
            "limits": [
                {"code": c, "label": f"${c} thousand", "amount": str(int(c) * 1000)}
                for c in ("25", "50", "100")
            ],
            "default_limit": "50",
        },
        {
            "code": "umuim",
            "name": "Uninsured/underinsured motorist",
            "unit": "vehicle",
            "limits": bi_options,
            "default_limit": "50/100",
            "requires": ["bi"],
        },
        {
            "code": "medpay",
            "name": "Medical payments",
            "unit": "vehicle",
            "limits": [
                {"code": c, "label": f"${c}", "amount": c} for c in ("1000", "5000", "10000")
            ],
            "default_limit": "5000",
        },
        {
            "code": "collision",
            "name": "Collision",
            "unit": "vehicle",
            "deductibles": [
                {"code": c, "label": f"${c}", "amount": c} for c in ("250", "500", "1000")
            ],
            "default_deductible": "500",
        },
        {
            "code": "comprehensive",
            "name": "Comprehensive (other than collision)",
            "unit": "vehicle",
            "deductibles": [
                {"code": c, "label": f"${c}", "amount": c} for c in ("100", "250", "500", "1000")
            ],
            "default_deductible": "500",
            "requires": ["collision"],
        },
    ]
    tables: dict[str, Any] = {
        "territory": _exact("policy.territory", p["territories"]),
        "driver_age": _bands(
            "driver.age",
            [
                (16, 21, "1.85"),
                (21, 25, "1.35"),
                (25, 30, "1.10"),
                (30, 65, "1.00"),
                (65, 75, "1.05"),
                (75, None, "1.25"),
            ],
        ),
        "experience": {
            "kind": "interpolate",
            "key": "driver.years_licensed",
            "round_to": "0.0001",
            "points": [
                {"x": 0, "y": "1.30"},
                {"x": 3, "y": "1.12"},
                {"x": 10, "y": "1.00"},
                {"x": 80, "y": "0.96"},
            ],
        },
        "accidents": _bands(
            "driver.accidents_3y",
            [(0, 1, "1.00"), (1, 2, "1.30"), (2, 3, "1.65"), (3, None, "2.10")],
        ),
        "violations": _bands(
            "driver.violations_3y", [(0, 1, "1.00"), (1, 2, "1.12"), (2, None, "1.30")]
        ),
        "use": _exact("vehicle.use", {"pleasure": "0.90", "commute": "1.00", "business": "1.15"}),
        "mileage": _bands(
            "vehicle.annual_miles",
            [(0, 7500, "0.92"), (7500, 15000, "1.00"), (15000, None, "1.10")],
        ),
        "symbol": _exact("vehicle.symbol", {"A": "0.85", "B": "1.00", "C": "1.20", "D": "1.55"}),
        "vehicle_age": _bands(
            "vehicle.model_year",
            [
                (1981, 2012, "0.70"),
                (2012, 2018, "0.85"),
                (2018, 2023, "1.00"),
                (2023, None, "1.12"),
            ],
        ),
        "bi_limit": _exact("coverage.limit", dict(BI_LIMITS)),
        "pd_limit": _exact("coverage.limit", {"25": "0.92", "50": "1.00", "100": "1.09"}),
        "medpay_limit": _exact("coverage.limit", {"1000": "0.60", "5000": "1.00", "10000": "1.35"}),
        "collision_deductible": _exact(
            "coverage.deductible", {"250": "1.15", "500": "1.00", "1000": "0.82"}
        ),
        "comprehensive_deductible": _exact(
            "coverage.deductible", {"100": "1.25", "250": "1.10", "500": "1.00", "1000": "0.80"}
        ),
    }
    for code, rate in p["base"].items():
        tables[f"base_{code}"] = _exact("policy.territory", dict.fromkeys(territories, rate))
    discounts = {
        "op": "discounts",
        "name": "discounts",
        "combine": "multiplicative",
        "max_discount": "0.25",
        "items": [
            {
                "name": "multi-policy",
                "factor": "0.90",
                "when": [_cond("policy.multi_policy", "eq", True)],
            },
            {
                "name": "continuous prior insurance",
                "factor": "0.95",
                "when": [_cond("policy.prior_insurance", "eq", True)],
            },
            {
                "name": "good student",
                "factor": "0.92",
                "when": [_cond("driver.good_student", "eq", True)],
            },
        ],
    }
    driver_steps = [
        _mult("driver age", "driver_age"),
        _mult("driving experience", "experience"),
        _mult("at-fault accidents", "accidents"),
        _mult("violations", "violations"),
    ]

    def liability(code: str, limit_table: str) -> list[dict[str, Any]]:
        return [
            {"op": "base", "name": "base rate", "table": f"base_{code}"},
            _mult("territory", "territory"),
            _mult("increased limit", limit_table),
            *driver_steps,
            _mult("vehicle use", "use"),
            _mult("annual mileage", "mileage"),
            discounts,
            _round(),
        ]

    def physical_damage(code: str) -> list[dict[str, Any]]:
        steps = [
            {"op": "base", "name": "base rate", "table": f"base_{code}"},
            _mult("territory", "territory"),
            _mult("deductible", f"{code}_deductible"),
            *driver_steps,
            _mult("vehicle symbol", "symbol"),
            _mult("vehicle age", "vehicle_age"),
            _mult("vehicle use", "use"),
        ]
        if code == "comprehensive":
            steps.append(
                {
                    "op": "multiply",
                    "name": "anti-theft device",
                    "factor": "0.85",
                    "when": [_cond("vehicle.anti_theft", "eq", True)],
                }
            )
        return [*steps, discounts, _round()]

    policy_steps: list[dict[str, Any]] = [
        {
            "op": "multiply",
            "name": "paid in full",
            "factor": "0.95",
            "when": [_cond("policy.paid_in_full", "eq", True)],
        },
        _round("round policy premium"),
        {"op": "minimum", "name": "minimum premium", "amount": p["minimum"]},
        *({"op": "fee", "name": n, "amount": a} for n, a in p["fees"]),
        *({"op": "tax", "name": n, "rate": r, "base": "premium"} for n, r in p["taxes"]),
    ]
    return ProductVersionDefinition.model_validate(
        {
            "product_code": "personal_auto",
            "product_name": "Personal Auto",
            "line_of_business": "personal_auto",
            "state": state,
            "version": f"{state}-2026.1",
            "effective_new_business": EFFECTIVE,
            "effective_renewal": EFFECTIVE,
            "term_months": 6,
            "units": {
                "driver": {"min_count": 1, "max_count": 6},
                "vehicle": {"min_count": 1, "max_count": 6},
            },
            "variables": [
                _var(
                    "territory",
                    "policy",
                    "enum",
                    values=territories,
                    description="Garaging territory",
                ),
                _var("prior_insurance", "policy", "boolean"),
                _var("multi_policy", "policy", "boolean"),
                _var("paid_in_full", "policy", "boolean"),
                _var("age", "driver", "integer", minimum=16, maximum=99),
                _var("years_licensed", "driver", "integer", minimum=0, maximum=80),
                _var("accidents_3y", "driver", "integer", minimum=0, maximum=10),
                _var("violations_3y", "driver", "integer", minimum=0, maximum=10),
                _var("good_student", "driver", "boolean"),
                _var(
                    "driver",
                    "vehicle",
                    "integer",
                    minimum=0,
                    maximum=5,
                    description="Index of the principal driver",
                ),
                _var("model_year", "vehicle", "integer", minimum=1981, maximum=2027),
                _var(
                    "symbol",
                    "vehicle",
                    "enum",
                    values=["A", "B", "C", "D"],
                    description="Vehicle rating symbol group",
                ),
                _var("use", "vehicle", "enum", values=["pleasure", "commute", "business"]),
                _var("annual_miles", "vehicle", "integer", minimum=0, maximum=100000),
                _var("anti_theft", "vehicle", "boolean"),
            ],
            "coverages": coverages,
            "tables": tables,
            "algorithm": {
                "coverages": {
                    "bi": liability("bi", "bi_limit"),
                    "pd": liability("pd", "pd_limit"),
                    "umuim": liability("umuim", "bi_limit"),
                    "medpay": liability("medpay", "medpay_limit"),
                    "collision": physical_damage("collision"),
                    "comprehensive": physical_damage("comprehensive"),
                },
                "policy": policy_steps,
            },
            "underwriting_rules": [
                {
                    "code": "too_many_accidents",
                    "action": "decline",
                    "scope": "driver",
                    "when": [_cond("driver.accidents_3y", "gte", "4")],
                    "reason": "A driver has four or more at-fault accidents in three years",
                },
                {
                    "code": "major_violations",
                    "action": "refer",
                    "scope": "driver",
                    "when": [_cond("driver.violations_3y", "gte", "3")],
                    "reason": "A driver has three or more violations in three years",
                },
                {
                    "code": "exotic_vehicle",
                    "action": "refer",
                    "scope": "vehicle",
                    "authority": 2,
                    "when": [_cond("vehicle.symbol", "eq", "D")],
                    "reason": "High-performance or exotic vehicle (symbol D)",
                },
            ],
            "quote_validity_days": 30,
            "cancellation": {"method": "pro_rata"},
        }
    )


# ---------------------------------------------------------------------------------------------
# Homeowners HO-3
# ---------------------------------------------------------------------------------------------

HOME_STATES: dict[str, dict[str, Any]] = {
    "TX": {
        "territories": {
            "gulf_coast": "1.45",
            "metro": "1.00",
            "central": "0.90",
            "panhandle": "1.10",
        },
        "base": "1150",
        "wind_base": "520",
        "fees": [("Policy fee", "35.00")],
        "taxes": [],
        "minimum": "600",
    },
    "OH": {
        "territories": {"metro": "1.00", "suburban": "0.92", "rural": "1.05", "lake_erie": "1.08"},
        "base": "780",
        "wind_base": "140",
        "fees": [("Policy fee", "25.00")],
        "taxes": [],
        "minimum": "400",
    },
    "FL": {
        "territories": {"coastal": "1.90", "inland": "1.20", "keys": "2.40", "panhandle": "1.35"},
        "base": "1650",
        "wind_base": "980",
        "fees": [("Policy fee", "25.00"), ("Managing general agency fee", "25.00")],
        "taxes": [
            ("FL Hurricane Catastrophe Fund assessment", "0.01"),
            ("FIGA assessment", "0.007"),
        ],
        "minimum": "900",
    },
}


def homeowners(state: str) -> ProductVersionDefinition:
    p = HOME_STATES[state]
    territories = list(p["territories"])

    def flat(
        code: str, name: str, options: dict[str, tuple[str, str]], default: str
    ) -> tuple[dict[str, Any], str, dict[str, Any]]:
        coverage = {
            "code": code,
            "name": name,
            "unit": "policy",
            "required": True,
            "limits": [{"code": k, "label": label} for k, (label, _) in options.items()],
            "default_limit": default,
        }
        table = _exact("coverage.limit", {k: v for k, (_, v) in options.items()})
        return coverage, f"{code}_charge", table

    flats = [
        flat(
            "other_structures",
            "Coverage B: other structures",
            {"10pct": ("10% of A", "0"), "20pct": ("20% of A", "45")},
            "10pct",
        ),
        flat(
            "personal_property",
            "Coverage C: personal property",
            {"50pct": ("50% of A", "0"), "70pct": ("70% of A", "95")},
            "50pct",
        ),
        flat(
            "loss_of_use",
            "Coverage D: loss of use",
            {"20pct": ("20% of A", "0"), "30pct": ("30% of A", "30")},
            "20pct",
        ),
        flat(
            "personal_liability",
            "Coverage E: personal liability",
            {
                "100000": ("$100,000", "18"),
                "300000": ("$300,000", "34"),
                "500000": ("$500,000", "52"),
            },
            "300000",
        ),
        flat(
            "medical_payments",
            "Coverage F: medical payments to others",
            {"1000": ("$1,000", "6"), "5000": ("$5,000", "14")},
            "1000",
        ),
    ]
    amount_curve = {
        "kind": "interpolate",
        "key": "policy.coverage_a",
        "round_to": "0.0001",
        "points": [
            {"x": 50000, "y": "0.45"},
            {"x": 150000, "y": "0.80"},
            {"x": 250000, "y": "1.00"},
            {"x": 500000, "y": "1.72"},
            {"x": 1000000, "y": "3.05"},
            {"x": 2000000, "y": "5.60"},
        ],
    }
    tables: dict[str, Any] = {
        "territory": _exact("policy.territory", p["territories"]),
        "base_dwelling": _exact("policy.territory", dict.fromkeys(territories, p["base"])),
        "base_wind": _exact("policy.territory", dict.fromkeys(territories, p["wind_base"])),
        "amount_of_insurance": amount_curve,
        "construction": _exact(
            "policy.construction", {"frame": "1.10", "masonry": "0.95", "superior": "0.85"}
        ),
        "protection_class": _bands(
            "policy.protection_class",
            [(1, 4, "0.90"), (4, 7, "1.00"), (7, 9, "1.20"), (9, None, "1.55")],
        ),
        "home_age": _bands(
            "policy.year_built",
            [
                (1850, 1940, "1.30"),
                (1940, 1980, "1.12"),
                (1980, 2005, "1.00"),
                (2005, None, "0.88"),
            ],
        ),
        "roof_age": _bands(
            "policy.roof_age", [(0, 10, "0.90"), (10, 20, "1.00"), (20, None, "1.25")]
        ),
        "claims": _bands("policy.claims_5y", [(0, 1, "1.00"), (1, 2, "1.20"), (2, None, "1.45")]),
        "aop_deductible": _exact(
            "coverage.deductible", {"500": "1.10", "1000": "1.00", "2500": "0.85", "5000": "0.75"}
        ),
        "wind_deductible": _exact(
            "coverage.deductible", {"1pct": "1.00", "2pct": "0.88", "5pct": "0.70"}
        ),
    }
    for _, table_name, table in flats:
        tables[table_name] = table
    home_discounts = {
        "op": "discounts",
        "name": "discounts",
        "combine": "additive",
        "max_discount": "0.20",
        "items": [
            {
                "name": "protective devices",
                "factor": "0.95",
                "when": [_cond("policy.protective_devices", "eq", True)],
            },
            {
                "name": "multi-policy",
                "factor": "0.88",
                "when": [_cond("policy.multi_policy", "eq", True)],
            },
        ],
    }
    coverages = [
        {
            "code": "dwelling",
            "name": "Coverage A: dwelling (all other perils)",
            "unit": "policy",
            "required": True,
            "deductibles": [
                {"code": c, "label": f"${c}", "amount": c} for c in ("500", "1000", "2500", "5000")
            ],
            "default_deductible": "1000",
        },
        {
            "code": "wind_hail",
            "name": "Windstorm and hail",
            "unit": "policy",
            "required": True,
            "deductibles": [
                {"code": c, "label": f"{c[:-3]}% of Coverage A"} for c in ("1pct", "2pct", "5pct")
            ],
            "default_deductible": "2pct",
        },
        *(c for c, _, _ in flats),
    ]
    algorithm: dict[str, Any] = {
        "dwelling": [
            {"op": "base", "name": "base rate", "table": "base_dwelling"},
            _mult("territory", "territory"),
            _mult("amount of insurance", "amount_of_insurance"),
            _mult("construction", "construction"),
            _mult("protection class", "protection_class"),
            _mult("age of home", "home_age"),
            _mult("claims history", "claims"),
            _mult("all-peril deductible", "aop_deductible"),
            home_discounts,
            _round(),
        ],
        "wind_hail": [
            {"op": "base", "name": "base windstorm rate", "table": "base_wind"},
            _mult("territory", "territory"),
            _mult("amount of insurance", "amount_of_insurance"),
            _mult("roof age", "roof_age"),
            _mult("wind/hail deductible", "wind_deductible"),
            _round(),
        ],
    }
    for coverage, table_name, _ in flats:
        algorithm[coverage["code"]] = [
            {"op": "base", "name": "increased limit charge", "table": table_name},
            _round(),
        ]
    return ProductVersionDefinition.model_validate(
        {
            "product_code": "homeowners_ho3",
            "product_name": "Homeowners HO-3",
            "line_of_business": "homeowners",
            "state": state,
            "version": f"{state}-2026.1",
            "effective_new_business": EFFECTIVE,
            "effective_renewal": EFFECTIVE,
            "term_months": 12,
            "variables": [
                _var("territory", "policy", "enum", values=territories),
                _var("construction", "policy", "enum", values=["frame", "masonry", "superior"]),
                _var("protection_class", "policy", "integer", minimum=1, maximum=10),
                _var("year_built", "policy", "integer", minimum=1850, maximum=2027),
                _var("roof_age", "policy", "integer", minimum=0, maximum=100),
                _var(
                    "coverage_a",
                    "policy",
                    "decimal",
                    minimum=50000,
                    maximum=2000000,
                    description="Dwelling limit in dollars",
                ),
                _var("claims_5y", "policy", "integer", minimum=0, maximum=20),
                _var("occupancy", "policy", "enum", values=["owner", "seasonal", "rental"]),
                _var("protective_devices", "policy", "boolean"),
                _var("multi_policy", "policy", "boolean"),
            ],
            "coverages": coverages,
            "tables": tables,
            "algorithm": {
                "coverages": algorithm,
                "policy": [
                    {"op": "minimum", "name": "minimum premium", "amount": p["minimum"]},
                    *({"op": "fee", "name": n, "amount": a} for n, a in p["fees"]),
                    *(
                        {"op": "tax", "name": n, "rate": r, "base": "premium"}
                        for n, r in p["taxes"]
                    ),
                ],
            },
            "underwriting_rules": [
                {
                    "code": "rental_dwelling",
                    "action": "decline",
                    "when": [_cond("policy.occupancy", "eq", "rental")],
                    "reason": "HO-3 covers owner-occupied or seasonal homes; rentals need a DP-3",
                },
                {
                    "code": "frequent_claims",
                    "action": "decline",
                    "when": [_cond("policy.claims_5y", "gte", "3")],
                    "reason": "Three or more claims in five years",
                },
                {
                    "code": "old_roof",
                    "action": "refer",
                    "when": [_cond("policy.roof_age", "gt", "20")],
                    "reason": "Roof older than 20 years: inspection needed",
                },
                {
                    "code": "high_value",
                    "action": "refer",
                    "authority": 2,
                    "when": [_cond("policy.coverage_a", "gt", "1000000")],
                    "reason": "Dwelling limit above $1,000,000",
                },
                {
                    "code": "historic_home",
                    "action": "refer",
                    "when": [_cond("policy.year_built", "lt", "1940")],
                    "reason": "Home built before 1940",
                },
            ],
            "quote_validity_days": 60,
            "cancellation": {
                "method": "short_rate",
                "short_rate_table": [
                    {"up_to_percent": "10", "earned_percent": "19"},
                    {"up_to_percent": "25", "earned_percent": "35"},
                    {"up_to_percent": "50", "earned_percent": "60"},
                    {"up_to_percent": "75", "earned_percent": "81"},
                    {"up_to_percent": "100", "earned_percent": "100"},
                ],
                "minimum_earned_premium": "100",
            },
        }
    )


STATES = ("TX", "OH", "FL")


def shipped_products() -> list[ProductVersionDefinition]:
    return [build(state) for build in (personal_auto, homeowners) for state in STATES]
