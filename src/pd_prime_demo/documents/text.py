"""Placing and measuring strings on a page: the primitives ``documents.pdf`` draws blocks with.

Most strings on a page are short Latin text in known boxes: they are placed with fpdf2's plain
``text`` primitive and measured from the font's advance widths, about ten times cheaper than
``cell`` (a general layouter). A string with a character Noto Sans lacks (Arabic, CJK), a
combining mark or right-to-left text goes through ``cell``/``multi_cell`` with HarfBuzz
shaping and the fallback fonts (``documents.fonts``), only for that string.
"""

from __future__ import annotations

import unicodedata
from typing import cast

from fpdf import FPDF

from pd_prime_demo.documents import fonts
from pd_prime_demo.documents.blocks import Align

FONT = fonts.FAMILY
LINE = 6.0  # mm, body text line height
ROW = 7.0  # mm, table row height
SMALL = 5.0  # mm, letterhead and coupon line height


def nfc(text: str) -> str:
    return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)


def _plain(pdf: fonts.DocumentPDF, text: str) -> bool:
    plain = pdf.plain
    return all(ord(c) in plain for c in text)


class Shaped:
    """Shaping on for one string, if it needs it: ``with Shaped(pdf, text):`` (shaping makes
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
    with Shaped(pdf, text):
        return pdf.get_string_width(text)


def place(
    pdf: fonts.DocumentPDF, x: float, y: float, w: float, h: float, text: str, align: Align
) -> None:
    """``text`` where ``cell(w, h, text, align=align)`` at (x, y) would put it: through the
    plain ``text`` primitive when it can be, through ``cell`` with shaping when not."""
    text = nfc(text)
    if not _plain(pdf, text):
        with Shaped(pdf, text):
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


def room_for(pdf: FPDF, height: float) -> None:
    """A new page if ``height`` more would cross the bottom margin: every block asks before it
    draws, so pages break only here (and a continued table repeats its header row)."""
    if pdf.will_page_break(height):
        pdf.add_page()


def lines(pdf: fonts.DocumentPDF, text: str, height: float, x: float | None = None) -> None:
    """Each line of ``text`` from ``x`` (the left margin by default) to the right margin,
    wrapped at spaces when too long (a word longer than the line is broken)."""
    left = pdf.l_margin if x is None else x
    room = pdf.w - pdf.r_margin - left
    for paragraph in nfc(text).split("\n"):
        for line in split(pdf, paragraph, room):
            room_for(pdf, height)
            place(pdf, left, pdf.y, room, height, line, "L")
            pdf.ln(height)
    pdf.set_x(pdf.l_margin)


def split(pdf: fonts.DocumentPDF, text: str, room: float) -> list[str]:
    """``text`` as the lines it takes in ``room`` mm. Plain text is broken at spaces from the
    font's advance widths (fpdf2's line breaker measures character by character and cost a
    fifth of a page); shaped text by fpdf2, which knows its glyphs."""
    text = nfc(text)
    room -= 2 * pdf.c_margin
    if width(pdf, text) <= room:
        return [text]
    if not _plain(pdf, text):
        with Shaped(pdf, text):
            shaped = pdf.multi_cell(
                room + 2 * pdf.c_margin, SMALL, text, align="L", dry_run=True, output="LINES"
            )
        return cast(list[str], shaped)
    out: list[str] = []
    line = ""
    for word in text.split(" "):
        candidate = f"{line} {word}" if line else word
        if width(pdf, candidate) <= room:
            line = candidate
            continue
        if line:
            out.append(line)
        while width(pdf, word) > room:  # longer than a line: break it where it fills one
            cut = max(
                1, next(i for i in range(1, len(word) + 1) if width(pdf, word[:i]) > room) - 1
            )
            out.append(word[:cut])
            word = word[cut:]
        line = word
    return [*out, line] if line else out
