"""How written premium is earned: evenly over a span of the term, by the product's proration.

Premium is earned daily pro-rata by default: on day D (inclusive) of a span [start, end) the
earned share is ``clamp(D - start + 1, 0, end - start) / (end - start)``. By months, the share
follows the term's months instead (see :func:`premium.proration.elapsed`). A span with
``start == end`` is earned at once, on that day.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from pd_prime_demo.premium.proration import ZERO, Proration, elapsed, share


@dataclass(frozen=True, slots=True)
class Earning:
    """A written amount earned evenly over [start, end); instantly when start == end.

    ``term`` is the term the span lies in, needed only to earn by months.
    """

    amount: Decimal
    start: date
    end: date
    basis: Proration = Proration.DAYS
    term: tuple[date, date] | None = None

    def earned_through(self, day: date) -> Decimal:
        if self.end <= self.start:
            return self.amount if day >= self.start else ZERO
        if day < self.start:
            return ZERO
        if day + timedelta(days=1) >= self.end:
            return self.amount
        term_start, term_end = self.term or (self.start, self.end)
        basis = self.basis if self.term is not None else Proration.DAYS
        low = elapsed(term_start, term_end, self.start, basis)
        high = elapsed(term_start, term_end, self.end, basis)
        now = elapsed(term_start, term_end, day + timedelta(days=1), basis)
        return share(self.amount, (now - low) / (high - low))

    def negated(self) -> Earning:
        return Earning(-self.amount, self.start, self.end, self.basis, self.term)

    def to_json(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "amount": str(self.amount),
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
        }
        if self.term is not None and self.basis is not Proration.DAYS:
            item["basis"] = self.basis.value
            item["term"] = [self.term[0].isoformat(), self.term[1].isoformat()]
        return item

    @classmethod
    def from_json(cls, item: dict[str, Any]) -> Earning:
        term = item.get("term")
        return cls(
            Decimal(item["amount"]),
            date.fromisoformat(item["start"]),
            date.fromisoformat(item["end"]),
            Proration(item.get("basis", Proration.DAYS)),
            (date.fromisoformat(term[0]), date.fromisoformat(term[1])) if term else None,
        )


def earnings_from_json(items: Iterable[dict[str, Any]]) -> list[Earning]:
    return [Earning.from_json(item) for item in items]


def earnings_json(earnings: Iterable[Earning]) -> list[dict[str, Any]]:
    return [e.to_json() for e in earnings]


def earned_through(earnings: Iterable[Earning], day: date) -> Decimal:
    return sum((e.earned_through(day) for e in earnings), ZERO)
