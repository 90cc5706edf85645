"""Uploading a product version: precise errors for every kind of inconsistency."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

from pd_prime_demo.core.result_types import Err, Ok
from pd_prime_demo.products.service import parse_definition
from pd_prime_demo.products.shipped import (
    shipped,
    shipped_definitions,
    shipped_documents,
    shipped_files,
)
from pd_prime_demo.rating.definition import EffectiveDates, ProductVersionDefinition


def _auto() -> dict[str, Any]:
    return copy.deepcopy(shipped("personal_auto", "TX").model_dump(mode="json"))


def _problems(raw: dict[str, Any]) -> dict[str, str]:
    result = parse_definition(raw)
    assert isinstance(result, Err)
    return {issue.pointer: issue.detail for issue in result.error.errors}


def test_shipped_products_are_valid() -> None:
    documents = shipped_documents()
    products = ("homeowners_ho3", "personal_auto")
    assert sorted((d["product_code"], d["state"]) for d in documents) == [
        (code, state) for code in products for state in ("FL", "OH", "TX")
    ]
    for raw in documents:
        assert isinstance(parse_definition(raw), Ok)


def test_shipped_files_are_named_by_their_identity_and_state_every_field() -> None:
    for file, raw in zip(shipped_files(), shipped_documents(), strict=True):
        assert file.name == f"{raw['product_code']}-{raw['state']}-{raw['version']}.json"
        # Defaults are written out too: an exported file shows every fact a carrier can set.
        assert raw == ProductVersionDefinition.model_validate(raw).model_dump(mode="json")


def test_missing_table_is_named() -> None:
    raw = _auto()
    del raw["tables"]["symbol"]
    problems = _problems(raw)
    assert any("unknown table 'symbol'" in d for d in problems.values())
    assert "#/algorithm/coverages/collision/7/table" in problems


def test_uncovered_and_duplicate_exact_keys() -> None:
    raw = _auto()
    raw["tables"]["use"]["rows"] = [
        r for r in raw["tables"]["use"]["rows"] if r["key"] != ["business"]
    ]
    raw["tables"]["symbol"]["rows"].append({"key": ["A"], "value": "2"})
    problems = _problems(raw)
    assert "['business']" in problems["#/tables/use/rows"]
    assert problems["#/tables/symbol/rows/4/key"] == "duplicate key ['A']"


def test_overlapping_and_gapped_bands() -> None:
    raw = _auto()
    raw["tables"]["driver_age"]["bands"][1]["min"] = 19
    raw["tables"]["mileage"]["bands"][1]["min"] = 8000
    raw["tables"]["accidents"]["bands"][0]["min"] = 1
    messages = " | ".join(_problems(raw).values())
    assert "bands at 16 and 19 overlap" in messages
    assert "values from 7500 to 8000 are not covered" in messages
    assert "values below 1 are not covered" in messages


def test_interpolation_must_span_the_variable() -> None:
    raw = _auto()
    raw["tables"]["experience"]["points"] = raw["tables"]["experience"]["points"][:-1]
    assert "values above 10 are not covered" in _problems(raw)["#/tables/experience/points"]


def test_unknown_variable_in_step_and_rule() -> None:
    raw = _auto()
    raw["algorithm"]["coverages"]["bi"][2] = {
        "op": "multiply",
        "name": "credit",
        "factor": "0.9",
        "when": [{"ref": "policy.credit_score", "op": "gt", "value": "700"}],
    }
    raw["underwriting_rules"][0]["when"][0]["ref"] = "driver.dui"
    problems = _problems(raw)
    assert (
        problems["#/algorithm/coverages/bi/2/when/0/ref"]
        == "unknown variable 'policy.credit_score'"
    )
    assert problems["#/underwriting_rules/0/when/0/ref"] == "unknown variable 'driver.dui'"


def test_schema_errors_carry_pointers() -> None:
    raw = _auto()
    raw["coverages"][0]["unit"] = "house"
    raw["extra_field"] = 1
    problems = _problems(raw)
    assert "#/coverages/0/unit" in problems
    assert "#/extra_field" in problems


def test_structure_rules() -> None:
    raw = _auto()
    raw["algorithm"]["coverages"]["pd"] = raw["algorithm"]["coverages"]["pd"][:-1]
    raw["coverages"][0]["default_limit"] = "1/2"
    raw["coverages"][1]["requires"] = ["towing"]
    raw["cancellation"] = {"method": "short_rate"}
    problems = _problems(raw)
    assert "explicit rounding" in problems["#/algorithm/coverages/pd/9"]
    assert problems["#/coverages/0/default_limit"] == "'1/2' is not one of the options"
    assert problems["#/coverages/1/requires/0"] == "unknown coverage 'towing'"
    assert "#/cancellation/short_rate_table" in problems


def _home() -> dict[str, Any]:
    return copy.deepcopy(shipped("homeowners_ho3", "TX").model_dump(mode="json"))


def _ok(raw: dict[str, Any]) -> ProductVersionDefinition:
    result = parse_definition(raw)
    assert isinstance(result, Ok), result
    return result.value


def test_shipped_products_state_their_per_product_facts() -> None:
    for defn in shipped_definitions():
        prefix = {"personal_auto": "PA", "homeowners_ho3": "HO"}[defn.product_code]
        assert defn.policy_number_prefix == prefix
        assert defn.term_months == (6 if defn.product_code == "personal_auto" else 12)
        assert defn.proration == "days"
        assert defn.effective_dates == EffectiveDates(max_backdate_days=30, max_advance_days=365)


def test_a_definition_stored_before_the_new_facts_still_loads_with_defaults() -> None:
    raw = _home()
    for key in ("policy_number_prefix", "proration", "effective_dates", "term_months"):
        del raw[key]
    raw["cancellation"] = {
        "method": "short_rate",
        "short_rate_table": [
            {"up_to_percent": "50", "earned_percent": "60"},
            {"up_to_percent": "100", "earned_percent": "100"},
        ],
    }
    defn = _ok(raw)
    assert (defn.policy_number_prefix, defn.term_months, defn.proration) == ("PL", 12, "days")
    assert (defn.effective_dates.max_backdate_days, defn.effective_dates.max_advance_days) == (
        0,
        365,
    )
    assert defn.cancellation.short_rate_basis == "percent_of_term"
    assert defn.cancellation.short_rate_table[0].up_to_days is None
    assert defn.cancellation.return_percent_of_pro_rata is None


def test_policy_number_prefix_is_one_to_four_capitals() -> None:
    for good in ("P", "PAUT"):
        assert _ok({**_auto(), "policy_number_prefix": good}).policy_number_prefix == good
    for bad in ("", "pa", "PAUTO", "P1", "P-"):
        assert "#/policy_number_prefix" in _problems({**_auto(), "policy_number_prefix": bad})


def test_term_is_any_whole_number_of_months_up_to_three_years() -> None:
    for months in (1, 9, 36):
        assert _ok({**_auto(), "term_months": months}).term_months == months
    for bad in (0, 37, "six", 6.5):
        assert "#/term_months" in _problems({**_auto(), "term_months": bad})


def test_proration_is_by_days_or_months() -> None:
    assert _ok({**_auto(), "proration": "months"}).proration == "months"
    assert "#/proration" in _problems({**_auto(), "proration": "weeks"})


def test_effective_date_windows_are_bounded() -> None:
    defn = _ok({**_auto(), "effective_dates": {"max_backdate_days": 365}})
    assert defn.effective_dates == EffectiveDates(max_backdate_days=365, max_advance_days=365)
    assert _ok({**_auto(), "effective_dates": {"max_advance_days": 0}}).effective_dates == (
        EffectiveDates(max_backdate_days=0, max_advance_days=0)
    )
    problems = _problems(
        {
            **_auto(),
            "effective_dates": {"max_backdate_days": 366, "max_advance_days": 731, "other": 1},
        }
    )
    assert {
        "#/effective_dates/max_backdate_days",
        "#/effective_dates/max_advance_days",
        "#/effective_dates/other",
    } <= problems.keys()
    assert "#/effective_dates/max_backdate_days" in _problems(
        {**_auto(), "effective_dates": {"max_backdate_days": -1}}
    )


def test_a_days_in_force_short_rate_table() -> None:
    raw = _home()
    raw["cancellation"] = {
        "method": "short_rate",
        "short_rate_basis": "days_in_force",
        "short_rate_table": [
            {"up_to_days": 0, "earned_percent": "10"},
            {"up_to_days": 30, "earned_percent": "20"},
            {"up_to_days": 180, "earned_percent": "60"},
        ],
    }
    # No row needs to reach the term's end: beyond the last row, 100% is earned.
    table = _ok(raw).cancellation.short_rate_table
    assert [(r.up_to_days, r.up_to_percent) for r in table] == [(0, None), (30, None), (180, None)]
    raw["cancellation"]["short_rate_table"] = [
        {"up_to_days": 30, "earned_percent": "20"},
        {"up_to_percent": "50", "earned_percent": "40"},
        {"up_to_days": 30, "up_to_percent": "60", "earned_percent": "50"},
        {"up_to_days": 20, "earned_percent": "45"},
    ]
    problems = _problems(raw)
    at = "#/cancellation/short_rate_table"
    assert problems[f"{at}/1/up_to_days"] == "a days_in_force table's rows give up_to_days"
    assert "not used by a days_in_force table" in problems[f"{at}/1/up_to_percent"]
    assert "not used by a days_in_force table" in problems[f"{at}/2/up_to_percent"]
    assert problems[f"{at}/2/up_to_days"] == "must be greater than the row before's (30)"
    assert problems[f"{at}/3/up_to_days"] == "must be greater than the row before's (30)"
    assert problems[f"{at}/3/earned_percent"] == "must not be less than the row before's (50)"
    assert at not in problems  # a days table need not reach 100% of the term
    bounds = _problems(
        {
            **raw,
            "cancellation": {
                **raw["cancellation"],
                "short_rate_table": [{"up_to_days": 1201, "earned_percent": "10"}],
            },
        }
    )
    assert f"{at}/0/up_to_days" in bounds


def test_a_percent_of_term_table_reads_up_to_percent_only() -> None:
    raw = _home()
    raw["cancellation"]["short_rate_table"][1] = {"up_to_days": 90, "earned_percent": "35"}
    raw["cancellation"]["short_rate_table"][3]["up_to_percent"] = "40"
    problems = _problems(raw)
    at = "#/cancellation/short_rate_table"
    assert problems[f"{at}/1/up_to_percent"] == "a percent_of_term table's rows give up_to_percent"
    assert "use it with short_rate_basis days_in_force" in problems[f"{at}/1/up_to_days"]
    assert problems[f"{at}/3/up_to_percent"] == "must be greater than the row before's (50)"
    assert at not in problems  # the last row still reaches 100


def test_percent_of_pro_rata_needs_the_share_returned_and_only_it_takes_one() -> None:
    raw = _auto()
    raw["cancellation"] = {"method": "percent_of_pro_rata", "return_percent_of_pro_rata": "90"}
    assert _ok(raw).cancellation.return_percent_of_pro_rata == Decimal(90)
    raw["cancellation"] = {"method": "percent_of_pro_rata"}
    pointer = "#/cancellation/return_percent_of_pro_rata"
    assert "needs the share" in _problems(raw)[pointer]
    raw["cancellation"] = {"method": "pro_rata", "return_percent_of_pro_rata": "90"}
    assert _problems(raw)[pointer] == "only used by the percent_of_pro_rata method"
    for bad in ("0", "100.5"):
        raw["cancellation"] = {"method": "percent_of_pro_rata", "return_percent_of_pro_rata": bad}
        assert pointer in _problems(raw)
    raw["cancellation"] = {"method": "percent_of_pro_rata", "return_percent_of_pro_rata": "100"}
    assert _ok(raw).cancellation.return_percent_of_pro_rata == Decimal(100)
