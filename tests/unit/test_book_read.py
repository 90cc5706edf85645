"""Reading book files (JSON streamed a block at a time, CSV grouped by policy) and the merge
patch a converted endorsement records."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pd_prime_demo.policies import rules
from pd_prime_demo.policies.service import import_read
from pd_prime_demo.policies.service.import_read import UnreadableBookError, read_csv, read_json
from pd_prime_demo.policies.service.import_steps import merge_diff

BOOK = [
    {"number": "A-1", "transactions": [{"kind": "new_business", "risk": {"policy": {"x": 1}}}]},
    {"number": "A-2", "note": 'ünïcode, "quoted" [brackets] {braces}', "n": 12345678901234},
    {"number": "A-3", "transactions": []},
]


def test_json_is_read_policy_by_policy_across_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    text = json.dumps(BOOK, indent=2)
    for block in (1, 3, 7, 64, 1 << 20):
        monkeypatch.setattr(import_read, "_BLOCK", block)
        read = list(read_json(io.StringIO(text)))
        assert [r.data for r in read] == BOOK, block
        assert [r.row for r in read] == [0, 1, 2]
    assert list(read_json(io.StringIO(" [ ] \n"))) == []


@pytest.mark.parametrize(
    ("text", "pointer"),
    [
        ('{"number": "A"}', "#"),
        ('[{"number": "A"} {"number": "B"}]', "#/1"),
        ('[{"number": "A"}, {"number": ]', "#/1"),
        ('[{"number": "A"}] and more', "#"),
        ('[{"number": "A"}', "#/1"),
    ],
)
def test_an_unreadable_json_book_says_where(text: str, pointer: str) -> None:
    with pytest.raises(UnreadableBookError) as raised:
        list(read_json(io.StringIO(text)))
    assert raised.value.pointer == pointer


def test_a_json_element_that_is_not_an_object_is_a_problem_of_its_own() -> None:
    read = list(read_json(io.StringIO('[{"number": "A"}, 7]')))
    assert read[1].issues == [((), "a policy must be a JSON object")]
    assert read[1].place.locate(()) == (1, "#/1")


HEADER = "number,product_code,kind,effective_on,booked_on,risk,premium.bi,premium.pd"


def _csv(*lines: str) -> list[Any]:
    return list(read_csv(io.StringIO("\n".join([HEADER, *lines]) + "\n")))


def test_csv_lines_are_grouped_into_policies() -> None:
    read = _csv(
        'P-1,personal_auto,new_business,2026-01-01,2026-01-01,"{""policy"": {}}",100.00,50.00',
        "P-1,,endorsement,2026-02-01,2026-02-02,,110.00,",
        "P-2,home,new_business,2026-01-05,2026-01-05,,,",
    )
    assert [r.number for r in read] == ["P-1", "P-2"]
    first = read[0].data
    assert first["product_code"] == "personal_auto"
    assert first["transactions"][0] == {
        "kind": "new_business",
        "effective_on": "2026-01-01",
        "booked_on": "2026-01-01",
        "risk": {"policy": {}},
        "premium": {"bi": "100.00", "pd": "50.00"},
    }
    assert first["transactions"][1]["premium"] == {"bi": "110.00"}
    assert read[0].place.locate(("transactions", 1, "premium", "bi")) == (3, "#/premium.bi")
    assert read[0].place.locate(("transactions", 0, "risk", "drivers", 0)) == (
        2,
        "#/risk/drivers/0",
    )
    assert read[0].place.locate(("customer", "email")) == (2, "#/customer/email")
    assert read[1].place.locate(("payment_plan",)) == (4, "#/payment_plan")


def test_csv_problems_stay_with_their_policy() -> None:
    read = _csv(
        "P-1,personal_auto,new_business,2026-01-01,2026-01-01,{not json},,",
        "P-1,homeowners,endorsement,2026-02-01,2026-02-02,,,",
    )
    assert read[0].issues[0][0] == ("transactions", 0, "risk")
    assert read[0].place.locate(read[0].issues[0][0]) == (2, "#/risk")
    assert read[0].issues[1] == (
        ("transactions", 1, "product_code"),
        "differs from the policy's first line (product_code)",
    )


def test_a_csv_book_needs_its_columns() -> None:
    with pytest.raises(UnreadableBookError, match="unknown columns: colour"):
        list(read_csv(io.StringIO("number,kind,effective_on,booked_on,colour\n")))
    with pytest.raises(UnreadableBookError, match="missing columns: booked_on"):
        list(read_csv(io.StringIO("number,kind,effective_on\n")))
    with pytest.raises(UnreadableBookError, match="line 2 has 2 cells"):
        list(read_csv(io.StringIO("number,kind,effective_on,booked_on\nP,x\n")))


_leaf = st.one_of(
    st.integers(), st.booleans(), st.text(max_size=3), st.lists(st.integers(), max_size=2)
)
_json = st.recursive(
    _leaf, lambda inner: st.dictionaries(st.sampled_from("abcd"), inner, max_size=4), max_leaves=12
)


@given(_json, _json)
def test_the_recorded_patch_turns_the_old_state_into_the_new(old: Any, new: Any) -> None:
    assert rules.merge_patch(old, merge_diff(old, new)) == new


def test_a_csv_book_that_the_csv_reader_refuses_is_unreadable() -> None:
    huge = "x" * (csv.field_size_limit() + 1)
    text = f"number,kind,effective_on,booked_on\nP,{huge},x,y\n"
    with pytest.raises(UnreadableBookError, match="line"):
        list(read_csv(io.StringIO(text)))


def test_a_nul_character_is_found_where_it_is() -> None:
    assert import_read.first_nul({"a": [1, {"b": "x\x00"}]}) == ("a", 1, "b")
    assert import_read.first_nul({"a": ["fine"]}) is None
