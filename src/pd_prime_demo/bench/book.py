"""A synthetic book to convert, as a legacy system would export it: Personal Auto and
Homeowners HO-3 in TX, OH and FL, every payment plan, terms started over the past year, some
renewed, endorsed (a few future-dated), cancelled (some reinstated) or non-renewed, and a legacy
premium that differs from this platform's rating on about a third of the policies.

Written as it is generated, one policy at a time (JSON or CSV), so a big book costs no memory.
The premiums are the shipped versions' ratings, perturbed: plausible figures the import books
as given.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

from pd_prime_demo.core.result_types import Ok
from pd_prime_demo.premium.proration import CENT, add_months, cents, prorate
from pd_prime_demo.products.shipped import shipped_documents
from pd_prime_demo.rating.definition import ProductVersionDefinition, Variable
from pd_prime_demo.rating.engine import CompiledProduct, compile_product
from pd_prime_demo.rating.packages import rate_packages

PLANS = (("annual", 3), ("semi_annual", 1.5), ("quarterly", 1.5), ("monthly", 4))
PLAN_MONTHS = {"annual": 12, "semi_annual": 6, "quarterly": 3, "monthly": 1}
# Realistic ranges where a variable's own range is wider than a book shows.
RANGES = {
    "age": (18, 80),
    "years_licensed": (1, 40),
    "accidents_3y": (0, 2),
    "violations_3y": (0, 2),
    "model_year": (2005, 2026),
    "annual_miles": (3000, 25000),
    "protection_class": (1, 8),
    "year_built": (1950, 2024),
    "roof_age": (0, 20),
    "claims_5y": (0, 2),
}
EXCLUDED = {"occupancy": ["rental"], "symbol": ["D"]}  # declined or referred at quote


@dataclass(frozen=True, slots=True)
class Product:
    definition: ProductVersionDefinition
    engine: CompiledProduct

    @property
    def auto(self) -> bool:
        return bool(self.definition.units)


def products() -> list[Product]:
    found = []
    for raw in shipped_documents():
        definition = ProductVersionDefinition.model_validate(raw)
        found.append(Product(definition, compile_product(definition)))
    return found


class BookWriter:
    """Generates policies (``policy``) for a book converted on ``today``."""

    def __init__(self, *, today: date, seed: int = 11, first: int = 1) -> None:
        self.today = today
        self.rng = random.Random(seed)  # noqa: S311 - test data, reproducible by its seed
        self.products = products()
        self.count = first - 1  # numbers and customer refs from ``first``: shards never collide
        self.last_ref: str | None = None

    # -- risks -------------------------------------------------------------------------------

    def _value(self, var: Variable) -> Any:
        rng = self.rng
        if var.type.value == "boolean":
            return rng.random() < 0.4
        if var.type.value == "enum":
            values = [v for v in var.values or [] if v not in EXCLUDED.get(var.name, [])]
            return rng.choice(values)
        low, high = RANGES.get(var.name, (int(var.minimum or 0), int(var.maximum or 100)))
        if var.name == "coverage_a":
            return rng.randrange(150, 800) * 1000
        return rng.randint(low, high)

    def _risk(self, product: Product) -> dict[str, Any]:
        by_scope: dict[str, dict[str, Any]] = {"policy": {}, "driver": {}, "vehicle": {}}
        for var in product.definition.variables:
            by_scope[var.scope.value][var.name] = var
        risk: dict[str, Any] = {
            "policy": {n: self._value(v) for n, v in by_scope["policy"].items()}
        }
        if product.auto:
            drivers = self.rng.randint(1, 3)
            risk["drivers"] = [
                {n: self._value(v) for n, v in by_scope["driver"].items()} for _ in range(drivers)
            ]
            risk["vehicles"] = []
            for _ in range(self.rng.randint(1, 3)):
                vehicle = {n: self._value(v) for n, v in by_scope["vehicle"].items()}
                vehicle["driver"] = self.rng.randrange(drivers)
                risk["vehicles"].append(vehicle)
        return risk

    def _coverages(self, product: Product) -> dict[str, dict[str, str]]:
        chosen: dict[str, dict[str, str]] = {}
        for cov in product.definition.coverages:
            if not cov.required and self.rng.random() < 0.5:
                continue
            if any(needed not in chosen for needed in cov.requires):
                continue
            choice = {}
            if cov.limits:
                choice["limit"] = self.rng.choice(cov.limits).code
            if cov.deductibles:
                choice["deductible"] = self.rng.choice(cov.deductibles).code
            chosen[cov.code] = choice
        return chosen

    def _state(
        self, product: Product, risk: dict[str, Any], coverages: Any, factor: Decimal
    ) -> dict[str, Any]:
        """The state fields: the shipped rating, times the legacy system's ``factor``."""
        defn, engine = product.definition, product.engine
        rated = rate_packages(
            defn, engine, risk, [{"name": "standard", "coverages": coverages}], None
        )
        assert isinstance(rated, Ok), rated  # the generator makes valid risks
        result = rated.value.results[0][1]
        return {
            "risk": risk,
            "coverages": coverages,
            "premium": {c: str(cents(p * factor)) for c, p in result.coverage_premiums.items()},
            "term_premium": str(cents(result.premium * factor)),
            "fees": str(sum((f.amount for f in result.fees), Decimal(0))),
            "taxes": str(cents(sum((t.amount for t in result.taxes), Decimal(0)) * factor)),
        }

    def policy(self) -> dict[str, Any]:
        rng = self.rng
        self.count += 1
        product = rng.choice(self.products)
        defn = product.definition
        factor = Decimal(1) if rng.random() < 0.7 else Decimal(rng.randint(970, 1030)) / 1000
        history = _History(self, product, factor)
        history.live()
        plan = rng.choices([p for p, _ in PLANS], [w for _, w in PLANS])[0]
        if not history.cancelled:
            fees: dict[str, Decimal] = {
                p.code: p.installment_fee for p in defn.billing.payment_plans
            }
            self._paid(history, plan, defn.term_months, fees.get(plan, Decimal(0)))
        number = f"{defn.policy_number_prefix}{self.count:08d}"
        # A household: the previous policy's customer, who buys a second one.
        household = self.last_ref is not None and rng.random() < 0.1
        ref = self.last_ref if household else f"LEGACY-C{self.count:08d}"
        self.last_ref = ref
        body: dict[str, Any] = {
            "number": number,
            "customer_ref": ref,
            "product_code": defn.product_code,
            "state": defn.state,
            "payment_plan": plan,
            "option": "standard",
            "transactions": history.transactions,
        }
        if not household:
            body["customer"] = self._customer(defn.state)
        return body

    def _paid(self, history: _History, plan: str, months: int, fee: Decimal) -> None:
        """What the legacy system received for each term: its installments due by today (as
        this platform splits them: leftover cents on the first, the plan's fee on each later
        one), never more than the term bills after its endorsements. About one account in
        forty missed its latest installment: the billing run's notices and cancellations."""
        step = PLAN_MONTHS[plan]
        count = max(1, -(-months // step))
        behind = self.rng.random() < 0.025
        for txn, billed in zip(history.openings, history.billed, strict=True):
            start = date.fromisoformat(txn["term_start"])
            due = sum(1 for i in range(count) if add_months(start, step * i) < self.today)
            due = max(0, due - 1) if behind and txn is history.openings[-1] else due
            total = Decimal(txn["term_premium"]) + Decimal(txn["fees"]) + Decimal(txn["taxes"])
            base = (total / count).quantize(CENT, rounding=ROUND_DOWN)
            share = total - base * (count - due) + fee * max(0, due - 1) if due else Decimal(0)
            txn["paid_to_date"] = str(max(Decimal(0), min(share, billed + fee * (count - 1))))

    def _customer(self, state: str) -> dict[str, Any]:
        n = self.count
        return {
            "kind": "person",
            "first_name": self.rng.choice(["Ana", "Ben", "Chen", "Dana", "Eli", "Fatima", "Gus"]),
            "last_name": f"Legacy{n}",
            "email": f"policyholder{n}@legacy.example.com",
            "address": {
                "line1": f"{n} Main St",
                "city": "Springfield",
                "state": state,
                "postal_code": f"{10000 + n % 89999:05d}",
            },
            "date_of_birth": date(self.rng.randint(1945, 2000), 5, 17).isoformat(),
        }


class _History:
    """One policy's life, lived forwards from its inception to today."""

    def __init__(self, book: BookWriter, product: Product, factor: Decimal) -> None:
        self.book, self.product, self.factor = book, product, factor
        self.rng, self.today = book.rng, book.today
        defn = product.definition
        self.months = defn.term_months
        self.start = max(
            defn.effective_new_business, self.today - timedelta(days=self.rng.randint(1, 330))
        )
        self.end = add_months(self.start, self.months)
        self.risk, self.coverages = book._risk(product), book._coverages(product)
        self.transactions: list[dict[str, Any]] = []
        self.openings: list[dict[str, Any]] = []
        self.billed: list[Decimal] = []  # what each term bills in all
        self.written = Decimal(0)  # premium written in the term so far
        self.cancelled = False

    @property
    def last_effective(self) -> date:
        return date.fromisoformat(self.transactions[-1]["effective_on"])

    @property
    def last_booked(self) -> date:
        return date.fromisoformat(self.transactions[-1]["booked_on"])

    def booked(self, effective: date, *, lag: int = 7) -> date:
        late = effective + timedelta(days=self.rng.randint(0, lag))
        return min(self.today, max(self.last_booked, late))

    def open(self, kind: str, booked: date) -> None:
        state = self.book._state(self.product, self.risk, self.coverages, self.factor)
        txn = {
            "kind": kind,
            "effective_on": self.start.isoformat(),
            "booked_on": booked.isoformat(),
            "term_start": self.start.isoformat(),
            "term_end": self.end.isoformat(),
            **state,
        }
        self.transactions.append(txn)
        self.openings.append(txn)
        self.billed.append(
            Decimal(state["term_premium"]) + Decimal(state["fees"]) + Decimal(state["taxes"])
        )
        self.written = Decimal(state["term_premium"])
        self.state = state

    def live(self) -> None:
        self.open(
            "new_business", min(self.today, self.start - timedelta(days=self.rng.randint(0, 20)))
        )
        while self.step():
            pass

    def step(self) -> bool:
        """One more transaction; False when the history ends here."""
        roll = self.rng.random()
        if roll < 0.25 and len(self.transactions) < 6:
            return self.endorse()
        if roll < 0.33:
            return self.cancel()
        if roll < 0.35:
            self.non_renew()
            return False
        if self.end > self.today + timedelta(days=25) or self.rng.random() < 0.15:
            return False  # in force today, or lapsed at the end of the term
        booked = max(self.last_booked, self.end - timedelta(days=self.rng.randint(5, 25)))
        self.start, self.end = self.end, add_months(self.end, self.months)
        self.open("renewal", min(booked, self.today))
        return True

    def endorse(self) -> bool:
        days = (self.end - self.start).days
        on = max(self.last_effective, self.start + timedelta(days=self.rng.randint(10, days - 10)))
        if on > self.today + timedelta(days=20) or on >= self.end:
            return False
        # A few are booked ahead of their date (future-dated endorsements).
        booked = (
            self.booked(on)
            if on <= self.today
            else max(self.last_booked, self.today - timedelta(days=3))
        )
        self.risk = json.loads(json.dumps(self.risk))
        if self.product.auto:
            self.rng.choice(self.risk["vehicles"])["annual_miles"] = self.rng.randint(3000, 25000)
        else:
            self.risk["policy"]["coverage_a"] = self.rng.randrange(150, 800) * 1000
        state = self.book._state(self.product, self.risk, self.coverages, self.factor)
        self.transactions.append(
            {
                "kind": "endorsement",
                "effective_on": on.isoformat(),
                "booked_on": booked.isoformat(),
                **state,
            }
        )
        before, self.state = self.state, state
        changes = [
            prorate(Decimal(state[name]) - Decimal(before[name]), self.start, self.end, on)
            for name in ("term_premium", "taxes")
        ]
        self.written += changes[0]
        self.billed[-1] += sum(changes, Decimal(0))
        return True

    def cancel(self) -> bool:
        days = (self.end - self.start).days
        on = max(self.last_effective, self.start + timedelta(days=self.rng.randint(1, days - 1)))
        if on >= self.today or on >= self.end:
            return False
        returned = max(
            Decimal(0), min(self.written, prorate(self.written, self.start, self.end, on))
        )
        reason = self.rng.choices(["insured_request", "non_payment", "underwriting"], [7, 2, 1])[0]
        booked = self.booked(on)
        self.transactions.append(
            {
                "kind": "cancellation",
                "effective_on": on.isoformat(),
                "booked_on": booked.isoformat(),
                "reason_code": reason,
                "premium_change": str(-returned),
            }
        )
        if self.rng.random() < 0.25:
            self.transactions.append(
                {
                    "kind": "reinstatement",
                    "effective_on": on.isoformat(),
                    "booked_on": self.booked(booked, lag=10).isoformat(),
                    "premium_change": str(returned),
                }
            )
            return True
        self.cancelled = True
        return False

    def non_renew(self) -> None:
        on = self.end - timedelta(days=45)
        if self.last_effective <= on <= self.today:
            self.transactions.append(
                {
                    "kind": "non_renewal",
                    "effective_on": on.isoformat(),
                    "booked_on": on.isoformat(),
                    "reason_code": "underwriting: loss history",
                }
            )


def policies(
    count: int, *, today: date, seed: int = 11, first: int = 1
) -> Iterator[dict[str, Any]]:
    writer = BookWriter(today=today, seed=seed, first=first)
    for _ in range(count):
        yield writer.policy()
