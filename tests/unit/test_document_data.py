"""Data is data: whatever a name or a fact holds prints as written, inside its block, and is
never evaluated; a page is not blank. Through the whole path (template, layout, PDF, text
layer, pixels)."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pypdfium2  # type: ignore[import-untyped]
import pytest
from pypdf import PdfReader

from pd_prime_demo.core.config import Settings
from pd_prime_demo.documents import pdf
from pd_prime_demo.documents.context import Carrier, Insured, context
from pd_prime_demo.documents.sample import SAMPLE_TEMPLATE, sample_facts
from pd_prime_demo.documents.templates import compile_source

ISSUED = datetime(2027, 3, 1, 15, 30, tzinfo=UTC)
CARRIER = Carrier.from_settings(Settings())
TEMPLATE = compile_source("sample.yaml", SAMPLE_TEMPLATE.encode())


def _render(name: str, facts: dict[str, Any] | None = None) -> bytes:
    insured = Insured(name=name, address_lines=("1 Main St", "Austin, TX 78701"))
    layout = TEMPLATE.layout(context(facts or sample_facts(), insured, CARRIER, ISSUED))
    return pdf.render(layout, issued_at=ISSUED)


def _text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return "\n".join(page.extract_text() for page in reader.pages)


@pytest.mark.parametrize(
    "value",
    [
        "{{ 7*7 }}",
        "{% for x in range(3) %}x{% endfor %}",
        "<b>bold</b> &amp; <script>alert(1)</script>",
        "**bold** _italic_ [link](http://x)",
        "{{ ''.__class__.__mro__ }}",
    ],
)
def test_an_injected_name_or_fact_prints_literally(value: str) -> None:
    facts = sample_facts()
    facts["vehicles"][0]["description"] = value
    text = _text(_render(value, facts))
    assert text.splitlines()[5] == value  # the address block's first line, as written
    assert f"Named insured {value}" in text
    assert value in text  # the vehicle row
    assert text.count(value) == 4  # address, named insured, vehicle, coupon: as written


def test_a_newline_in_a_name_does_not_add_a_line_to_the_address() -> None:
    lines = _text(_render("Jane Roe\nPolicy number PA-FAKE-1")).splitlines()
    assert lines[5] == "Jane Roe Policy number PA-FAKE-1"
    assert lines[6] == "1 Main St"


def test_a_very_long_name_wraps_inside_its_blocks_and_every_character_prints() -> None:
    long_name = "Maximiliana " + "Wolfeschlegelsteinhausenbergerdorff" * 6 + " Roe"
    content = _render(long_name)
    joined = "".join(_text(content).split())
    assert "".join(long_name.split()) in joined  # wrapped (and broken mid-word), none lost
    for page in PdfReader(io.BytesIO(content)).pages:  # nothing drawn past the page edges

        def inside(
            _t: str, _cm: object, tm: list[float], _f: object, _s: object, right: float = 612
        ) -> None:
            assert 0 <= tm[4] <= right

        page.extract_text(visitor_text=inside)


def test_a_coupon_never_splits_across_pages() -> None:
    facts = sample_facts(vehicles=4, coverages=8)
    facts["forms"] = facts["forms"] * 6  # pushes the coupon to the foot of the first page
    reader = PdfReader(io.BytesIO(_render("Jane Roe", facts)))
    pages = [page.extract_text() for page in reader.pages]
    coupon = [i for i, text in enumerate(pages) if "Payment coupon" in text]
    assert len(coupon) == 1
    page = pages[coupon[0]]
    assert "Detach and return" in page
    assert "Remit to" in page
    assert "Austin, TX 78767-1000" in page
    assert "$252.00" in page


def test_a_page_renders_to_pixels_that_are_not_blank(tmp_path: Path) -> None:
    """A reviewer can look at the PNG in the test's directory; here, the text area must hold
    dark pixels (text) and the margins must not (nothing drawn off the page's layout)."""
    content = _render("Łukasz Żółć")
    document = pypdfium2.PdfDocument(content)
    image = document[0].render(scale=1).to_pil().convert("L")
    image.save(tmp_path / "declarations.png")
    width, height = image.size  # 612 x 792 at 72 dpi
    text_area = image.crop((30, 30, width - 30, height // 2))
    dark = sum(text_area.histogram()[:128])
    assert dark > 2000
    right_margin = image.crop((width - 20, 0, width, height))
    assert sum(right_margin.histogram()[:201]) == 0
