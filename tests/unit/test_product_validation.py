"""Uploading a product version: precise errors for every kind of inconsistency."""

from __future__ import annotations

import copy
from typing import Any

from pd_prime_demo.core.result_types import Err, Ok
from pd_prime_demo.products.service import parse_definition
from pd_prime_demo.products.shipped import shipped, shipped_documents, shipped_files
from pd_prime_demo.rating.definition import ProductVersionDefinition


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
