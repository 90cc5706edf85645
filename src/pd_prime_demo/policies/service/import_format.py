"""A converted book as the platform reads it, whichever format it came in (JSON or CSV, see
``import_read``), and what an import answers. The format is documented in docs/book-import.md.

Amounts are the legacy system's figures, to the cent. Which fields a transaction needs depends
on its kind; those rules, and everything that needs the product version, are checked when the
policy is built (``import_build``), each problem with its pointer.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from pd_prime_demo.core.dates import BusinessDate
from pd_prime_demo.core.money import Money
from pd_prime_demo.premium.proration import CENT

LIMIT = Decimal(10) ** 10  # Numeric(12, 2) holds less than ten billion


def _cents(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("must be a number")
    if abs(value) >= LIMIT:
        raise ValueError("must be less than 10,000,000,000")
    cents = value.quantize(CENT)
    if cents != value:
        raise ValueError("must be in cents: at most two decimals")
    return cents


Amount = Annotated[Decimal, AfterValidator(_cents)]
Kind = Literal[
    "new_business", "endorsement", "cancellation", "reinstatement", "renewal", "non_renewal"
]


class _In(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class BookTransaction(_In):
    """One transaction of a policy's history, with the full state it leaves in force."""

    kind: Kind
    effective_on: BusinessDate
    booked_on: BusinessDate = Field(
        description="When the legacy system booked it: written premium counts on the later of "
        "this and effective_on."
    )
    term_start: BusinessDate | None = None
    term_end: BusinessDate | None = None
    risk: dict[str, Any] | None = None
    coverages: dict[str, dict[str, str]] | None = Field(default=None, max_length=30)
    premium: dict[str, Amount] | None = Field(
        default=None, max_length=30, description="The term premium of each coverage."
    )
    term_premium: Amount | None = Field(
        default=None, description="The policy's term premium; the coverages' sum by default."
    )
    fees: Amount | None = None
    taxes: Amount | None = None
    premium_change: Amount | None = Field(
        default=None,
        description="A cancellation's return premium (negative) or a reinstatement's additional "
        "premium (positive), as the legacy system charged it.",
    )
    taxes_change: Amount | None = None
    reason_code: str | None = Field(default=None, min_length=1, max_length=200)
    note: str | None = Field(default=None, max_length=2000)
    rate_version: str | None = Field(default=None, min_length=1, max_length=30)
    paid_to_date: Amount | None = Field(
        default=None,
        description="New business or renewal: what the legacy system received for the term, "
        "net of refunds.",
    )


class BookPolicy(_In):
    """A policy as the legacy system has it: its own number, the customer, the product, and the
    history in the order it took effect."""

    number: str = Field(min_length=1, max_length=30, pattern=r"^[A-Za-z0-9][A-Za-z0-9./_-]*$")
    customer_id: uuid.UUID | None = None
    customer_ref: str | None = Field(default=None, min_length=1, max_length=100)
    customer: dict[str, Any] | None = Field(
        default=None, description="A new customer, as POST /api/v1/customers takes it."
    )
    product_code: str = Field(min_length=1, max_length=50)
    state: str = Field(min_length=2, max_length=2)
    payment_plan: str = Field(min_length=1, max_length=20)
    option: str = Field(default="converted", min_length=1, max_length=50)
    rate_version: str | None = Field(default=None, min_length=1, max_length=30)
    transactions: list[BookTransaction] = Field(min_length=1, max_length=200)


# ---------------------------------------------------------------------------------------------
# What an import answers
# ---------------------------------------------------------------------------------------------


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class ImportProblem(_Out):
    number: str | None = Field(description="The policy's number, when it could be read.")
    row: int | None = Field(
        description="Where the policy is: its line in a CSV file (the header is line 1), or its "
        "index in a JSON list (from 0)."
    )
    pointer: str = Field(
        description="JSON Pointer to the field: into the document for JSON (#/3/transactions/1/"
        "risk), into the line's columns for CSV (#/premium.bi, #/risk/drivers/0/age)."
    )
    detail: str


class LoadedPolicy(_Out):
    number: str
    policy_id: uuid.UUID | None = Field(description="None in a dry run.")
    transactions: int
    term_premium: Money = Field(description="The file's term premium, of the state in force last.")
    engine_term_premium: Money | None = Field(
        description="What this platform's rating of that state charges (None if it cannot rate "
        "it, e.g. a risk outside today's tables)."
    )
    difference: Money | None = Field(description="term_premium - engine_term_premium.")


class KnownPolicy(_Out):
    number: str
    policy_id: uuid.UUID


class RefusedPolicy(_Out):
    number: str | None
    row: int | None


class ImportCounts(_Out):
    policies: int
    transactions: int
    loaded: int
    already_loaded: int
    refused: int


class ImportResult(_Out):
    dry_run: bool
    counts: ImportCounts
    loaded: list[LoadedPolicy]
    already_loaded: list[KnownPolicy]
    refused: list[RefusedPolicy]
    problems: list[ImportProblem]
