"""The blocks a document is made of: what ``documents.pdf`` draws. Templates
(``documents.templates``) and the legacy layouts produce them; every string is plain text (a
newline starts a new line, nothing else is interpreted)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

Align = Literal["L", "R", "C"]


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
    title: str  # the PDF's title, and in every page's footer
    blocks: tuple[Block, ...]
    issuer: str = ""  # the carrier: every page's footer, the PDF's author


def strings(layout: Layout) -> Iterator[str]:
    """Every string the layout draws (to choose the fonts it needs)."""
    yield layout.title
    yield layout.issuer
    yield "Page 0123456789 of ..."  # the footers
    for block in layout.blocks:
        match block:
            case Letterhead():
                yield block.name
                yield from block.lines
            case Address():
                yield from block.lines
            case Heading() | Paragraph():
                yield block.text
            case Fields():
                yield from (s for pair in block.items for s in pair)
            case Table():
                yield from (c.title for c in block.columns)
                yield from (s for row in (*block.rows, *block.footer) for s in row)
            case Coupon():
                yield block.heading
                yield from (s for pair in block.fields for s in pair)
                yield from block.address
