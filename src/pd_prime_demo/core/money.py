"""How amounts, factors and percentages read in every API response and stored document.

One format, documented in docs/api-conventions.md ("Numbers"):

* money is a JSON string with exactly two decimals: ``"0.00"``, ``"-412.50"``;
* factors and percentages are JSON strings with as many decimals as they carry and no
  trailing zeros: ``"1.1"``, ``"0.875"``, ``"10"``;
* intermediate amounts of a rating worksheet are shown to six decimals (the engine computes
  them exactly, and rounds only where the product's algorithm says).

Strings, not JSON numbers, because a binary float cannot carry a cent exactly.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated

from pydantic import PlainSerializer, WithJsonSchema

CENT = Decimal("0.01")
_WORKSHEET_PLACES = Decimal("0.000001")


def money_text(value: Decimal) -> str:
    return f"{value.quantize(CENT, ROUND_HALF_UP):f}"


def factor_text(value: Decimal) -> str:
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def worksheet_text(value: Decimal) -> str:
    return factor_text(value.quantize(_WORKSHEET_PLACES, ROUND_HALF_UP))


Money = Annotated[
    Decimal,
    PlainSerializer(money_text, return_type=str, when_used="json"),
    WithJsonSchema(
        {"type": "string", "pattern": r"^-?\d+\.\d{2}$", "examples": ["1234.50"]},
        mode="serialization",
    ),
]
Factor = Annotated[
    Decimal,
    PlainSerializer(factor_text, return_type=str, when_used="json"),
    WithJsonSchema(
        {"type": "string", "pattern": r"^-?\d+(\.\d*[1-9])?$", "examples": ["1.1", "10"]},
        mode="serialization",
    ),
]
WorksheetAmount = Annotated[
    Decimal,
    PlainSerializer(worksheet_text, return_type=str, when_used="json"),
    WithJsonSchema(
        {"type": "string", "pattern": r"^-?\d+(\.\d{1,6})?$", "examples": ["412.837125"]},
        mode="serialization",
    ),
]
