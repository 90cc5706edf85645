"""What the policy documents print, as typed facts: every figure and label already resolved.

A template does no arithmetic and no lookups (the documents domain's rule), so these models
carry the human limit labels, the form titles, and money as strings ("1234.50") whose lines
sum to the stored totals. The named insured's name and address are not here (PII is read by
the renderer when the page is drawn); a producer (an agent) and the drivers named in the
schedule are, as the declarations print them.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict


class Facts(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Period(Facts):
    start: date
    end: date
    # When cover starts and ends each day of the period, and in which zone (from the product's
    # claims section, the zone a loss's day is read in).
    time: str
    zone: str


class Transaction(Facts):
    kind: str  # the code, e.g. "new_business"
    title: str  # "New business"
    number: int  # the policy's transaction sequence number
    effective_on: date
    reason: str  # in words; "" when none


class Producer(Facts):
    name: str
    email: str


class Vehicle(Facts):
    number: int
    year: str
    make: str
    model: str
    vin: str
    use: str
    principal_driver: str


class Driver(Facts):
    number: int
    name: str
    age: str
    years_licensed: str


class Dwelling(Facts):
    premises: str
    construction: str
    year_built: str
    protection_class: str
    roof_age: str
    coverage_a: str  # money


class CoverageLine(Facts):
    code: str
    name: str
    vehicle: str  # "Vehicle 1" for a per-vehicle coverage's line; "" for a policy coverage
    limit: str
    deductible: str
    premium: str  # money


class Line(Facts):
    name: str
    amount: str  # money


class Form(Facts):
    number: str
    edition: str
    title: str


class Change(Facts):
    item: str
    before: str
    after: str


class Effect(Facts):
    """The money this transaction moves (the stored premium, fee and tax changes)."""

    premium: str
    fees: str
    taxes: str
    total: str


class Cancellation(Facts):
    effective_on: date
    time: str
    reason: str
    reason_code: str  # insured_request, non_payment, underwriting
    # The underwriter's stated reason (the note typed with an underwriting cancellation, as
    # data; "" for the other reasons, whose note is the staff's, not the insured's).
    note: str
    method: str
    return_premium: str
    taxes_returned: str
    has_taxes_returned: bool = False  # taxes_returned is not zero (templates compare no money)
    written_premium: str  # the term's premium written before the cancellation
    earned_premium: str  # what the carrier keeps of it


class NonRenewal(Facts):
    reason: str
    notice_on: date
    cover_ends_on: date
    notice_days: int


class Declarations(Facts):
    policy_number: str
    product_code: str
    product_name: str
    state: str
    rate_version: str
    transaction: Transaction
    issued_on: date
    period: Period
    status: str
    producer: Producer
    payment_plan: str
    vehicles: list[Vehicle]
    drivers: list[Driver]
    dwelling: Dwelling | None
    coverages: list[CoverageLine]
    coverage_total: str  # the sum of the coverage lines
    adjustments: list[Line]  # surcharges, discounts, minimum premium: coverage_total + these
    term_premium: str  # = the stored term premium
    fees: list[Line]
    fees_total: str
    taxes: list[Line]
    taxes_total: str
    total: str  # the full-term premium, fees and taxes at these terms (a rate, for a whole term)
    # The premium the term's transactions wrote so far, this one included: what this period
    # costs (after a mid-term change it differs from the full-term premium at the new terms).
    term_written: str
    forms: list[Form]
    changes: list[Change]  # versus the state in force before; empty for new business
    effect: Effect
    cancellation: Cancellation | None
    non_renewal: NonRenewal | None
    # Re-applied after an out-of-sequence change: the transaction no. it replaces (reversed in
    # the same batch, which has no page of its own) and this one's effect less that one's, so
    # the pages of a batch add up to what the ledger moved.
    replaces: int | None = None
    net_effect: Effect | None = None


class AccountAfter(Facts):
    """The billing account once the return premium is credited (read from billing in the
    cancellation's own database transaction): what is still owed, or the credit left, and any
    refund that credit paid out at once."""

    owed: str  # money; "0.00" when nothing is owed
    credit: str  # money kept on the account; "0.00" when none
    refunded: str  # money refunded by this cancellation; "0.00" when none
    has_owed: bool
    has_credit: bool
    has_refund: bool


class CancellationConfirmation(Facts):
    policy_number: str
    product_name: str
    state: str
    issued_on: date
    period: Period
    transaction: Transaction
    cancellation: Cancellation
    producer: Producer
    account: AccountAfter | None = None  # None: no billing account (none was ever opened)


class NonRenewalNotice(Facts):
    policy_number: str
    product_name: str
    state: str
    issued_on: date
    period: Period
    non_renewal: NonRenewal
    producer: Producer
