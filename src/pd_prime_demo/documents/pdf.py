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
from fpdf.fonts import CoreFont

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


def width(pdf: FPDF, text: str) -> float:
    """``pdf.get_string_width(text)`` for the core fonts (Latin-1 text, no character spacing
    or stretching), from the font's metrics: the general method splits the text into styled
    fragments first and costs about seven times as much. A test holds the two equal."""
    font = pdf.current_font
    assert isinstance(font, CoreFont)
    return font.get_text_width(text, pdf.font_size_pt, None)[1] / pdf.k


def _place(pdf: FPDF, x: float, y: float, w: float, h: float, text: str, align: Align) -> None:
    """``text`` where ``cell(w, h, text, align=align)`` at (x, y) would put it, through
    fpdf2's plain ``text`` primitive. ``cell`` is a general text layouter (styled fragments,
    markdown, shaping, links) and costs about ten times as much per string; a page is mostly
    short strings in known boxes, so the boxes are computed here and the strings placed."""
    if align == "R":
        x += w - pdf.c_margin - width(pdf, text)
    else:
        x += pdf.c_margin
    pdf.text(x, y + 0.5 * h + 0.3 * pdf.font_size, text)


def _room_for(pdf: FPDF, height: float) -> None:
    """A new page if ``height`` more would cross the bottom margin (``cell`` does this itself)."""
    if pdf.will_page_break(height):
        pdf.add_page()


def _line(pdf: FPDF, text: str, height: float) -> None:
    """One line of text, wrapped only when it is too long (line breaking is the slow path)."""
    if width(pdf, text) <= pdf.epw - 2 * pdf.c_margin:
        _room_for(pdf, height)
        _place(pdf, pdf.l_margin, pdf.y, pdf.epw, height, text, "L")
        pdf.ln(height)
    else:
        pdf.multi_cell(0, height, text)


def _fields(pdf: FPDF, block: Fields) -> None:
    """Label/value pairs flowing left to right, drawn in reading order (text extraction and
    screen readers follow the order of drawing, not the positions)."""
    right = pdf.w - pdf.r_margin
    items = [(printable(label) + " ", printable(value) + "    ") for label, value in block.items]
    pdf.set_font(_FONT, "B", 10)
    label_widths = [width(pdf, label) for label, _ in items]
    pdf.set_font(_FONT, "", 10)
    value_widths = [width(pdf, value) for _, value in items]
    line: list[tuple[float, str, float, str]] = []  # label x, label, value x, value
    x = pdf.l_margin

    def flush() -> None:
        if line:
            _room_for(pdf, _LINE)
            for label_x, label, value_x, value in line:
                pdf.set_font(_FONT, "B", 10)
                _place(pdf, label_x, pdf.y, 0, _LINE, label, "L")
                if value:
                    pdf.set_font(_FONT, "", 10)
                    _place(pdf, value_x, pdf.y, 0, _LINE, value, "L")
            line.clear()

    for (label, value), label_width, value_width in zip(
        items, label_widths, value_widths, strict=True
    ):
        if x > pdf.l_margin and x + label_width + value_width > right:
            flush()
            pdf.ln(_LINE)
            x = pdf.l_margin
        if x + label_width + value_width > right:  # longer than a line: wrap the value
            line.append((x, label, x + label_width, ""))
            flush()
            pdf.set_font(_FONT, "", 10)
            pdf.set_x(x + label_width)
            pdf.multi_cell(0, _LINE, value.rstrip())
            pdf.set_x(pdf.l_margin)
            continue
        line.append((x, label, x + label_width, value))
        x += label_width + value_width
    flush()
    pdf.ln(_LINE + 1)


def _table(pdf: FPDF, table: Table) -> None:
    text_width = pdf.w - pdf.l_margin - pdf.r_margin
    widths = [text_width * c.share for c in table.columns]
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
    if all(width(pdf, t) + padding <= w for t, w in zip(texts, widths, strict=True)):
        _room_for(pdf, _ROW)
        x, y = pdf.l_margin, pdf.y
        for text, w, align in zip(texts, widths, aligns, strict=True):
            pdf.rect(x, y, w, _ROW)
            _place(pdf, x, y, w, _ROW, text, "R" if align == "R" else "L")
            x += w
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
