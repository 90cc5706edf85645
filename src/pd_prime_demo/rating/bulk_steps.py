"""A product's algorithm steps run over whole arrays of rows, for the bulk rater.

:func:`run_steps` applies the same steps as the single path to a :class:`Space` at once: in
float64 for speed, or in Decimal on an exact space. Float64 is trusted only away from
rounding boundaries, so each rounding, tax and minimum also reports which rows came within
``AMBIGUITY`` units of one; the bulk rater re-rates those rows exactly. Discount combinations
come from the single path's ``discount_outcomes`` and rounding modes from its ``ROUNDING``,
so both paths combine and round by one definition.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt

from pd_prime_demo.rating.book import Bools
from pd_prime_demo.rating.bulk_space import Space, condition_mask, table_values
from pd_prime_demo.rating.definition import (
    AddStep,
    BaseStep,
    DiscountStep,
    FeeStep,
    MinimumStep,
    MultiplyStep,
    RoundingMode,
    RoundStep,
    TaxStep,
)
from pd_prime_demo.rating.engine import CompiledProduct
from pd_prime_demo.rating.steps import discount_outcomes
from pd_prime_demo.rating.values import ROUNDING

# Distance (in rounding units) to a rounding boundary below which float64 is not trusted.
AMBIGUITY = 1e-6


def _discount_factors(step: DiscountStep, space: Space) -> npt.NDArray[Any]:
    """The combined factor for every subset of the step's items (bit i: item i applies)."""
    outcome = discount_outcomes(step)
    size = len(step.items)
    factors = np.empty(1 << size, dtype=space.dtype)
    factors[:] = [
        space.number(outcome(tuple(bool(m >> i & 1) for i in range(size)))[0])
        if m
        else space.number(Decimal(1))
        for m in range(1 << size)
    ]
    return factors


def _round(
    space: Space, amount: npt.NDArray[Any], unit: Decimal, mode: RoundingMode
) -> tuple[npt.NDArray[Any], Bools]:
    if space.exact:
        rounding = ROUNDING[mode]
        out = np.empty(len(amount), dtype=object)
        out[:] = [a.quantize(unit, rounding) for a in amount]
        return out, np.zeros(len(amount), dtype=np.bool_)
    u = float(unit)
    y = amount * (1.0 / u) if u < 1 else amount / u
    if mode in (RoundingMode.HALF_UP, RoundingMode.HALF_EVEN):
        rounded = np.rint(y)  # away from a tie, both half modes round to nearest
        distance = np.abs(y - rounded)  # 0.5 at a tie
        distance -= 0.5
        np.abs(distance, out=distance)
        ambiguous = distance < AMBIGUITY
    else:
        ambiguous = np.abs(y - np.rint(y)) < AMBIGUITY
        if mode is RoundingMode.UP:
            rounded = np.sign(y) * np.ceil(np.abs(y))
        elif mode is RoundingMode.DOWN:
            rounded = np.trunc(y)
        elif mode is RoundingMode.CEILING:
            rounded = np.ceil(y)
        else:
            rounded = np.floor(y)
        # Values that are (numerically) already on a unit keep it, as Decimal would.
        rounded = np.where(ambiguous, np.rint(y), rounded)
    return rounded * u, ambiguous


def run_steps(
    space: Space,
    product: CompiledProduct,
    steps: Sequence[Any],
    coverage: str | None,
    amount: npt.NDArray[Any],
) -> tuple[npt.NDArray[Any], Bools, npt.NDArray[Any], npt.NDArray[Any]]:
    """Apply ``steps``; returns amount, ambiguity flags, fees and taxes (policy steps only)."""
    flags = np.zeros(space.rows, dtype=np.bool_)
    fees = space.full(Decimal(0))
    taxes = space.full(Decimal(0))
    for step in steps:
        if isinstance(step, BaseStep):
            if step.table is not None:
                amount = table_values(space, product, step.table, coverage)
            else:
                amount = space.full(step.amount or Decimal(0))
        elif isinstance(step, MultiplyStep | AddStep):
            if step.table is not None:
                value: Any = table_values(space, product, step.table, coverage)
            else:
                constant = step.factor if isinstance(step, MultiplyStep) else step.amount
                value = space.number(constant or Decimal(0))
            changed = amount * value if isinstance(step, MultiplyStep) else amount + value
            amount = (
                np.where(condition_mask(space, step.when, coverage), changed, amount)
                if step.when
                else changed
            )
        elif isinstance(step, DiscountStep):
            bits = np.zeros(space.rows, dtype=np.intp)
            for i, item in enumerate(step.items):
                bits |= condition_mask(space, item.when, coverage).astype(np.intp) << i
            factors = space.shared.once(
                ("discount", id(step), space.exact), partial(_discount_factors, step, space)
            )
            amount = amount * factors[bits]
        elif isinstance(step, MinimumStep):
            if not space.exact:
                floor = float(step.amount)
                flags |= np.abs(amount - floor) < AMBIGUITY * max(1.0, abs(floor))
            amount = np.maximum(amount, space.number(step.amount))
        elif isinstance(step, RoundStep):
            amount, ambiguous = _round(space, amount, step.unit, step.mode)
            flags |= ambiguous
        elif isinstance(step, FeeStep):
            fees = fees + space.number(step.amount)
        elif isinstance(step, TaxStep):
            base = amount + fees if step.base == "premium_and_fees" else amount
            tax, ambiguous = _round(space, base * space.number(step.rate), step.unit, step.mode)
            flags |= ambiguous
            taxes = taxes + tax
    return amount, flags, fees, taxes
