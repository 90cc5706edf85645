"""How amounts, factors and percentages read in every API response and stored document.

One format, documented in docs/api-conventions.md ("Numbers"):

* money is a JSON string with exactly two decimals: ``"0.00"``, ``"-412.50"``;
* factors and percentages are JSON strings with as many decimals as they carry and no
  trailing zeros: ``"1.1"``, ``"0.875"``, ``"10"``;
* intermediate amounts of a rating worksheet are shown to six decimals (the engine computes
  them exactly, and rounds only where the product's algorithm says).

Strings, not JSON numbers, because a binary float cannot carry a cent exactly.

Requests give amounts and percentages as :data:`DecimalIn`: a JSON number, or a string of
plain decimal notation (``"12.50"``, ``"-3"``). Pydantic on its own also reads ``" 12.00"``,
``"+12"``, ``"1e2"`` and ``"1_000"`` as numbers; an amount in any such form is refused, so
that what a client sent is exactly what was meant.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any

from pydantic import (
    BeforeValidator,
    Field,
    GetJsonSchemaHandler,
    PlainSerializer,
    WithJsonSchema,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

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


_PLAIN_DECIMAL = r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?$"
_PLAIN_DECIMAL_RE = re.compile(_PLAIN_DECIMAL, re.ASCII)


def _plain_decimal(value: object) -> object:
    """A JSON number, a string in plain decimal notation, or a Decimal built in code."""
    if isinstance(value, bool):
        raise ValueError("must be a number, not true or false")
    if isinstance(value, Decimal | int):
        return value
    if isinstance(value, float):
        # The shortest text that reads back as this float: 12.5 is 12.5, not its binary
        # expansion; decimal_places then refuses more digits than the field carries.
        return Decimal(repr(value))
    if isinstance(value, str) and _PLAIN_DECIMAL_RE.match(value):
        return value
    raise ValueError('must be a number or a string such as "1234.50" (no spaces, + or exponent)')


class _PlainDecimalSchema:
    """The string form in the JSON schema says what :func:`_plain_decimal` takes; the number
    form keeps the bounds of the field."""

    def __init__(self, example: str) -> None:
        self.example = example

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema: dict[str, Any] = handler(core_schema)
        for option in schema.get("anyOf", []):
            if option.get("type") == "string":
                option["pattern"] = _PLAIN_DECIMAL
        schema.setdefault("examples", [self.example])
        return schema


# An amount a request gives; bounds and decimal places come from its Field.
DecimalIn = Annotated[Decimal, BeforeValidator(_plain_decimal), _PlainDecimalSchema("1234.50")]
# A percentage a request gives, 0 to 100 with at most two decimals. Its bounds are part of the
# type (not of a Field at the use site) so that they stay in the JSON schema of an optional.
PercentIn = Annotated[
    Decimal,
    Field(ge=0, le=100, decimal_places=2),
    BeforeValidator(_plain_decimal),
    _PlainDecimalSchema("12.5"),
]
