"""What a rating takes and gives, and the Decimal rules every rating path shares.

A risk comes in as a :class:`RatingInput` and goes out as a :class:`RatingResult` with its
worksheet; the arithmetic context and the rounding modes are here beside them because the
compiled steps, the generated amount-only code, the engine and the bulk path must all compute
with the very same ones to agree to the cent. Nothing here depends on how a product is
compiled, so the lookups, the steps and the bulk path can use these types without importing
the engine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import (
    ROUND_CEILING,
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    ROUND_UP,
    Context,
    Decimal,
)

from pd_prime_demo.rating.definition import RoundingMode

Value = str | int | Decimal | bool

# Exact arithmetic: products of factors never lose digits before the declared rounding.
RATING_CONTEXT = Context(prec=60, rounding=ROUND_HALF_UP)

ROUNDING = {
    RoundingMode.HALF_UP: ROUND_HALF_UP,
    RoundingMode.HALF_EVEN: ROUND_HALF_EVEN,
    RoundingMode.UP: ROUND_UP,
    RoundingMode.DOWN: ROUND_DOWN,
    RoundingMode.CEILING: ROUND_CEILING,
    RoundingMode.FLOOR: ROUND_FLOOR,
}
ONE = Decimal(1)
ZERO = Decimal(0)
CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Selection:
    limit: str | None = None
    deductible: str | None = None


@dataclass(frozen=True, slots=True)
class RatingInput:
    policy: Mapping[str, Value]
    drivers: Sequence[Mapping[str, Value]] = ()
    vehicles: Sequence[Mapping[str, Value]] = ()
    coverages: Mapping[str, Selection] = field(default_factory=dict)
    surcharge: Decimal | None = None


@dataclass(frozen=True, slots=True)
class WorksheetLine:
    coverage: str | None
    unit: str | None
    step: str
    op: str
    table: str | None
    key: str | None
    factor: Decimal | None
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Charge:
    name: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class RatingResult:
    coverage_premiums: dict[str, Decimal]
    premium: Decimal
    fees: tuple[Charge, ...]
    taxes: tuple[Charge, ...]
    total: Decimal
    worksheet: tuple[WorksheetLine, ...]
