"""Document templates: the YAML format, its errors, overrides, filters, data stays data."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from pd_prime_demo.core.config import Settings
from pd_prime_demo.documents import pdf
from pd_prime_demo.documents.context import Carrier, Insured, clean, context, render_layout
from pd_prime_demo.documents.templates import (
    TemplateError,
    compile_source,
    load_template,
    long_date,
    money,
    words,
)

ISSUED = datetime(2027, 3, 1, 15, 30, tzinfo=UTC)
CARRIER = Carrier.from_settings(Settings())
INSURED = Insured(name="Jane Roe", address_lines=("1 Main St", "Austin, TX 78701"))

SAMPLE = """\
kind: declarations
version: "2026.12"
title: "Declarations {{ doc.policy_number }}"
blocks:
  - letterhead: {}
  - address: "{{ insured.name }}\\n{{ insured.address_lines | join('\\n') }}"
  - heading: "Policy declarations"
  - fields:
      - ["Policy number", "{{ doc.policy_number }}"]
      - ["Producer", "{{ doc.producer }}"]
  - heading: "Coverages"
    size: 13
  - table:
      columns: [{title: "Coverage", share: 0.5}, {title: "Premium", share: 0.5, align: R}]
      rows: "doc.coverages"
      cells: ["{{ row.name }}", "{{ row.premium | money }}"]
      footer: [["Total", "{{ doc.term_premium | money }}"]]
  - paragraph: "Cancelled {{ doc.method | words }}.\\nSecond line."
    when: "doc.method"
  - fields: [["Vehicle", "{{ v }}"]]
    for: "doc.vehicles"
    as: v
  - rule: {}
  - spacer: 4
  - coupon:
      heading: "Payment coupon"
      fields: [["Policy", "{{ doc.policy_number }}"], ["Amount due", "{{ doc.due | money }}"]]
      address: "{{ carrier.remit_to | join('\\n') }}"
"""

FACTS: dict[str, Any] = {
    "policy_number": "PA-TX-0000042",
    "producer": None,
    "coverages": [
        {"name": "Bodily injury liability", "premium": "600.00"},
        {"name": "Comprehensive", "premium": "225.5"},
    ],
    "term_premium": "825.50",
    "method": "short_rate",
    "vehicles": ["2020 Honda Civic", "2019 Ford F-150"],
    "due": "-12",
}


def _layout(source: str = SAMPLE, facts: dict[str, Any] | None = None) -> pdf.Layout:
    template = compile_source("test.yaml", source.encode())
    return template.layout(context(FACTS if facts is None else facts, INSURED, CARRIER, ISSUED))


def test_every_block_of_the_format_becomes_its_layout_block() -> None:
    layout = _layout()
    assert layout.title == "Declarations PA-TX-0000042"
    kinds = [type(b).__name__ for b in layout.blocks]
    assert kinds == [
        "Letterhead",
        "Address",
        "Heading",
        "Fields",
        "Heading",
        "Table",
        "Paragraph",
        "Fields",
        "Fields",
        "Rule",
        "Spacer",
        "Coupon",
    ]
    letterhead, address, _, fields, sub, table, paragraph, v1, v2, _, _, coupon = layout.blocks
    assert isinstance(letterhead, pdf.Letterhead)
    assert letterhead.name == CARRIER.name
    assert f"NAIC {CARRIER.naic}" in letterhead.lines
    assert address == pdf.Address(("Jane Roe", "1 Main St", "Austin, TX 78701"))
    # the producer renders empty, so its pair is left out
    assert fields == pdf.Fields((("Policy number", "PA-TX-0000042"),))
    assert sub == pdf.Heading("Coverages", 13)
    assert isinstance(table, pdf.Table)
    assert table.rows == (("Bodily injury liability", "$600.00"), ("Comprehensive", "$225.50"))
    assert table.footer == (("Total", "$825.50"),)
    assert paragraph == pdf.Paragraph("Cancelled short rate.\nSecond line.")
    assert (v1, v2) == (
        pdf.Fields((("Vehicle", "2020 Honda Civic"),)),
        pdf.Fields((("Vehicle", "2019 Ford F-150"),)),
    )
    assert coupon == pdf.Coupon(
        "Payment coupon",
        (("Policy", "PA-TX-0000042"), ("Amount due", "-$12.00")),
        tuple(CARRIER.remit_to),
    )


def test_a_block_whose_condition_is_false_is_left_out() -> None:
    layout = _layout(facts={**FACTS, "method": None, "vehicles": []})
    assert not any(isinstance(b, pdf.Paragraph) for b in layout.blocks)
    assert sum(isinstance(b, pdf.Fields) for b in layout.blocks) == 1


def test_the_version_names_the_kind_the_version_and_the_files_hash() -> None:
    a = compile_source("a.yaml", SAMPLE.encode())
    b = compile_source("b.yaml", (SAMPLE + "\n# a comment\n").encode())
    assert a.version.startswith("declarations/2026.12@")
    assert len(a.version) == 21 + 16
    assert a.version != b.version  # any change to the file is a new version


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (SAMPLE.replace("  - rule: {}", "  - marquee: {}"), "block 8: expected one of"),
        (SAMPLE.replace('version: "2026.12"\n', ""), "version"),
        (SAMPLE + "  - heading: [unclosed\n", "test.yaml"),
        (SAMPLE.replace("size: 13", "size: 13\n    colour: red"), "block 4 (heading)"),
        (SAMPLE.replace("{{ row.name }}", "{{ row.name "), "block 5 (table)"),
        (SAMPLE.replace("share: 0.5, align: R", "share: 0.6, align: R"), "more than 1"),
    ],
)
def test_a_template_that_does_not_validate_names_the_file_and_the_block(
    source: str, message: str
) -> None:
    with pytest.raises(TemplateError, match=r"test\.yaml") as raised:
        compile_source("test.yaml", source.encode())
    assert message in str(raised.value)


def test_a_misspelt_name_fails_with_the_block_instead_of_printing_blank() -> None:
    source = SAMPLE.replace(
        '["Policy number", "{{ doc.policy_number }}"]', '["P", "{{ doc.policy_nubmer }}"]'
    )
    with pytest.raises(TemplateError, match=r"block 3 \(fields\).*policy_nubmer"):
        _layout(source)


def test_sandbox_escapes_fail() -> None:
    for attempt in (
        "{{ ''.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ doc.__init__.__globals__ }}",
        "{{ cycler.__init__.__globals__.os }}",
    ):
        source = SAMPLE.replace('heading: "Policy declarations"', f'heading: "{attempt}"')
        with pytest.raises(TemplateError, match="block 2"):
            _layout(source)


def test_the_operators_templates_win_product_first(tmp_path: Path) -> None:
    shipped_elsewhere = tmp_path / "declarations.yaml"
    shipped_elsewhere.write_text(SAMPLE.replace("Policy declarations", "Generic"))
    (tmp_path / "personal_auto").mkdir()
    (tmp_path / "personal_auto" / "declarations.yaml").write_text(
        SAMPLE.replace("Policy declarations", "Auto declarations")
    )

    def heading(product: str) -> str:
        layout, _ = render_layout(
            "declarations", product, FACTS, INSURED, CARRIER, ISSUED, templates_dir=tmp_path
        )
        return next(b.text for b in layout.blocks if isinstance(b, pdf.Heading))

    assert heading("personal_auto") == "Auto declarations"
    assert heading("homeowners") == "Generic"


def test_a_template_for_another_kind_or_an_unsafe_path_is_refused(tmp_path: Path) -> None:
    (tmp_path / "invoice.yaml").write_text(SAMPLE)  # says kind: declarations
    with pytest.raises(TemplateError, match="declares kind 'declarations'"):
        load_template("invoice", "personal_auto", tmp_path)
    with pytest.raises(TemplateError, match="not a kind"):
        load_template("declarations", "../etc", tmp_path)
    with pytest.raises(TemplateError, match="no template"):
        load_template("nonesuch", "personal_auto", tmp_path)


def test_money_date_and_words_filters() -> None:
    assert money("1234.5") == "$1,234.50"
    assert money(Decimal("-12")) == "-$12.00"
    assert money(0) == "$0.00"
    assert money("0.005") == "$0.01"  # half up
    with pytest.raises(TypeError):
        money(12.5)  # floats are not money
    with pytest.raises(ValueError, match="not an amount"):
        money("twelve")
    assert long_date("2027-03-01") == "March 1, 2027"
    assert long_date(date(2027, 12, 31)) == "December 31, 2027"
    assert long_date("2027-03-01T00:01:00-06:00") == "March 1, 2027"
    assert long_date(ISSUED) == "March 1, 2027"
    assert words("short_rate") == "short rate"
    assert words(None) == ""


INJECTIONS = [
    "{{ 7*7 }}",
    "{% for x in range(3) %}x{% endfor %}",
    "<b>bold</b> &amp;",
    "**bold** _it_",
    "{{ ''.__class__ }}",
]


@pytest.mark.parametrize("value", INJECTIONS)
def test_data_prints_as_written_never_evaluated(value: str) -> None:
    insured = Insured(name=value, address_lines=(value,))
    layout = compile_source("test.yaml", SAMPLE.encode()).layout(
        context({**FACTS, "policy_number": value}, insured, CARRIER, ISSUED)
    )
    assert layout.title == f"Declarations {value}"
    assert layout.blocks[1] == pdf.Address((value, value))
    assert layout.blocks[3] == pdf.Fields((("Policy number", value),))


def test_a_newline_in_data_does_not_start_a_line_the_template_did_not_write() -> None:
    insured = Insured(name="Jane Roe\nPolicy number: FAKE\r\n\u202eevil", address_lines=("1 Main",))
    layout = compile_source("test.yaml", SAMPLE.encode()).layout(
        context(FACTS, insured, CARRIER, ISSUED)
    )
    assert layout.blocks[1] == pdf.Address(("Jane Roe Policy number: FAKE   evil", "1 Main"))


@pytest.mark.parametrize(
    "control",
    ["\u2028", "\u2029", "\u200e", "\u200f", "\u061c", "\u202e", "\u2067", "\x85", "\t"],
)
def test_line_separators_and_bidi_marks_in_data_become_spaces(control: str) -> None:
    value = f"Jane{control}Roe"
    insured = Insured(name=value, address_lines=(f"1 Main{control}St",))
    layout = compile_source("test.yaml", SAMPLE.encode()).layout(
        context({**FACTS, "policy_number": value}, insured, CARRIER, ISSUED)
    )
    assert layout.title == "Declarations Jane Roe"
    assert layout.blocks[1] == pdf.Address(("Jane Roe", "1 Main St"))
    assert clean({"a": [value]}) == {"a": ["Jane Roe"]}


def test_check_templates_draws_each_kind_from_its_template(tmp_path: Path) -> None:
    from pd_prime_demo.documents.context import check_templates
    from pd_prime_demo.documents.sample import SAMPLE_TEMPLATE, sample_facts

    (tmp_path / "declarations.yaml").write_text(SAMPLE_TEMPLATE)
    drawn = check_templates(
        {"declarations": sample_facts()}, product_code="personal_auto", templates_dir=tmp_path
    )
    assert list(drawn) == ["declarations"]
    assert drawn["declarations"].startswith(b"%PDF-")
    with pytest.raises(TemplateError, match="policy_number"):
        check_templates({"declarations": {}}, templates_dir=tmp_path)
