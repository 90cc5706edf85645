"""Pages as a carrier sets them: every page's footer names the carrier, the document and
"Page n of N"; a heading or a table's header row never ends a page; a table continued on a
new page starts it with its header row. Checked on the extracted text of a 20-vehicle
declarations-like layout, with the page breaks swept across every position."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pypdf import PdfReader

from pd_prime_demo.documents import pdf
from pd_prime_demo.documents.context import SAMPLE_INSURED, Carrier, render_layout

ISSUED = datetime(2027, 3, 1, 15, 30, tzinfo=UTC)
SAMPLES = Path(pdf.__file__).parent / "samples"
SAMPLE_FACTS = json.loads((SAMPLES / "personal_auto__declarations.json").read_text())
CARRIER = "Lone Star Mutual Insurance Company"
TITLE = "Declarations PA-TX-0000042"

VEHICLES = pdf.Table(
    (
        pdf.Column("No.", 0.08),
        pdf.Column("Year, make and model", 0.42),
        pdf.Column("VIN", 0.32),
        pdf.Column("Premium", 0.18, "R"),
    ),
    tuple(
        (str(i), f"{2010 + i} Toyota Camry", f"4T1BF1FK5CU1234{i:02d}", f"${400 + i}.50")
        for i in range(1, 21)
    ),
    (("", "Vehicles total", "", "$8,210.00"),),
)
COVERAGES = pdf.Table(
    (pdf.Column("Coverage", 0.5), pdf.Column("Limit", 0.3), pdf.Column("Premium", 0.2, "R")),
    tuple(
        (f"Coverage {i} on vehicle {v}", "$50,000", f"${i}{v}.00")
        for v in (1, 2)
        for i in range(1, 13)
    ),
    (("Total term premium", "", "$9,999.00"),),
)
TABLES = (VEHICLES, COVERAGES)
HEADINGS = ("Vehicles", "Coverages", "Forms and endorsements")


def _layout(gap: float) -> pdf.Layout:
    return pdf.Layout(
        TITLE,
        (
            pdf.Letterhead(CARRIER, ("NAIC 12345", "1 Main St, Austin, TX 78701")),
            pdf.Address(("Jane Roe", "1 Main St", "Austin, TX 78701")),
            pdf.Heading("Policy declarations"),
            pdf.Fields((("Policy number", "PA-TX-0000042"), ("Issued", "March 1, 2027"))),
            pdf.Spacer(gap),
            pdf.Heading("Vehicles", 13),
            VEHICLES,
            pdf.Heading("Coverages", 13),
            COVERAGES,
            pdf.Heading("Forms and endorsements", 13),
            *(pdf.Paragraph(f"PP 00 {i:02d} (09 18) Endorsement {i}") for i in range(1, 9)),
        ),
        issuer=CARRIER,
    )


def _pages(content: bytes) -> list[list[str]]:
    reader = PdfReader(io.BytesIO(content))
    return [
        [" ".join(line.split()) for line in page.extract_text().splitlines() if line.strip()]
        for page in reader.pages
    ]


def _line(cells: tuple[str, ...]) -> str:
    return " ".join(c for c in cells if c)


HEADER_ROWS = {_line(tuple(c.title for c in t.columns)) for t in TABLES}
BODY_ROWS = {_line(r): t for t in TABLES for r in (*t.rows, *t.footer)}
FOOTER = re.compile(rf"^{re.escape(CARRIER)} · {re.escape(TITLE)} Page (\d+) of (\d+)$")


def _check(pages: list[list[str]]) -> None:
    total = len(pages)
    for number, lines in enumerate(pages, start=1):
        footer = FOOTER.match(lines[-1])
        assert footer, (number, lines[-1])
        assert (int(footer[1]), int(footer[2])) == (number, total)
        last = lines[-2]
        assert last not in HEADINGS, (number, last)
        assert last not in HEADER_ROWS, (number, last)
        if number > 1 and lines[0] in BODY_ROWS:
            raise AssertionError(f"page {number} continues a table without its header row")
        for index, line in enumerate(lines[:-1]):  # a continued table: its header row first
            if line in HEADER_ROWS:
                assert index == 0 or lines[index - 1] in HEADINGS, (number, index, line)


@pytest.mark.parametrize("gap", range(0, 240, 6))
def test_every_page_is_numbered_and_never_ends_with_a_heading_or_a_header_row(gap: int) -> None:
    pages = _pages(pdf.render(_layout(gap), issued_at=ISSUED))
    assert len(pages) >= 2
    _check(pages)
    # every row of every table is on some page, once
    drawn = [line for lines in pages for line in lines if line in BODY_ROWS]
    assert sorted(drawn) == sorted(BODY_ROWS)


def test_a_continued_table_repeats_its_header_and_the_numbers_are_stable() -> None:
    layout = _layout(24)
    first = pdf.render(layout, issued_at=ISSUED)
    assert pdf.render(layout, issued_at=ISSUED) == first  # deterministic
    pages = _pages(first)
    continued = [lines[0] for lines in pages[1:] if lines[0] in HEADER_ROWS]
    assert continued, "the layout is meant to continue a table on a new page"


def test_the_carrier_is_the_author_and_pd_prime_the_producer() -> None:
    metadata = PdfReader(io.BytesIO(pdf.render(_layout(0), issued_at=ISSUED))).metadata
    assert metadata is not None
    assert (metadata.author, metadata.producer, metadata.title) == (CARRIER, "PD Prime", TITLE)
    # a template's page: the carrier of the envelope
    carrier = Carrier(name="Łódź Mutual", naic="12345", address=("1 Main St",))
    layout, _ = render_layout(
        "declarations", "personal_auto", SAMPLE_FACTS, SAMPLE_INSURED, carrier, ISSUED
    )
    drawn = PdfReader(io.BytesIO(pdf.render(layout, issued_at=ISSUED)))
    assert drawn.metadata is not None
    assert drawn.metadata.author == "Łódź Mutual"
    assert drawn.pages[-1].extract_text().splitlines()[-1].startswith("Łódź Mutual · ")


def test_tall_rows_of_any_script_break_between_rows_with_the_header_repeated() -> None:
    """Rows that wrap (a long name, an Arabic one) are drawn whole on one page."""
    names = ["X" * 110, "محمد بن عبد الله العلي " * 4] * 12
    drivers = pdf.Table(
        (pdf.Column("No.", 0.08), pdf.Column("Driver", 0.6), pdf.Column("Age", 0.32, "R")),
        tuple((str(i + 1), name, "42") for i, name in enumerate(names)),
    )
    layout = pdf.Layout(TITLE, (pdf.Heading("Drivers", 13), drivers), issuer=CARRIER)
    pages = _pages(pdf.render(layout, issued_at=ISSUED))
    assert len(pages) >= 2
    for number, lines in enumerate(pages, start=1):
        assert lines[-1].endswith(f"Page {number} of {len(pages)}")
        if number > 1:
            assert lines[0] == "No. Driver Age"
    assert pages[0][:2] == ["Drivers", "No. Driver Age"]


def test_a_one_page_document_says_page_1_of_1_and_legacy_layouts_have_no_carrier() -> None:
    layout = pdf.Layout("Invoice 7", (pdf.Paragraph("Amount due $10.00"),))
    lines = _pages(pdf.render(layout, issued_at=ISSUED))
    assert lines == [["Amount due $10.00", "Invoice 7 Page 1 of 1"]]
