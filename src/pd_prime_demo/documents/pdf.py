"""Drawing a :class:`Layout` to PDF with fpdf2's primitives, in the documents' fonts.

Every string is plain text: nothing in it is interpreted (no markup, no markdown), a newline
starts a new line. Text is normalised to NFC, so an accented letter is one precomposed glyph.

Most strings on a page are short Latin text in known boxes: they are placed with fpdf2's plain
``text`` primitive and measured from the font's advance widths, about ten times cheaper than
``cell`` (a general layouter). A string with a character Noto Sans lacks (Arabic, CJK), a
combining mark or right-to-left text goes through ``cell``/``multi_cell`` with HarfBuzz
shaping and the fallback fonts (``documents.fonts``), only for that string.

Deterministic: the same layout, fonts and issue time give the same bytes (fpdf2's subset
prefix is fixed and its file ID hashes the content and the creation date).
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import cast

from fpdf import FPDF

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

_FONT = fonts.FAMILY
_LINE = 6.0  # mm, body text line height
_ROW = 7.0  # mm, table row height
_SMALL = 5.0  # mm, letterhead and coupon line height


def render(layout: Layout, *, issued_at: datetime, font_set: fonts.FontSet | None = None) -> bytes:
    """The PDF of ``layout``; ``issued_at`` is its creation date."""
    chosen = font_set if font_set is not None else fonts.fonts()
    pdf = fonts.DocumentPDF(chosen)
    pdf.set_creation_date(issued_at)
    pdf.set_title(_nfc(layout.title))
    pdf.set_author("PD Prime")
    chars = {ord(c) for text in strings(layout) for c in _nfc(text)}
    primary, pdf.plain = chosen.primary_for(chars)
    assert primary.bold is not None  # the primary face has both weights (fonts.build)
    fonts.register(pdf, _FONT, "", primary.regular)
    fonts.register(pdf, _FONT, "B", primary.bold)
    needed = chosen.fallbacks_for(chars)
    for face in needed:
        fonts.register(pdf, face.family, "", face.regular)
        if face.bold is not None:
            fonts.register(pdf, face.family, "B", face.bold)
    if needed:
        pdf.set_fallback_fonts([face.family for face in needed], exact_match=False)
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    for block in layout.blocks:
        draw(pdf, block)
    return bytes(pdf.output())


def draw(pdf: fonts.DocumentPDF, block: Block) -> None:
    match block:
        case Letterhead():
            pdf.set_font(_FONT, "B", 14)
            _lines(pdf, block.name, 7)
            pdf.set_font(_FONT, "", 8.5)
            _lines(pdf, "\n".join(block.lines), 4)
            pdf.ln(2)
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


def _nfc(text: str) -> str:
    return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)


def _plain(pdf: fonts.DocumentPDF, text: str) -> bool:
    plain = pdf.plain
    return all(ord(c) in plain for c in text)


class _Shaped:
    """Shaping on for one string, if it needs it: ``with _Shaped(pdf, text):`` (shaping makes
    fpdf2 measure word by word through HarfBuzz when it wraps: ten times the cost)."""

    def __init__(self, pdf: fonts.DocumentPDF, *texts: str) -> None:
        self.pdf = pdf
        self.on = not all(_plain(pdf, text) for text in texts)

    def __enter__(self) -> None:
        if self.on:
            self.pdf.set_text_shaping(True)

    def __exit__(self, *_: object) -> None:
        if self.on:
            self.pdf.set_text_shaping(False)


def width(pdf: fonts.DocumentPDF, text: str) -> float:
    """The drawn width of ``text`` in the current font: from the font's advance widths for
    plain text (fpdf2's ``get_string_width`` splits the text into styled fragments first and
    costs about seven times as much; a test holds the two equal), shaped otherwise."""
    font = pdf.current_font
    if _plain(pdf, text) and font is not None:
        return font.get_text_width(text, pdf.font_size_pt, None)[1] / pdf.k
    with _Shaped(pdf, text):
        return pdf.get_string_width(text)


def _place(
    pdf: fonts.DocumentPDF, x: float, y: float, w: float, h: float, text: str, align: Align
) -> None:
    """``text`` where ``cell(w, h, text, align=align)`` at (x, y) would put it: through the
    plain ``text`` primitive when it can be, through ``cell`` with shaping when not."""
    text = _nfc(text)
    if not _plain(pdf, text):
        with _Shaped(pdf, text):
            pdf.set_xy(x, y)
            pdf.cell(w, h, text, align=align)
        return
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


def _lines(pdf: fonts.DocumentPDF, text: str, height: float, x: float | None = None) -> None:
    """Each line of ``text`` from ``x`` (the left margin by default) to the right margin,
    wrapped at spaces when too long (a word longer than the line is broken)."""
    left = pdf.l_margin if x is None else x
    room = pdf.w - pdf.r_margin - left
    for paragraph in _nfc(text).split("\n"):
        for line in _split(pdf, paragraph, room):
            _room_for(pdf, height)
            _place(pdf, left, pdf.y, room, height, line, "L")
            pdf.ln(height)
    pdf.set_x(pdf.l_margin)


def _address(pdf: fonts.DocumentPDF, block: Address) -> None:
    """In a #10 window envelope's window when the letter is folded in three: about 2 inches
    from the top of the first page and 7/8 inch from its left edge."""
    if pdf.page == 1 and pdf.y < 50:
        pdf.set_y(50)
    pdf.set_font(_FONT, "", 10)
    _lines(pdf, "\n".join(block.lines), 5, x=max(pdf.l_margin, 22 - pdf.c_margin))
    pdf.ln(6)


def _fields(pdf: fonts.DocumentPDF, pairs: tuple[tuple[str, str], ...]) -> None:
    """Label/value pairs flowing left to right, drawn in reading order (text extraction and
    screen readers follow the order of drawing, not the positions)."""
    right = pdf.w - pdf.r_margin
    items = [(_nfc(label) + " ", _nfc(value) + "    ") for label, value in pairs]
    pdf.set_font(_FONT, "B", 10)
    label_widths = [width(pdf, label) for label, _ in items]
    pdf.set_font(_FONT, "", 10)
    value_widths = [width(pdf, value) for _, value in items]
    line: list[tuple[float, str, float, str]] = []  # label x, label, value x, value
    x = pdf.l_margin

    def flush() -> None:
        if line:
            _room_for(pdf, _LINE)
            y = pdf.y
            for label_x, label, value_x, value in line:
                pdf.set_font(_FONT, "B", 10)
                _place(pdf, label_x, y, 0, _LINE, label, "L")
                if value:
                    pdf.set_font(_FONT, "", 10)
                    _place(pdf, value_x, y, 0, _LINE, value, "L")
            pdf.set_y(y)
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
            _lines(pdf, value.rstrip(), _LINE, x=x + label_width)
            pdf.set_y(pdf.y - _LINE)
            x = right  # the next pair starts a new line
            continue
        line.append((x, label, x + label_width, value))
        x += label_width + value_width
    flush()
    pdf.ln(_LINE + 1)
    pdf.set_x(pdf.l_margin)


def _table(pdf: fonts.DocumentPDF, table: Table) -> None:
    text_width = pdf.w - pdf.l_margin - pdf.r_margin
    widths = [text_width * c.share for c in table.columns]
    aligns = "".join(c.align for c in table.columns)
    _row(pdf, widths, [c.title for c in table.columns], aligns, bold=True)
    for cells in table.rows:
        _row(pdf, widths, list(cells), aligns, bold=False)
    for cells in table.footer:
        _row(pdf, widths, list(cells), aligns, bold=True)
    pdf.ln(2)


def _row(
    pdf: fonts.DocumentPDF, widths: list[float], cells: list[str], aligns: str, *, bold: bool
) -> None:
    pdf.set_font(_FONT, "B" if bold else "", 10)
    texts = [_nfc(c) for c in cells] + [""] * (len(widths) - len(cells))
    padding = 2 * pdf.c_margin
    if all(
        "\n" not in t and width(pdf, t) + padding <= w for t, w in zip(texts, widths, strict=True)
    ):
        _room_for(pdf, _ROW)
        x, y = pdf.l_margin, pdf.y
        for text, w, align in zip(texts, widths, aligns, strict=True):
            pdf.rect(x, y, w, _ROW)
            _place(pdf, x, y, w, _ROW, text, cast(Align, align))
            x += w
        pdf.set_xy(pdf.l_margin, y + _ROW)
        return
    # Some cell needs more than one line: every cell of the row takes the tallest one's height.
    # (A table spans the text width; ``widths`` are the same proportions of it.)
    with (
        _Shaped(pdf, *texts),
        pdf.table(
            col_widths=widths,
            text_align=tuple(aligns),
            first_row_as_headings=False,
            line_height=_ROW - 1,
        ) as grid,
    ):
        grid.row(texts)


def _split(pdf: fonts.DocumentPDF, text: str, room: float) -> list[str]:
    """``text`` as the lines it takes in ``room`` mm. Plain text is broken at spaces from the
    font's advance widths (fpdf2's line breaker measures character by character and cost a
    fifth of a page); shaped text by fpdf2, which knows its glyphs."""
    text = _nfc(text)
    room -= 2 * pdf.c_margin
    if width(pdf, text) <= room:
        return [text]
    if not _plain(pdf, text):
        with _Shaped(pdf, text):
            lines = pdf.multi_cell(
                room + 2 * pdf.c_margin, _SMALL, text, align="L", dry_run=True, output="LINES"
            )
        return cast(list[str], lines)
    lines = []
    line = ""
    for word in text.split(" "):
        candidate = f"{line} {word}" if line else word
        if width(pdf, candidate) <= room:
            line = candidate
            continue
        if line:
            lines.append(line)
        while width(pdf, word) > room:  # longer than a line: break it where it fills one
            cut = max(
                1, next(i for i in range(1, len(word) + 1) if width(pdf, word[:i]) > room) - 1
            )
            lines.append(word[:cut])
            word = word[cut:]
        line = word
    return [*lines, line] if line else lines


def _coupon(pdf: fonts.DocumentPDF, coupon: Coupon) -> None:
    """A dashed cut line with its caption, then the boxed coupon: the payment's fields on the
    left, the remit-to address on the right, each wrapped inside its column. Never split
    across pages: when it does not fit on this one it starts the next."""
    left, right = pdf.l_margin, pdf.w - pdf.r_margin
    middle = left + (right - left) * 0.58
    pdf.set_font(_FONT, "", 9)
    values = [_split(pdf, value, middle - left - 42) for _, value in coupon.fields]
    remit = [line for text in coupon.address for line in _split(pdf, text, right - middle - 2)]
    rows = max(sum(len(v) for v in values), len(remit) + 1 if remit else 0)
    box = 4 + _LINE + rows * _SMALL + 4
    _room_for(pdf, 10 + box)
    y = pdf.y + 3
    pdf.set_dash_pattern(dash=2, gap=1.5)
    pdf.line(left, y, right, y)
    pdf.set_dash_pattern()
    pdf.set_font(_FONT, "", 7.5)
    caption = "Detach and return this part with your payment"
    _place(pdf, left, y + 0.5, right - left, 4, caption, "C")
    top = y + 6
    pdf.rect(left, top, right - left, box)
    pdf.set_font(_FONT, "B", 11)
    _place(pdf, left + 2, top + 2, middle - left - 4, _LINE, coupon.heading, "L")
    y = top + 2 + _LINE
    for (label, _), lines in zip(coupon.fields, values, strict=True):
        pdf.set_font(_FONT, "B", 9)
        _place(pdf, left + 2, y, 38, _SMALL, label, "L")
        pdf.set_font(_FONT, "", 9)
        for line in lines:
            _place(pdf, left + 40, y, middle - left - 42, _SMALL, line, "L")
            y += _SMALL
    y = top + 2 + _LINE
    if remit:
        pdf.set_font(_FONT, "B", 9)
        _place(pdf, middle, y, right - middle, _SMALL, "Remit to", "L")
        pdf.set_font(_FONT, "", 9)
        for line in remit:
            y += _SMALL
            _place(pdf, middle, y, right - middle, _SMALL, line, "L")
    pdf.set_xy(left, top + box + 2)
