"""The legacy layouts (documents recorded before templates) and the drawing of blocks: what
the page says, byte-for-byte determinism, wrapping, page breaks."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from pypdf import PdfReader

from pd_prime_demo.documents import fonts, pdf
from pd_prime_demo.documents.service import (
    CancellationLine,
    CoverageLine,
    Declarations,
    Invoice,
    MailingLabel,
    declarations_layout,
    invoice_layout,
)

ISSUED = datetime(2027, 3, 1, 15, 30, tzinfo=UTC)


def _cancelled(coverage_names: dict[str, str] | None = None) -> Declarations:
    names = coverage_names or {"bi": "Bodily injury liability", "comp": "Comprehensive"}
    return Declarations(
        policy_id=uuid.uuid4(),
        policy_number="PA-TX-0000042",
        product_name="Personal Auto",
        state="TX",
        rate_version="2026.1",
        transaction_id=uuid.uuid4(),
        seq=3,
        kind="cancellation",
        effective_on=date(2027, 3, 1),
        reason_code="insured_request",
        issued_at=ISSUED,
        term_start=date(2027, 1, 1),
        term_end=date(2027, 7, 1),
        status="cancelled",
        customer_id=uuid.uuid4(),
        payment_plan="monthly",
        coverages=(
            CoverageLine(names["bi"], "100/300", None, Decimal("600.00")),
            CoverageLine(names["comp"], None, "500", Decimal("225.00")),
        ),
        term_premium=Decimal("825.00"),
        fees=Decimal("25.00"),
        taxes=Decimal("0.00"),
        premium_change=Decimal("-412.50"),
        fees_change=Decimal("0"),
        taxes_change=Decimal("0"),
        cancellation=CancellationLine(date(2027, 3, 1), "short_rate", Decimal("412.50")),
    )


def _text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return " ".join(" ".join(page.extract_text().split()) for page in reader.pages)


def _declarations(name: str, coverage_names: dict[str, str] | None = None) -> bytes:
    insured = MailingLabel(name, "1 Main St, Austin, TX 78701")
    return pdf.render(declarations_layout(_cancelled(coverage_names), insured), issued_at=ISSUED)


def test_declarations_state_the_policy_its_coverages_and_the_cancellation() -> None:
    text = _text(_declarations("Jane Roe"))
    for expected in (
        "Policy declarations",
        "PA-TX-0000042",
        "Personal Auto (TX)",
        "#3 cancellation, effective 2027-03-01 (insured request)",
        "Jane Roe",
        "1 Main St, Austin, TX 78701",
        "Bodily injury liability 100/300 - $600.00",
        "Comprehensive - 500 $225.00",
        "Term premium $825.00",
        "premium -$412.50",
        "short rate",
        "return premium $412.50",
        "Issued 2027-03-01",
    ):
        assert expected in text, expected


def test_rendering_is_deterministic() -> None:
    assert _declarations("Jane Roe") == _declarations("Jane Roe")


def test_names_outside_latin_1_print_as_written_on_legacy_documents_too() -> None:
    assert "Łukasz Nguyễn Жуков" in _text(_declarations("Łukasz Nguyễn Жуков"))


def test_a_cell_too_long_for_its_column_wraps_instead_of_overflowing() -> None:
    long_name = "Uninsured and underinsured motorist bodily injury, stacked across vehicles"
    text = _text(_declarations("Jane Roe", {"bi": long_name, "comp": "Comprehensive"}))
    assert "stacked across vehicles" in text
    assert "$600.00" in text


def test_invoice_states_amounts_due() -> None:
    invoice = Invoice(
        policy_id=uuid.uuid4(),
        policy_number="PA-TX-0000042",
        product_code="personal_auto",
        state="TX",
        installment_id=uuid.uuid4(),
        invoice_number="INV-0000007",
        invoiced_on=date(2027, 1, 15),
        due_on=date(2027, 2, 1),
        seq=2,
        term_start=date(2027, 1, 1),
        amount=Decimal("137.50"),
        fee=Decimal("5.00"),
        balance=Decimal("280.00"),
    )
    text = _text(pdf.render(invoice_layout(invoice), issued_at=ISSUED))
    for expected in (
        "Invoice INV-0000007",
        "Due 2027-02-01",
        "Installment 2 of the term starting 2027-01-01 $137.50",
        "Installment fee $5.00",
        "Amount due $142.50",
        "$280.00",
    ):
        assert expected in text, expected


def _fonts_of_text(content: bytes) -> dict[str, set[str]]:
    """Each drawn word and the base fonts it was drawn in."""
    fonts: dict[str, set[str]] = {}

    def visit(text: str, _cm: object, _tm: object, font: object, _size: object) -> None:
        name = str(font.get("/BaseFont", "")) if isinstance(font, dict) else ""
        for word in text.split():
            fonts.setdefault(word, set()).add(name)

    for page in PdfReader(io.BytesIO(content)).pages:
        page.extract_text(visitor_text=visit)
    return fonts


def test_a_value_longer_than_a_line_wraps_in_the_regular_font_after_its_bold_label() -> None:
    long_value = " ".join(f"word{i}" for i in range(60))
    layout = pdf.Layout(
        "Fields", (pdf.Fields((("Short", "one"), ("Remarks", long_value), ("After", "two"))),)
    )
    content = pdf.render(layout, issued_at=ISSUED)
    assert "Remarks " + long_value in " ".join(_text(content).split())
    fonts = _fonts_of_text(content)
    assert fonts["Remarks"] == {"/MPDFAA+NotoSansBold"}
    assert fonts["word0"] == fonts["word59"] == fonts["two"] == {"/MPDFAA+NotoSans"}


def test_a_long_table_continues_on_the_next_page() -> None:
    rows = tuple((f"row{i}", f"{i}.00") for i in range(80))
    layout = pdf.Layout(
        "Rows", (pdf.Table((pdf.Column("Item", 0.7), pdf.Column("Amount", 0.3, "R")), rows),)
    )
    reader = PdfReader(io.BytesIO(pdf.render(layout, issued_at=ISSUED)))
    assert len(reader.pages) >= 2
    text = " ".join(page.extract_text() for page in reader.pages)
    assert all(f"row{i} {i}.00" in text for i in range(80))


def test_string_widths_from_the_font_metrics_equal_fpdf2s_own() -> None:
    """Layout uses pdf.width (fast) where fpdf2 would use get_string_width: they must agree,
    or boxes, wrapping and right alignment drift (an fpdf2 upgrade would show it here)."""
    font_set = fonts.fonts()
    page = fonts.DocumentPDF(font_set)
    fonts.register(page, "noto", "", font_set.primary.regular)
    assert font_set.primary.bold is not None
    fonts.register(page, "noto", "B", font_set.primary.bold)
    page.add_page()
    for style, size in (("", 10), ("B", 10), ("B", 16)):
        page.set_font("noto", style, size)
        for text in ("", "Bodily injury liability", "$1,234,567.89", "Zoë Brontë Łukasz Жуков"):
            assert pdf.width(page, text) == pytest.approx(page.get_string_width(text), abs=1e-9)
