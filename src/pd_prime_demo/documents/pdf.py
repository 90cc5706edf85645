"""Document layouts and their rendering to PDF with fpdf2's drawing primitives.

A document is a :class:`Layout`: a title and a sequence of blocks (the carrier's letterhead,
the address in the envelope window, headings, label/value lines, tables, paragraphs, a payment
coupon). Templates (``documents.templates``) and the legacy layouts produce layouts; this module
draws any layout, as plain text: nothing in a string is interpreted (no markup, no markdown), a
newline starts a new line.

Drawing cells directly is about six times faster than fpdf2's HTML renderer, which used to be
most of a bind's CPU time.

Text uses the PDF core fonts, which cover Latin-1. Any other character (a name in Polish,
Vietnamese or Cyrillic, say) is transliterated to ASCII with ``anyascii`` rather than making the
page impossible to issue.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from anyascii import anyascii
from fpdf import FPDF
from fpdf.fonts import CoreFont

Align = Literal["L", "R", "C"]

_FONT = "Helvetica"
_LINE = 6.0  # mm, body text line height
_ROW = 7.0  # mm, table row height
_SMALL = 5.0  # mm, letterhead and coupon line height


@dataclass(frozen=True, slots=True)
class Letterhead:
    """The carrier: its name, then its NAIC number, address and contact lines."""

    name: str
    lines: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Address:
    """A recipient's name and address, placed where a window envelope shows it."""

    lines: tuple[str, ...]


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
    footer: tuple[tuple[str, ...], ...] = ()  # bold rows after the rows (totals)


@dataclass(frozen=True, slots=True)
class Paragraph:
    text: str


@dataclass(frozen=True, slots=True)
class Coupon:
    """The part of the page the recipient cuts off and mails back with the payment."""

    heading: str
    fields: tuple[tuple[str, str], ...]
    address: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Spacer:
    height: float  # mm


@dataclass(frozen=True, slots=True)
class Rule:
    pass


Block = Letterhead | Address | Heading | Fields | Table | Paragraph | Coupon | Spacer | Rule


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
        draw(pdf, block)
    return bytes(pdf.output())


def draw(pdf: FPDF, block: Block) -> None:
    match block:
        case Letterhead():
            _letterhead(pdf, block)
        case Address():
            _address(pdf, block)
        case Heading():
            pdf.set_font(_FONT, "B", block.size)
            _lines(pdf, block.text, block.size * 0.5)
            pdf.ln(2)
        case Fields():
            _fields(pdf, block.items)
        case Table():
            _table(pdf, block)
        case Paragraph():
            pdf.set_font(_FONT, "", 10)
            _lines(pdf, block.text, _LINE)
            pdf.ln(1)
        case Coupon():
            _coupon(pdf, block)
        case Spacer():
            pdf.ln(block.height)
        case Rule():
            _room_for(pdf, 3)
            pdf.line(pdf.l_margin, pdf.y + 1.5, pdf.w - pdf.r_margin, pdf.y + 1.5)
            pdf.ln(3)


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
    text = printable(text)
    if align == "R":
        x += w - pdf.c_margin - width(pdf, text)
    elif align == "C":
        x += (w - width(pdf, text)) / 2
    else:
        x += pdf.c_margin
    pdf.text(x, y + 0.5 * h + 0.3 * pdf.font_size, text)


def _room_for(pdf: FPDF, height: float) -> None:
    """A new page if ``height`` more would cross the bottom margin (``cell`` does this itself)."""
    if pdf.will_page_break(height):
        pdf.add_page()


def _lines(pdf: FPDF, text: str, height: float, x: float | None = None) -> None:
    """Each line of ``text``, wrapped only when it is too long (line breaking is the slow
    path), from ``x`` (the left margin by default) to the right margin."""
    left = pdf.l_margin if x is None else x
    room = pdf.w - pdf.r_margin - left
    for line in text.split("\n"):
        line = printable(line)
        if width(pdf, line) <= room - 2 * pdf.c_margin:
            _room_for(pdf, height)
            _place(pdf, left, pdf.y, room, height, line, "L")
            pdf.ln(height)
        else:
            pdf.set_x(left)
            pdf.multi_cell(room, height, line)
    pdf.set_x(pdf.l_margin)


def _letterhead(pdf: FPDF, block: Letterhead) -> None:
    pdf.set_font(_FONT, "B", 14)
    _lines(pdf, block.name, 7)
    pdf.set_font(_FONT, "", 8.5)
    _lines(pdf, "\n".join(block.lines), 4)
    pdf.ln(2)


def _address(pdf: FPDF, block: Address) -> None:
    """In a #10 window envelope's window when the letter is folded in three: about 2 inches
    from the top of the first page and 7/8 inch from its left edge."""
    if pdf.page == 1 and pdf.y < 50:
        pdf.set_y(50)
    pdf.set_font(_FONT, "", 10)
    _lines(pdf, "\n".join(block.lines), 5, x=max(pdf.l_margin, 22 - pdf.c_margin))
    pdf.ln(6)


def _fields(pdf: FPDF, pairs: tuple[tuple[str, str], ...], *, left: float | None = None) -> None:
    """Label/value pairs flowing left to right, drawn in reading order (text extraction and
    screen readers follow the order of drawing, not the positions)."""
    start = pdf.l_margin if left is None else left
    right = pdf.w - pdf.r_margin
    items = [(printable(label) + " ", printable(value) + "    ") for label, value in pairs]
    pdf.set_font(_FONT, "B", 10)
    label_widths = [width(pdf, label) for label, _ in items]
    pdf.set_font(_FONT, "", 10)
    value_widths = [width(pdf, value) for _, value in items]
    line: list[tuple[float, str, float, str]] = []  # label x, label, value x, value
    x = start

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
        if x > start and x + label_width + value_width > right:
            flush()
            pdf.ln(_LINE)
            x = start
        if x + label_width + value_width > right or "\n" in value:  # wrap the value
            line.append((x, label, x + label_width, ""))
            flush()
            pdf.set_font(_FONT, "", 10)
            _lines(pdf, value.rstrip(), _LINE, x=x + label_width)
            pdf.set_y(pdf.y - _LINE)
            x = right  # the next pair starts a new line
            continue
        line.append((x, label, x + label_width, value))
        x += label_width + value_width
    flush()
    pdf.ln(_LINE + 1)
    pdf.set_x(pdf.l_margin)


def _table(pdf: FPDF, table: Table) -> None:
    text_width = pdf.w - pdf.l_margin - pdf.r_margin
    widths = [text_width * c.share for c in table.columns]
    _row(pdf, widths, [c.title for c in table.columns], "L" * len(widths), bold=True)
    aligns = "".join(c.align for c in table.columns)
    for cells in table.rows:
        _row(pdf, widths, list(cells), aligns, bold=False)
    for cells in table.footer:
        _row(pdf, widths, list(cells), aligns, bold=True)
    pdf.ln(2)


def _row(pdf: FPDF, widths: list[float], cells: list[str], aligns: str, *, bold: bool) -> None:
    pdf.set_font(_FONT, "B" if bold else "", 10)
    texts = [printable(c) for c in cells] + [""] * (len(widths) - len(cells))
    padding = 2 * pdf.c_margin
    if all(
        "\n" not in t and width(pdf, t) + padding <= w for t, w in zip(texts, widths, strict=True)
    ):
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


def _coupon(pdf: FPDF, coupon: Coupon) -> None:
    """A dashed cut line with its caption, then the boxed coupon: the payment's fields on the
    left, the remit-to address on the right. Never split across pages: when it does not fit
    on this one it starts the next."""
    rows = max(len(coupon.fields), len(coupon.address) + 1)
    box = 4 + _LINE + rows * _SMALL + 4
    _room_for(pdf, 10 + box)
    left, right = pdf.l_margin, pdf.w - pdf.r_margin
    y = pdf.y + 3
    pdf.set_dash_pattern(dash=2, gap=1.5)
    pdf.line(left, y, right, y)
    pdf.set_dash_pattern()
    pdf.set_font(_FONT, "", 7.5)
    caption = "Detach and return this part with your payment"
    _place(pdf, left, y + 0.5, right - left, 4, caption, "C")
    top = y + 6
    pdf.rect(left, top, right - left, box)
    pdf.set_xy(left + 2, top + 2)
    pdf.set_font(_FONT, "B", 11)
    _place(pdf, left + 2, pdf.y, 0, _LINE, coupon.heading, "L")
    middle = left + (right - left) * 0.58
    y = top + 2 + _LINE
    for label, value in coupon.fields:
        pdf.set_font(_FONT, "B", 9)
        _place(pdf, left + 2, y, 0, _SMALL, label, "L")
        pdf.set_font(_FONT, "", 9)
        _place(pdf, left + 40, y, 0, _SMALL, value, "L")
        y += _SMALL
    y = top + 2 + _LINE
    if coupon.address:
        pdf.set_font(_FONT, "B", 9)
        _place(pdf, middle, y, 0, _SMALL, "Remit to", "L")
        pdf.set_font(_FONT, "", 9)
        for line in coupon.address:
            y += _SMALL
            _place(pdf, middle, y, 0, _SMALL, line, "L")
    pdf.set_xy(left, top + box + 2)
