"""Chain-ladder reserve estimates on numpy (Mack's standard errors are in ``claims.mack``).

Age-to-age factors (Friedland, *Estimating Unpaid Claims Using Basic Techniques*, CAS 2010,
chapter 7; Mack 1993): ``volume`` weighted, ``f_k = sum_j C_j,k+1 / sum_j C_jk`` over the
origins that know age k+1 (the default), or the ``simple`` average of the link ratios
``C_j,k+1 / C_jk`` (there is no link ratio from a zero ``C_jk``); a caller may select the
factor of any age, keyed by the age it develops from in months. A factor with nothing to
average is 1. An optional tail factor develops the last age to ultimate. The age-to-ultimate
factor ``CDF_k`` is the product of the factors from age k on, the tail included; the ultimate
``U_i = C_i,latest x CDF_(latest age of i)`` and the IBNR ``U_i - C_i,latest`` (for a paid
triangle this is the whole unpaid amount, case reserves included).

Results are frozen dataclasses of plain floats; ``to_json`` writes floats as Python's shortest
repr (what ``json`` does), which reads back to the identical float64, so ``from_json`` is exact
(a presenter turns them into Decimal with ``Decimal(repr(x))`` and rounds for display).
Bad inputs raise :class:`~pd_prime_demo.claims.triangles.ReservingError`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

import numpy as np
from numpy.typing import NDArray

from pd_prime_demo.claims.triangles import ReservingError, Triangle

Average = Literal["volume", "simple"]
AVERAGES: tuple[Average, ...] = ("volume", "simple")

FloatArray = NDArray[np.float64]


def link_ratios(tri: Triangle) -> FloatArray:
    """``C_j,k+1 / C_jk`` for every origin and age (NaN where unknown or ``C_jk`` is zero)."""
    num, den = tri.values[:, 1:], tri.values[:, :-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        return cast(FloatArray, np.where(den > 0, num / den, np.nan))


def known_pairs(tri: Triangle) -> NDArray[np.bool_]:
    """Where an origin knows both ages k and k+1."""
    return cast(NDArray[np.bool_], ~np.isnan(tri.values[:, 1:]))


def ratio_pairs(tri: Triangle) -> NDArray[np.bool_]:
    """Where an origin has a link ratio from age k (both known and ``C_jk > 0``)."""
    return cast(NDArray[np.bool_], ~np.isnan(link_ratios(tri)))


def average_factors(tri: Triangle, average: Average = "volume") -> FloatArray:
    """The age-to-age factors by the named average, one per age but the last."""
    if average not in AVERAGES:
        raise ReservingError(f"unknown average {average!r}: one of {', '.join(AVERAGES)}")
    if average == "volume":
        ok = known_pairs(tri)
        num = np.where(ok, tri.values[:, 1:], 0.0).sum(axis=0)
        den = np.where(ok, tri.values[:, :-1], 0.0).sum(axis=0)
    else:
        ok = ratio_pairs(tri)
        num = np.where(ok, link_ratios(tri), 0.0).sum(axis=0)
        den = ok.sum(axis=0).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return cast(FloatArray, np.where(den > 0, num / np.where(den > 0, den, 1.0), 1.0))


@dataclass(frozen=True)
class ChainLadder:
    """A chain-ladder estimate with everything needed to show it again."""

    triangle: Triangle
    average: Average
    selected: tuple[tuple[int, float], ...]  # (age developed from, factor) chosen by the caller
    factors: tuple[float, ...]  # the age-to-age factors used, one per age but the last
    tail: float
    cdf: tuple[float, ...]  # age-to-ultimate, one per age (the last is the tail)
    latest: tuple[float, ...]
    ultimate: tuple[float, ...]
    ibnr: tuple[float, ...]

    @property
    def method(self) -> str:
        return "chain_ladder"

    @property
    def total_latest(self) -> float:
        return math.fsum(self.latest)

    @property
    def total_ultimate(self) -> float:
        return math.fsum(self.ultimate)

    @property
    def total_ibnr(self) -> float:
        return math.fsum(self.ibnr)

    def origin_cdf(self) -> tuple[float, ...]:
        """Per origin, the age-to-ultimate factor at its latest age."""
        return tuple(self.cdf[int(k)] for k in self.triangle.latest_index)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "triangle": self.triangle.to_cells(),
            "average": self.average,
            "selected": [[age, f] for age, f in self.selected],
            "factors": list(self.factors),
            "tail": self.tail,
            "cdf": list(self.cdf),
            "origins": origin_rows(
                self.triangle,
                latest_age=tuple(self.triangle.ages[int(k)] for k in self.triangle.latest_index),
                latest=self.latest,
                cdf=self.origin_cdf(),
                ultimate=self.ultimate,
                ibnr=self.ibnr,
            ),
            "totals": {
                "latest": self.total_latest,
                "ultimate": self.total_ultimate,
                "ibnr": self.total_ibnr,
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChainLadder:
        rows = data["origins"]
        return cls(
            triangle=Triangle.from_cells(data["triangle"]),
            average=_average(str(data["average"])),
            selected=tuple((int(a), float(f)) for a, f in data["selected"]),
            factors=tuple(float(f) for f in data["factors"]),
            tail=float(data["tail"]),
            cdf=tuple(float(f) for f in data["cdf"]),
            latest=tuple(float(r["latest"]) for r in rows),
            ultimate=tuple(float(r["ultimate"]) for r in rows),
            ibnr=tuple(float(r["ibnr"]) for r in rows),
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> ChainLadder:
        return cls.from_dict(json.loads(text))


def origin_rows(tri: Triangle, **columns: Sequence[float | None]) -> list[dict[str, Any]]:
    return [
        {"origin": o, **{name: col[i] for name, col in columns.items()}}
        for i, o in enumerate(tri.origins)
    ]


def _average(text: str) -> Average:
    if text not in AVERAGES:
        raise ReservingError(f"unknown average {text!r}: one of {', '.join(AVERAGES)}")
    return text


def _check_factor(name: str, value: float) -> float:
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise ReservingError(f"{name} must be a positive finite number, not {value!r}")
    return value


def chain_ladder(
    tri: Triangle,
    *,
    average: Average = "volume",
    selected: Mapping[int, float] | None = None,
    tail: float = 1.0,
) -> ChainLadder:
    """Chain-ladder ultimates and IBNR; ``selected`` overrides the factor of the ages it names
    (``{12: 2.5}`` is the 12-to-24 factor), ``tail`` develops the last age to ultimate."""
    factors = average_factors(tri, _average(average))
    chosen: list[tuple[int, float]] = []
    for age, factor in sorted((selected or {}).items()):
        if age not in tri.ages[:-1]:
            raise ReservingError(f"selected factor for age {age}: not an age with a next age")
        value = _check_factor(f"the selected factor for age {age}", factor)
        factors[tri.ages.index(age)] = value
        chosen.append((int(age), value))
    tail = _check_factor("the tail factor", tail)
    cdf = np.cumprod(np.append(factors, tail)[::-1])[::-1]
    latest = tri.latest
    ultimate = latest * cdf[tri.latest_index]
    return ChainLadder(
        triangle=tri,
        average=average,
        selected=tuple(chosen),
        factors=tuple(float(f) for f in factors),
        tail=tail,
        cdf=tuple(float(f) for f in cdf),
        latest=tuple(float(v) for v in latest),
        ultimate=tuple(float(v) for v in ultimate),
        ibnr=tuple(float(u - v) for u, v in zip(ultimate, latest, strict=True)),
    )
