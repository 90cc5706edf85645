"""Drawing a :class:`Layout` to PDF with fpdf2's primitives, in the documents' fonts.

Every string is plain text: nothing in it is interpreted (no markup, no markdown), a newline
starts a new line. Text is normalised to NFC, so an accented letter is one precomposed glyph.
Strings are placed and measured by ``documents.text``.

Pages are set as a carrier's are: every page ends with a footer naming the carrier, the
document (its title) and "Page n of N", the first page too, so that a page separated from the
rest (a photocopy, page 3 of a fax) still says whose it is, what it belongs to and whether any
is missing, and "Page 1 of 1" says nothing is (the top of the first page is the letterhead's
and the envelope window's). Pages break only between lines: a heading is kept with the first
line of what follows it, a table's header row with its first row, and a table continued on a
new page repeats its header row there.

Deterministic: the same layout, fonts and issue time give the same bytes (fpdf2's subset
prefix is fixed and its file ID hashes the content and the creation date; page numbers are
written once the page count is known, not through fpdf2's ``{nb}`` placeholder).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import cast

from pd_prime_demo.documents import fonts
from pd_prime_demo.documents.blocks import (
    Address,
    Align,
    Block,
    Column,
    Coupon,
    Fields,
    Heading,
    Layout,
    Letterhead,
    Paragraph,
    Rule,
    Spacer,
    Table,
    strings,
)
from pd_prime_demo.documents.text import (
    FONT,
    LINE,
    ROW,
    SMALL,
    lines,
    nfc,
    place,
    room_for,
    split,
    width,
)

__all__ = [
    "Address",
    "Align",
    "Block",
    "Column",
    "Coupon",
    "Fields",
    "Heading",
    "Layout",
    "Letterhead",
    "Paragraph",
    "Rule",
    "Spacer",
    "Table",
    "render",
    "strings",
    "width",
]

_CELL_LINE = 5.0  # mm, a line inside a table cell that wraps
_FOOTER = 8.0  # mm, the footer's distance from the bottom edge (inside the 15 mm margin)
PRODUCER = "PD Prime"


class _Pages(fonts.DocumentPDF):
    """The document's PDF: a table being drawn sets ``continued`` (its header row), which a
    new page draws first."""

    def __init__(self, font_set: fonts.FontSet) -> None:
        super().__init__(font_set)
        self.continued: Callable[[], None] | None = None

    def header(self) -> None:
        if self.continued is not None:
            self.continued()


def render(layout: Layout, *, issued_at: datetime, font_set: fonts.FontSet | None = None) -> bytes:
    """The PDF of ``layout``; ``issued_at`` is its creation date."""
    chosen = font_set if font_set is not None else fonts.fonts()
    pdf = _Pages(chosen)
    pdf.set_creation_date(issued_at)
    pdf.set_title(nfc(layout.title))
    pdf.set_author(nfc(layout.issuer) if layout.issuer else PRODUCER)  # the carrier issues it
    pdf.set_producer(PRODUCER)
    chars = {ord(c) for text in strings(layout) for c in nfc(text)}
    primary, pdf.plain = chosen.primary_for(chars)
    assert primary.bold is not None  # the primary face has both weights (fonts.build)
    fonts.register(pdf, FONT, "", primary.regular)
    fonts.register(pdf, FONT, "B", primary.bold)
    needed = chosen.fallbacks_for(chars)
    for face in needed:
        fonts.register(pdf, face.family, "", face.regular)
        if face.bold is not None:
            fonts.register(pdf, face.family, "B", face.bold)
    if needed:
        pdf.set_fallback_fonts([face.family for face in needed], exact_match=False)
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    blocks = layout.blocks
    for index, block in enumerate(blocks):
        if isinstance(block, Heading) and index + 1 < len(blocks):
            room_for(pdf, _height(pdf, block) + _lead(pdf, blocks[index + 1]))
        draw(pdf, block)
    _footers(pdf, layout)
    return bytes(pdf.output())


def _footers(pdf: _Pages, layout: Layout) -> None:
    """Each page's footer, written when the page count is known (fpdf2 lets a document go
    back to an earlier page): the carrier and the title on the left, "Page n of N" right."""
    total = pdf.page
    pdf.set_auto_page_break(auto=False)
    left = " · ".join(nfc(s) for s in (layout.issuer, layout.title) if s.strip())
    room = pdf.w - pdf.l_margin - pdf.r_margin
    for number in range(1, total + 1):
        pdf.page = number
        y = pdf.h - _FOOTER - 4
        pdf.set_draw_color(160)
        pdf.line(pdf.l_margin, y - 0.5, pdf.w - pdf.r_margin, y - 0.5)
        pdf.set_draw_color(0)
        # fpdf2 writes a font change only when the font differs from the last one set, which
        # was on another page: forget it, so this page's stream selects the font itself.
        pdf.font_family = ""
        pdf.set_font(FONT, "", 8)
        numbers = f"Page {number} of {total}"
        place(pdf, pdf.l_margin, y, room * 0.75, 4, _fit(pdf, left, room * 0.75), "L")
        place(pdf, pdf.l_margin, y, room, 4, numbers, "R")
    pdf.page = total


def _fit(pdf: fonts.DocumentPDF, text: str, room: float) -> str:
    """``text``, cut with an ellipsis when longer than ``room`` (a carrier's long name)."""
    wrapped = split(pdf, text, room)
    return text if len(wrapped) <= 1 else wrapped[0].rstrip() + "..."


def draw(pdf: _Pages, block: Block) -> None:
    match block:
        case Letterhead():
            pdf.set_font(FONT, "B", 14)
            lines(pdf, block.name, 7)
            pdf.set_font(FONT, "", 8.5)
            lines(pdf, "\n".join(block.lines), 4)
            pdf.ln(2)
        case Address():
            _address(pdf, block)
        case Heading():
            pdf.set_font(FONT, "B", block.size)
            lines(pdf, block.text, block.size * 0.5)
            pdf.ln(2)
        case Fields():
            _fields(pdf, block.items)
        case Table():
            _table(pdf, block)
        case Paragraph():
            pdf.set_font(FONT, "", 10)
            lines(pdf, block.text, LINE)
            pdf.ln(1)
        case Coupon():
            _coupon(pdf, block)
        case Spacer():
            pdf.ln(block.height)
        case Rule():
            room_for(pdf, 3)
            pdf.line(pdf.l_margin, pdf.y + 1.5, pdf.w - pdf.r_margin, pdf.y + 1.5)
            pdf.ln(3)


def _room(pdf: fonts.DocumentPDF) -> float:
    return pdf.w - pdf.l_margin - pdf.r_margin


def _height(pdf: fonts.DocumentPDF, heading: Heading) -> float:
    """A heading's height as ``draw`` sets it."""
    pdf.set_font(FONT, "B", heading.size)
    count = sum(len(split(pdf, part, _room(pdf))) for part in nfc(heading.text).split("\n"))
    return count * heading.size * 0.5 + 2


def _lead(pdf: fonts.DocumentPDF, block: Block) -> float:
    """The height of the first line of ``block``: what a heading before it is kept with (for
    a table, its header row and first row; a coupon is never split, so all of it)."""
    match block:
        case Table():
            widths, _ = _grid(pdf, block)
            first = (*block.rows, *block.footer)[:1]
            header = _row_height(pdf, widths, [c.title for c in block.columns], bold=True)
            return header + sum(_row_height(pdf, widths, list(r), bold=False) for r in first)
        case Heading():
            return _height(pdf, block)
        case Coupon():
            return 10 + _coupon_parts(pdf, block)[2]
        case Letterhead():
            return 7
        case Spacer():
            return block.height
        case _:
            return LINE


def _address(pdf: fonts.DocumentPDF, block: Address) -> None:
    """In a #10 window envelope's window when the letter is folded in three: about 2 inches
    from the top of the first page and 7/8 inch from its left edge."""
    if pdf.page == 1 and pdf.y < 50:
        pdf.set_y(50)
    pdf.set_font(FONT, "", 10)
    lines(pdf, "\n".join(block.lines), 5, x=max(pdf.l_margin, 22 - pdf.c_margin))
    pdf.ln(6)


def _fields(pdf: fonts.DocumentPDF, pairs: tuple[tuple[str, str], ...]) -> None:
    """Label/value pairs flowing left to right, drawn in reading order (text extraction and
    screen readers follow the order of drawing, not the positions)."""
    right = pdf.w - pdf.r_margin
    items = [(nfc(label) + " ", nfc(value) + "    ") for label, value in pairs]
    pdf.set_font(FONT, "B", 10)
    label_widths = [width(pdf, label) for label, _ in items]
    pdf.set_font(FONT, "", 10)
    value_widths = [width(pdf, value) for _, value in items]
    line: list[tuple[float, str, float, str]] = []  # label x, label, value x, value
    x = pdf.l_margin

    def flush() -> None:
        if line:
            room_for(pdf, LINE)
            y = pdf.y
            for label_x, label, value_x, value in line:
                pdf.set_font(FONT, "B", 10)
                place(pdf, label_x, y, 0, LINE, label, "L")
                if value:
                    pdf.set_font(FONT, "", 10)
                    place(pdf, value_x, y, 0, LINE, value, "L")
            pdf.set_y(y)
            line.clear()

    for (label, value), label_width, value_width in zip(
        items, label_widths, value_widths, strict=True
    ):
        if x > pdf.l_margin and x + label_width + value_width > right:
            flush()
            pdf.ln(LINE)
            x = pdf.l_margin
        if x + label_width + value_width > right:  # longer than a line: wrap the value
            line.append((x, label, x + label_width, ""))
            flush()
            pdf.set_font(FONT, "", 10)
            lines(pdf, value.rstrip(), LINE, x=x + label_width)
            pdf.set_y(pdf.y - LINE)
            x = right  # the next pair starts a new line
            continue
        line.append((x, label, x + label_width, value))
        x += label_width + value_width
    flush()
    pdf.ln(LINE + 1)
    pdf.set_x(pdf.l_margin)


def _grid(pdf: fonts.DocumentPDF, table: Table) -> tuple[list[float], str]:
    return [_room(pdf) * c.share for c in table.columns], "".join(c.align for c in table.columns)


def _table(pdf: _Pages, table: Table) -> None:
    """The header row (kept with the first row), the rows, the bold footer rows; a page break
    inside repeats the header row at the top of the new page."""
    widths, aligns = _grid(pdf, table)
    titles = [c.title for c in table.columns]
    room_for(pdf, _lead(pdf, table))
    _row(pdf, widths, titles, aligns, bold=True)
    pdf.continued = lambda: _row(pdf, widths, titles, aligns, bold=True)
    try:
        for cells in table.rows:
            _row(pdf, widths, list(cells), aligns, bold=False)
        for cells in table.footer:
            _row(pdf, widths, list(cells), aligns, bold=True)
    finally:
        pdf.continued = None
    pdf.ln(2)


def _cells(
    pdf: fonts.DocumentPDF, widths: list[float], cells: list[str], *, bold: bool
) -> list[list[str]]:
    """Each cell's lines: wrapped in its column (a newline starts a line)."""
    pdf.set_font(FONT, "B" if bold else "", 10)
    texts = [nfc(c) for c in cells] + [""] * (len(widths) - len(cells))
    return [
        [line for part in text.split("\n") for line in split(pdf, part, w)]
        for text, w in zip(texts, widths, strict=True)
    ]


def _row_height(
    pdf: fonts.DocumentPDF, widths: list[float], cells: list[str], *, bold: bool
) -> float:
    tallest = max(len(c) for c in _cells(pdf, widths, cells, bold=bold))
    return ROW if tallest <= 1 else tallest * _CELL_LINE + 2


def _row(
    pdf: fonts.DocumentPDF, widths: list[float], cells: list[str], aligns: str, *, bold: bool
) -> None:
    """One row: every cell as tall as the tallest, its lines centred in it; on a new page if
    it does not fit on this one."""
    wrapped = _cells(pdf, widths, cells, bold=bold)
    tallest = max(len(c) for c in wrapped)
    height = ROW if tallest <= 1 else tallest * _CELL_LINE + 2
    room_for(pdf, height)
    pdf.set_font(FONT, "B" if bold else "", 10)
    x, y = pdf.l_margin, pdf.y
    line_height = ROW if tallest <= 1 else _CELL_LINE
    for cell, w, align in zip(wrapped, widths, aligns, strict=True):
        pdf.rect(x, y, w, height)
        top = y + (height - len(cell) * line_height) / 2
        for number, line in enumerate(cell):
            place(pdf, x, top + number * line_height, w, line_height, line, cast(Align, align))
        x += w
    pdf.set_xy(pdf.l_margin, y + height)


def _coupon(pdf: fonts.DocumentPDF, coupon: Coupon) -> None:
    """A dashed cut line with its caption, then the boxed coupon: the payment's fields on the
    left, the remit-to address on the right, each wrapped inside its column. Never split
    across pages: when it does not fit on this one it starts the next."""
    left, right = pdf.l_margin, pdf.w - pdf.r_margin
    middle = left + (right - left) * 0.58
    values, remit, box = _coupon_parts(pdf, coupon)
    room_for(pdf, 10 + box)
    y = pdf.y + 3
    pdf.set_dash_pattern(dash=2, gap=1.5)
    pdf.line(left, y, right, y)
    pdf.set_dash_pattern()
    pdf.set_font(FONT, "", 7.5)
    caption = "Detach and return this part with your payment"
    place(pdf, left, y + 0.5, right - left, 4, caption, "C")
    top = y + 6
    pdf.rect(left, top, right - left, box)
    pdf.set_font(FONT, "B", 11)
    place(pdf, left + 2, top + 2, middle - left - 4, LINE, coupon.heading, "L")
    y = top + 2 + LINE
    for (label, _), wrapped in zip(coupon.fields, values, strict=True):
        pdf.set_font(FONT, "B", 9)
        place(pdf, left + 2, y, 38, SMALL, label, "L")
        pdf.set_font(FONT, "", 9)
        for line in wrapped:
            place(pdf, left + 40, y, middle - left - 42, SMALL, line, "L")
            y += SMALL
    y = top + 2 + LINE
    if remit:
        pdf.set_font(FONT, "B", 9)
        place(pdf, middle, y, right - middle, SMALL, "Remit to", "L")
        pdf.set_font(FONT, "", 9)
        for line in remit:
            y += SMALL
            place(pdf, middle, y, right - middle, SMALL, line, "L")
    pdf.set_xy(left, top + box + 2)


def _coupon_parts(
    pdf: fonts.DocumentPDF, coupon: Coupon
) -> tuple[list[list[str]], list[str], float]:
    """The coupon's values and remit-to address as wrapped lines, and its box's height."""
    left, right = pdf.l_margin, pdf.w - pdf.r_margin
    middle = left + (right - left) * 0.58
    pdf.set_font(FONT, "", 9)
    values = [split(pdf, value, middle - left - 42) for _, value in coupon.fields]
    remit = [line for text in coupon.address for line in split(pdf, text, right - middle - 2)]
    rows = max(sum(len(v) for v in values), len(remit) + 1 if remit else 0)
    return values, remit, 4 + LINE + rows * SMALL + 4
