"""Document layouts and their rendering to PDF with fpdf2's drawing primitives.

A document is a :class:`Layout`: a title and a sequence of blocks (headings, label/value lines,
tables, paragraphs). The declarations page and the invoice are layouts filled from the record
(see ``documents.service``); this module draws any layout. Drawing cells directly is about six
times faster than fpdf2's HTML renderer, which used to be most of a bind's CPU time.

Text uses the PDF core fonts, which cover Latin-1. Any other character (a name in Polish,
Vietnamese or Cyrillic, say) is transliterated to ASCII with ``anyascii`` rather than making the
page impossible to issue; embedding a Unicode font costs about 40 ms a page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from anyascii import anyascii
from fpdf import FPDF

Align = Literal["L", "R"]

_FONT = "Helvetica"
_LINE = 6.0  # mm, body text line height
_ROW = 7.0  # mm, table row height


@dataclass(frozen=True, slots=True)
class Heading:
    text: str
    size: int = 16


@dataclass(frozen=True, slots=True)
class Fields:
    """Bold labels followed by their values, flowing onto as many lines as needed."""

    items: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Column:
    title: str
    share: float  # of the text width
    align: Align = "L"


@dataclass(frozen=True, slots=True)
class Table:
    columns: tuple[Column, ...]
    rows: tuple[tuple[str, ...], ...]
    bold_last_row: bool = False


@dataclass(frozen=True, slots=True)
class Paragraph:
    text: str


Block = Heading | Fields | Table | Paragraph


@dataclass(frozen=True, slots=True)
class Layout:
    title: str
    blocks: tuple[Block, ...]


def printable(text: str) -> str:
    """``text`` in the core fonts' Latin-1, transliterating only what falls outside it."""
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return "".join(ch if ord(ch) < 256 else anyascii(ch) for ch in text)
    return text


def render(layout: Layout, *, issued_at: datetime) -> bytes:
    """Deterministic: the same layout and issue time always give the same bytes (and hash)."""
    pdf = FPDF(format="Letter")
    pdf.set_creation_date(issued_at)
    pdf.set_title(printable(layout.title))
    pdf.set_author("PD Prime")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    for block in layout.blocks:
        match block:
            case Heading():
                pdf.set_font(_FONT, "B", block.size)
                _line(pdf, printable(block.text), block.size * 0.5)
                pdf.ln(2)
            case Fields():
                _fields(pdf, block)
            case Table():
                _table(pdf, block)
            case Paragraph():
                pdf.set_font(_FONT, "", 10)
                _line(pdf, printable(block.text), _LINE)
                pdf.ln(1)
    return bytes(pdf.output())


def _line(pdf: FPDF, text: str, height: float) -> None:
    """One line of text, wrapped only when it is too long (line breaking is the slow path)."""
    if pdf.get_string_width(text) <= pdf.epw - 2 * pdf.c_margin:
        pdf.cell(0, height, text, new_x="LMARGIN", new_y="NEXT")
    else:
        pdf.multi_cell(0, height, text)


def _fields(pdf: FPDF, block: Fields) -> None:
    right = pdf.w - pdf.r_margin
    for label, value in block.items:
        label, value = printable(label) + " ", printable(value) + "    "
        pdf.set_font(_FONT, "B", 10)
        label_width = pdf.get_string_width(label)
        pdf.set_font(_FONT, "", 10)
        value_width = pdf.get_string_width(value)
        if pdf.get_x() > pdf.l_margin and pdf.get_x() + label_width + value_width > right:
            pdf.ln(_LINE)
        pdf.set_font(_FONT, "B", 10)
        pdf.cell(label_width, _LINE, label)
        pdf.set_font(_FONT, "", 10)
        if pdf.get_x() + value_width > right:  # longer than a line: wrap it
            pdf.multi_cell(0, _LINE, value.rstrip())
            pdf.set_x(pdf.l_margin)
            continue
        pdf.cell(value_width, _LINE, value)
    pdf.ln(_LINE + 1)


def _table(pdf: FPDF, table: Table) -> None:
    width = pdf.w - pdf.l_margin - pdf.r_margin
    widths = [width * c.share for c in table.columns]
    _row(pdf, widths, [c.title for c in table.columns], "L" * len(widths), bold=True)
    aligns = "".join(c.align for c in table.columns)
    for i, cells in enumerate(table.rows):
        last = i == len(table.rows) - 1
        _row(pdf, widths, list(cells), aligns, bold=last and table.bold_last_row)
    pdf.ln(2)


def _row(pdf: FPDF, widths: list[float], cells: list[str], aligns: str, *, bold: bool) -> None:
    pdf.set_font(_FONT, "B" if bold else "", 10)
    texts = [printable(c) for c in cells]
    padding = 2 * pdf.c_margin
    if all(pdf.get_string_width(t) + padding <= w for t, w in zip(texts, widths, strict=True)):
        for text, w, align in zip(texts, widths, aligns, strict=True):
            pdf.cell(w, _ROW, text, border=1, align=align)
        pdf.ln(_ROW)
        return
    # Some cell needs more than one line: every cell of the row takes the tallest one's height.
    # (A table spans the text width; ``widths`` are the same proportions of it.)
    with pdf.table(
        col_widths=widths,
        text_align=tuple(aligns),
        first_row_as_headings=False,
        line_height=_ROW - 1,
    ) as grid:
        grid.row(texts)
