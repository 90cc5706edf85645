"""What may be erased about a person, what must be kept and why, and how long each record class
is kept: pure rules (no I/O), the part of privacy that is a legal judgement.

Erasure (GDPR Art. 17, CCPA 1798.105) is not "delete the customer": an insurer must keep the
policy, claim and accounting records for years after the relationship ends (state insurance
record rules, tax law) and may keep what it needs to defend or pursue a legal claim. So each
record class gets one of three dispositions: erased (deleted, or scrubbed so that nothing about
the person is left), pseudonymised (kept for the duty, its direct identifiers replaced), or
withheld (kept as it is, with the legal basis the report states).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date


class RecordClass(enum.StrEnum):
    CUSTOMER = "customer"  # the customer record: names, contact, government ids, birth date
    QUOTE_UNBOUND = "quote_unbound"  # a quote that never became a policy
    QUOTE_BOUND = "quote_bound"  # the quote a policy was bound from: its underwriting file
    POLICY = "policy"  # the policy, its transactions, renewals and changes
    DOCUMENT = "document"  # declarations pages, invoices, notices
    BILLING = "billing"  # billing accounts, invoices (installments), payments, refunds, ledger
    CLAIM = "claim"  # the claim file: FNOL, description, notes, reserves, payments
    CLAIM_PARTY = "claim_party"  # the person as a party of a claim (name and contact)
    USER_ACCOUNT = "user_account"  # the login: e-mail and name
    SESSION = "session"  # login sessions and refresh tokens
    CREDENTIAL = "credential"  # MFA factors, recovery codes, passkeys, API keys
    MARKETING_CONSENT = "marketing_consent"
    AUDIT = "audit"  # the audit chain: ids and actions, never values
    ACCESS_EXPORT = "access_export"  # answers to access requests kept for download


class Disposition(enum.StrEnum):
    ERASE = "erase"
    PSEUDONYMISE = "pseudonymise"
    WITHHOLD = "withhold"


# The legal bases a report cites, as the person reads them.
ART_17_3_B = (
    "GDPR Art. 17(3)(b): kept to comply with a legal obligation (state insurance record "
    "retention rules, tax and accounting law)"
)
ART_17_3_E = "GDPR Art. 17(3)(e): kept for the establishment, exercise or defence of legal claims"
STATE_RECORD_RULE = (
    "State insurance record retention (NAIC Record Retention Model Regulation: policy records "
    "for the term plus the examination period, claim files for years after closing)"
)
CCPA_105_D = "CCPA 1798.105(d)(1), (8): needed to perform the contract and comply with the law"
AUDIT_INTEGRITY = (
    "GDPR Art. 5(2), 30 and AICPA TSC CC7.2: the audit chain holds ids and actions only, no "
    "personal values; altering it would destroy the evidence that the erasure happened"
)


@dataclass(frozen=True, slots=True)
class Decision:
    record_class: RecordClass
    disposition: Disposition
    basis: str  # why (the legal basis for keeping, or the right being honoured)
    kept_fields: tuple[str, ...] = ()  # for pseudonymise / withhold: what stays, the duty needs it


@dataclass(frozen=True, slots=True)
class PersonFacts:
    """What the database says about the person's relationship with the insurer."""

    has_policy: bool
    has_claim: bool
    has_user_account: bool
    # Named as a party (claimant, witness, driver) in someone else's claim.
    is_claim_party: bool = False
    # The latest term end of a policy in force or pending today; None: none is.
    policy_in_force_until: date | None = None
    open_claim: bool = False


_ERASE_BASIS = "GDPR Art. 17(1)(a); CCPA 1798.105(a): no longer necessary, no duty to keep it"


def erasure_plan(facts: PersonFacts) -> dict[RecordClass, Decision]:
    """The disposition of every record class for an erasure request.

    A prospect (no policy, no claim) is erased outright. Anyone with insurance history keeps
    their policy, claim and billing records (legal duty), with the customer record's direct
    identifiers replaced, so that the records outlive the person's identity in them.
    """
    insured = facts.has_policy or facts.has_claim
    plan: dict[RecordClass, Decision] = {
        RecordClass.QUOTE_UNBOUND: Decision(
            RecordClass.QUOTE_UNBOUND, Disposition.ERASE, _ERASE_BASIS
        ),
        RecordClass.SESSION: Decision(RecordClass.SESSION, Disposition.ERASE, _ERASE_BASIS),
        RecordClass.CREDENTIAL: Decision(RecordClass.CREDENTIAL, Disposition.ERASE, _ERASE_BASIS),
        RecordClass.MARKETING_CONSENT: Decision(
            RecordClass.MARKETING_CONSENT,
            Disposition.ERASE,
            "GDPR Art. 7(3), 21(3): marketing consent withdrawn with the erasure",
        ),
        RecordClass.AUDIT: Decision(RecordClass.AUDIT, Disposition.WITHHOLD, AUDIT_INTEGRITY),
        RecordClass.ACCESS_EXPORT: Decision(
            RecordClass.ACCESS_EXPORT,
            Disposition.ERASE,
            _ERASE_BASIS + " (a copy made to answer an access request)",
        ),
    }
    if facts.has_user_account:
        plan[RecordClass.USER_ACCOUNT] = Decision(
            RecordClass.USER_ACCOUNT,
            Disposition.ERASE,
            _ERASE_BASIS + " (the login is disabled; its row stays as an id the audit names)",
        )
    if facts.is_claim_party or facts.has_claim:
        plan[RecordClass.CLAIM_PARTY] = Decision(
            RecordClass.CLAIM_PARTY,
            Disposition.PSEUDONYMISE,
            f"{ART_17_3_E}: the party stays in the claim file under a pseudonym",
            kept_fields=("role", "injured", "claim"),
        )
    if not insured:
        plan[RecordClass.CUSTOMER] = Decision(
            RecordClass.CUSTOMER,
            Disposition.ERASE,
            _ERASE_BASIS + " (a prospect: never held a policy or a claim)",
        )
        return plan
    plan[RecordClass.CUSTOMER] = Decision(
        RecordClass.CUSTOMER,
        Disposition.PSEUDONYMISE,
        f"{ART_17_3_B}; {CCPA_105_D}",
        kept_fields=("id", "kind", "state", "country", "created_at"),
    )
    if facts.has_policy:
        plan[RecordClass.QUOTE_BOUND] = Decision(
            RecordClass.QUOTE_BOUND,
            Disposition.WITHHOLD,
            f"{ART_17_3_B}; {STATE_RECORD_RULE}: the underwriting file of a policy",
            kept_fields=("number", "risk", "options", "rating", "premium", "underwriting"),
        )
        plan[RecordClass.POLICY] = Decision(
            RecordClass.POLICY,
            Disposition.WITHHOLD,
            f"{ART_17_3_B}; {STATE_RECORD_RULE}",
            kept_fields=(
                "number",
                "inception_on",
                "transactions (dates, premium, fees, taxes, rating facts)",
            ),
        )
        plan[RecordClass.DOCUMENT] = Decision(
            RecordClass.DOCUMENT,
            Disposition.WITHHOLD,
            f"{ART_17_3_B}; {STATE_RECORD_RULE}: the documents issued under the policy",
            kept_fields=("kind", "facts (ids and amounts)", "the issued PDF"),
        )
        plan[RecordClass.BILLING] = Decision(
            RecordClass.BILLING,
            Disposition.WITHHOLD,
            f"{ART_17_3_B}: money is never deleted (the ledger must balance and be auditable)",
            kept_fields=("invoices", "payments", "refunds", "ledger amounts"),
        )
    if facts.has_claim:
        plan[RecordClass.CLAIM] = Decision(
            RecordClass.CLAIM,
            Disposition.WITHHOLD,
            f"{ART_17_3_E}; {STATE_RECORD_RULE}",
            kept_fields=("number", "loss date", "description", "notes", "reserves", "payments"),
        )
    return plan


@dataclass(frozen=True, slots=True)
class Deferral:
    """Why an erasure cannot be carried out yet, and from when it may be asked again."""

    reasons: tuple[str, ...]
    basis: str
    not_before: date | None  # None: when the open claims close (no date is known)


ERASURE_DEFERRED_BASIS = (
    "GDPR Art. 17(1)(a) does not apply while the data is still necessary to perform the "
    "contract (Art. 6(1)(b)); Art. 17(3)(b), (e): kept under the insurance record duties and "
    "for a claim that is open; CCPA 1798.105(d)(1)"
)


def erasure_deferral(facts: PersonFacts) -> Deferral | None:
    """An erasure is refused while a policy is in force or pending (the contract still needs
    the data) or a claim is open (a live legal claim): the person may ask again after the
    policy's end, or once the claim closes. None: the erasure may proceed."""
    reasons: list[str] = []
    if facts.policy_in_force_until is not None:
        reasons.append(f"a policy is in force or pending until {facts.policy_in_force_until}")
    if facts.open_claim:
        reasons.append("a claim is open")
    if not reasons:
        return None
    return Deferral(tuple(reasons), ERASURE_DEFERRED_BASIS, facts.policy_in_force_until)


# --- Retention schedules -----------------------------------------------------------------


class RetentionClass(enum.StrEnum):
    UNBOUND_QUOTE = "unbound_quote"  # deleted N years after it expired
    PROSPECT = "prospect"  # a customer with no policy or claim, erased N years after last quote
    FORMER_INSURED = "former_insured"  # pseudonymised N years after the last policy / claim ended


@dataclass(frozen=True, slots=True)
class RetentionPeriod:
    record_class: RetentionClass
    years: int
    action: Disposition
    basis: str

    def cutoff(self, today: date) -> date:
        """Records whose clock (expiry, closure, last activity) is before this are due."""
        return years_before(today, self.years)


def years_before(day: date, years: int) -> date:
    """``day`` minus whole years; 29 February falls back to the 28th."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def schedule(
    *, unbound_quote_years: int, prospect_years: int, former_insured_years: int
) -> tuple[RetentionPeriod, ...]:
    """The retention schedule the settings give, with why each period is what it is."""
    return (
        RetentionPeriod(
            RetentionClass.UNBOUND_QUOTE,
            unbound_quote_years,
            Disposition.ERASE,
            "GDPR Art. 5(1)(e) storage limitation: kept for a re-quote and complaint period "
            "after expiry, then deleted",
        ),
        RetentionPeriod(
            RetentionClass.PROSPECT,
            prospect_years,
            Disposition.ERASE,
            "GDPR Art. 5(1)(e); CCPA 1798.100(a)(3): a prospect's record is erased once no "
            "quote of theirs is recent",
        ),
        RetentionPeriod(
            RetentionClass.FORMER_INSURED,
            former_insured_years,
            Disposition.PSEUDONYMISE,
            "State insurance record rules and IRS record-keeping (7 years is the longest usual "
            "US period after expiry or claim closure); after it the policy, claim and ledger "
            "records stay for the books, pseudonymised: money is never deleted",
        ),
    )


def is_due(last_activity_on: date | None, period: RetentionPeriod, today: date) -> bool:
    """A record whose clock has not started (None: still open) is never due."""
    return last_activity_on is not None and last_activity_on < period.cutoff(today)


@dataclass(frozen=True, slots=True)
class CustomerClock:
    """The dates a customer's retention runs from (what the database says of them)."""

    created_on: date
    unbound_quote_expiries: tuple[date, ...]  # of their quotes that never bound
    last_quote_expiry: date | None  # of any quote of theirs
    last_policy_end: date | None  # None: never held a policy
    has_claim: bool
    open_claim: bool
    last_claim_closed: date | None


def due_quotes(expiries: tuple[date, ...], period: RetentionPeriod, today: date) -> list[int]:
    """Indexes of the unbound quotes whose retention ran out."""
    return [i for i, expired in enumerate(expiries) if is_due(expired, period, today)]


def customer_due(
    clock: CustomerClock,
    *,
    prospect: RetentionPeriod,
    former_insured: RetentionPeriod,
    today: date,
) -> RetentionClass | None:
    """Whether the customer record itself is due, and as what.

    A prospect's clock is their last quote's expiry (or, with none, when the record was made).
    A former insured's is the later of their last policy's end and their last claim's
    closing; an open claim stops it (Art. 17(3)(e): a live claim is a legal claim)."""
    if clock.open_claim:
        return None
    if clock.last_policy_end is None and not clock.has_claim:
        started = max(filter(None, (clock.last_quote_expiry, clock.created_on)))
        return RetentionClass.PROSPECT if is_due(started, prospect, today) else None
    ends = [d for d in (clock.last_policy_end, clock.last_claim_closed) if d is not None]
    if not ends:
        return None
    return RetentionClass.FORMER_INSURED if is_due(max(ends), former_insured, today) else None


# --- What an access answer withholds ------------------------------------------------------


class WithheldReason(enum.StrEnum):
    """Why an access answer withholds an item (a domain's privacy module names the reason by
    its value; ``WITHHELD_BASIS`` says it to the person)."""

    LEGAL_CLAIMS = "legal_claims"  # internal notes, reserves, coverage findings, adjuster-only
    FRAUD_INVESTIGATION = "fraud_investigation"  # fraud and SIU indicators
    GOVERNMENT_ID = "government_id"  # SSN, driver's licence number (CCPA answer)


WITHHELD_BASIS: dict[WithheldReason, str] = {
    WithheldReason.LEGAL_CLAIMS: (
        "GDPR Art. 15(4) and Art. 23(1)(j): withheld for the establishment, exercise or "
        "defence of legal claims (the insurer's claim evaluation: internal notes, reserves, "
        "coverage findings); CCPA 1798.145(a)(1)(E): to exercise or defend legal claims"
    ),
    WithheldReason.FRAUD_INVESTIGATION: (
        "GDPR Art. 23(1)(d), (j): withheld for the prevention and investigation of insurance "
        "fraud; state insurance fraud statutes (NAIC Insurance Fraud Prevention Model Act: "
        "fraud investigation information is confidential); CCPA 1798.145(a)(1)(B), (E)"
    ),
    WithheldReason.GOVERNMENT_ID: (
        "CCPA regulations 11 CCR 7024(d): a business shall not disclose a Social Security "
        "number or driver's licence number in response to a request to know; shown masked"
    ),
}
