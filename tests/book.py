"""Builders of converted books for the import tests: policies in the file format, with the
premiums this platform's engine charges (so the legacy figures are plausible)."""

from __future__ import annotations

import copy
import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from pd_prime_demo.core import clock
from pd_prime_demo.core.result_types import Ok
from pd_prime_demo.premium.proration import add_months
from pd_prime_demo.products.shipped import shipped_documents
from pd_prime_demo.quotes.schemas import AUTO_EXAMPLE
from pd_prime_demo.rating.definition import ProductVersionDefinition
from pd_prime_demo.rating.engine import compile_product
from pd_prime_demo.rating.packages import rate_packages

AUTO_COVERAGES: dict[str, dict[str, str]] = {"bi": {"limit": "50/100"}, "pd": {"limit": "50"}}
FULL_COVERAGES: dict[str, dict[str, str]] = {
    "bi": {"limit": "100/300"},
    "pd": {"limit": "100"},
    "collision": {"deductible": "500"},
}


def _engines() -> dict[tuple[str, str], Any]:
    found = {}
    for raw in shipped_documents():
        defn = ProductVersionDefinition.model_validate(raw)
        found[(defn.product_code, defn.state)] = (defn, compile_product(defn))
    return found


ENGINES = _engines()


def auto_risk(**vehicle: Any) -> dict[str, Any]:
    risk: dict[str, Any] = copy.deepcopy(AUTO_EXAMPLE["risk"])
    risk["vehicles"][0].update(vehicle)
    return risk


def figures(
    risk: dict[str, Any],
    coverages: dict[str, dict[str, str]],
    *,
    product: str = "personal_auto",
    state: str = "TX",
) -> dict[str, Any]:
    """The state fields of a transaction, priced by the shipped version."""
    defn, engine = ENGINES[(product, state)]
    rated = rate_packages(defn, engine, risk, [{"name": "standard", "coverages": coverages}], None)
    assert isinstance(rated, Ok), rated
    result = rated.value.results[0][1]
    return {
        "risk": risk,
        "coverages": coverages,
        "premium": {code: str(amount) for code, amount in result.coverage_premiums.items()},
        "term_premium": str(result.premium),
        "fees": str(sum((f.amount for f in result.fees), Decimal(0))),
        "taxes": str(sum((t.amount for t in result.taxes), Decimal(0))),
    }


def new_business(
    start: date, *, months: int = 6, booked: date | None = None, **state: Any
) -> dict[str, Any]:
    return {
        "kind": "new_business",
        "effective_on": start.isoformat(),
        "booked_on": (booked or start).isoformat(),
        "term_start": start.isoformat(),
        "term_end": add_months(start, months).isoformat(),
        **(state or figures(auto_risk(), AUTO_COVERAGES)),
    }


def person(ref: str) -> dict[str, Any]:
    return {
        "kind": "person",
        "first_name": "Rosa",
        "last_name": f"Legacy {ref}",
        "email": f"{ref.lower()}@legacy.example.com",
        "address": {
            "line1": "1 Old Mill Rd",
            "city": "Austin",
            "state": "TX",
            "postal_code": "78701",
        },
        "date_of_birth": "1970-05-01",
        "ssn": "123-45-6789",
    }


def policy(
    number: str | None = None,
    *,
    transactions: list[dict[str, Any]] | None = None,
    start: date | None = None,
    plan: str = "monthly",
    **fields: Any,
) -> dict[str, Any]:
    """A Personal Auto TX policy, new business 90 days ago unless told otherwise."""
    number = number or f"LEG-{uuid.uuid4().hex[:10].upper()}"
    start = start or clock.today() - timedelta(days=90)
    body: dict[str, Any] = {
        "number": number,
        "customer_ref": f"CUST-{number}",
        "customer": person(number),
        "product_code": "personal_auto",
        "state": "TX",
        "payment_plan": plan,
        "option": "standard",
        "transactions": transactions or [new_business(start)],
    }
    body.update(fields)
    return body


def as_csv(items: list[dict[str, Any]]) -> str:
    """The policies as a CSV book (the benchmark's writer: one line per transaction)."""
    import csv
    import io

    from pd_prime_demo.bench.imports import csv_header, csv_lines

    codes = sorted(
        {code for p in items for t in p["transactions"] for code in t.get("premium", {})}
    )
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(csv_header(codes))
    for item in items:
        writer.writerows(csv_lines(item, codes))
    return out.getvalue()
