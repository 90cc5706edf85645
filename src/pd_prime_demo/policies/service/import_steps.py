"""Each kind of converted transaction as the lifecycle rule that live business applies
(``policies.rules``), on the legacy system's figures.

The state a transaction leaves in force is the file's (risk, coverages, premiums by coverage,
fees and taxes: booked as given, never re-rated), and the premium it writes follows from the
states as live business derives it: the term premium for new business and renewals, the prorated
difference for an endorsement. A cancellation's return premium and a reinstatement's additional
premium are the file's too (legacy systems differ in how they compute them); where they equal
what this platform's rules give, the transaction is exactly the live one, and where they differ
only the amounts (and the part earned at once) are the file's.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from pd_prime_demo.policies import rules
from pd_prime_demo.policies.enums import CancellationReason, PolicyStatus, TransactionKind
from pd_prime_demo.policies.service.cancellation_terms import cancellation_terms, term_figures
from pd_prime_demo.policies.service.common import proration_of
from pd_prime_demo.policies.service.import_format import BookTransaction
from pd_prime_demo.policies.service.import_read import Issue, Path
from pd_prime_demo.policies.state import PolicyState
from pd_prime_demo.premium.earning import Earning
from pd_prime_demo.premium.proration import ZERO, cents
from pd_prime_demo.products import service as products

Outcome = tuple[rules.Transition, dict[str, Any]] | list[Issue]  # the transition and its change


@dataclass(frozen=True, slots=True)
class NewState:
    """The state a new business, endorsement or renewal leaves: the file's, checked against
    its version and priced as the file gives it."""

    tx: BookTransaction
    risk: dict[str, Any]
    coverages: dict[str, dict[str, str]]
    priced: rules.Priced
    version: products.CompiledVersion
    at: Path


def merge_diff(old: Any, new: Any) -> Any:
    """The JSON merge patch (RFC 7396) that turns ``old`` into ``new``: what an endorsement
    would have asked for (arrays, like scalars, are replaced whole)."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return new
    patch: dict[str, Any] = {key: None for key in old if key not in new}
    for key, value in new.items():
        if key not in old:
            patch[key] = value
        elif old[key] != value:
            patch[key] = merge_diff(old[key], value)
    return patch


def endorse(state: PolicyState, new: NewState) -> Outcome:
    tx = new.tx
    if not state.covers(tx.effective_on):
        return [((*new.at, "effective_on"), "the policy is not in force on that date")]
    transition = rules.endorse(
        state,
        new.priced,
        effective_on=tx.effective_on,
        risk=new.risk,
        coverages=new.coverages,
        proration=proration_of(new.version),
        note=tx.note,
    )
    patches = (
        ("risk", merge_diff(state.risk, new.risk)),
        ("coverages", merge_diff(state.coverages, new.coverages)),
    )
    return transition, {key: patch for key, patch in patches if patch}


def cancel(
    state: PolicyState,
    entries: list[rules.Transition],
    tx: BookTransaction,
    *,
    version: products.CompiledVersion,
    at: Path,
) -> Outcome:
    issues: list[Issue] = []
    try:
        reason = CancellationReason(tx.reason_code or "")
    except ValueError:
        reasons = [r.value for r in CancellationReason]
        issues.append(((*at, "reason_code"), f"must be one of {reasons}"))
    if tx.premium_change is None or tx.premium_change > 0:
        issues.append(((*at, "premium_change"), "the return premium: required, zero or less"))
    if tx.taxes_change is not None and tx.taxes_change > 0:
        issues.append(((*at, "taxes_change"), "the taxes returned: zero or less"))
    if not state.covers(tx.effective_on):
        issues.append(((*at, "effective_on"), "the policy is not in force on that date"))
    if issues or tx.premium_change is None:
        return issues
    term = term_figures(entries, state.term_start)
    returned = -tx.premium_change
    if returned > term.written:
        detail = f"returns more than the term's written premium ({term.written})"
        return [((*at, "premium_change"), detail)]
    if tx.taxes_change is not None and -tx.taxes_change > term.taxes_written:
        detail = f"returns more than the term's taxes ({term.taxes_written})"
        return [((*at, "taxes_change"), detail)]
    ours = rules.cancel(
        state,
        term,
        effective_on=tx.effective_on,
        reason=reason,
        product_method=version.definition.cancellation.method,
        terms=cancellation_terms(version),
        note=tx.note,
    )
    taxes = (
        -tx.taxes_change
        if tx.taxes_change is not None
        else (cents(term.taxes_written * returned / term.written) if term.written else ZERO)
    )
    change = {"reason_code": reason.value}
    if (-returned, -taxes) == (ours.premium_change, ours.taxes_change):
        return ours, change
    assert ours.state.cancellation is not None
    unearned = -ours.earnings[0].amount  # what was unearned the day cover ends
    theirs = dataclasses.replace(
        ours,
        premium_change=-returned,
        taxes_change=-taxes,
        earnings=(ours.earnings[0], Earning(unearned - returned, tx.effective_on, tx.effective_on)),
        state=ours.state.model_copy(
            update={
                "cancellation": ours.state.cancellation.model_copy(
                    update={"return_premium": returned}
                )
            }
        ),
    )
    return theirs, change


def reinstate(
    state: PolicyState,
    entries: list[rules.Transition],
    tx: BookTransaction,
    *,
    version: products.CompiledVersion,
    at: Path,
) -> Outcome:
    cancelled = next(
        (
            e
            for e in reversed(entries)
            if e.kind is TransactionKind.CANCELLATION and e.state.term_start == state.term_start
        ),
        None,
    )
    if state.cancellation is None or cancelled is None:
        return [((*at, "kind"), "only a cancelled policy can be reinstated")]
    cancelled_on = state.cancellation.effective_on
    issues: list[Issue] = []
    if not cancelled_on <= tx.effective_on < state.term_end:
        detail = "a reinstatement is effective between the cancellation and the term's end"
        issues.append(((*at, "effective_on"), detail))
    if tx.premium_change is None or tx.premium_change < 0:
        issues.append(((*at, "premium_change"), "the additional premium: required, zero or more"))
    if tx.taxes_change is not None and tx.taxes_change < 0:
        issues.append(((*at, "taxes_change"), "the taxes charged again: zero or more"))
    if issues or tx.premium_change is None:
        return issues
    ours = rules.reinstate(
        state,
        cancelled,
        effective_on=tx.effective_on,
        proration=proration_of(version),
        note=tx.note,
    )
    change = {"lapse": tx.effective_on != cancelled_on}
    premium = tx.premium_change
    taxes = tx.taxes_change if tx.taxes_change is not None else ours.taxes_change
    if (premium, taxes) == (ours.premium_change, ours.taxes_change):
        return ours, change
    earnings = ours.earnings
    if premium != ours.premium_change:
        # The file's additional premium, earned over the rest of the term.
        term = (state.term_start, state.term_end)
        earnings = (Earning(premium, tx.effective_on, state.term_end, proration_of(version), term),)
    return dataclasses.replace(
        ours, premium_change=premium, taxes_change=taxes, earnings=earnings
    ), change


def non_renew(state: PolicyState, tx: BookTransaction, *, at: Path) -> Outcome:
    issues: list[Issue] = []
    if state.status is not PolicyStatus.IN_FORCE or state.non_renewal is not None:
        issues.append(((*at, "kind"), "the policy is not in force or already non-renewed"))
    if not tx.reason_code:
        issues.append(((*at, "reason_code"), "required: the reason it is not renewed"))
    if tx.note is not None:
        issues.append(((*at, "note"), "a non-renewal's note is its reason_code"))
    if issues or not tx.reason_code:
        return issues
    reason = tx.reason_code
    return rules.non_renew(state, reason=reason, notice_on=tx.effective_on), {"reason": reason}


def renew(state: PolicyState, new: NewState, *, term_end: date) -> Outcome:
    tx, at = new.tx, new.at
    if state.status is not PolicyStatus.IN_FORCE or state.non_renewal is not None:
        return [((*at, "kind"), "only a policy in force, not non-renewed, renews")]
    if tx.term_start != state.term_end:
        return [((*at, "term_start"), f"a renewal starts when the term ends ({state.term_end})")]
    proration = proration_of(new.version)
    expiring = state.model_copy(
        update={"surcharge": None, "risk": new.risk, "coverages": new.coverages}
    )
    offered = rules.renew(expiring, new.priced, term_end=term_end, proration=proration)
    return rules.accept_renewal(offered, proration=proration), {
        "product_version_id": str(new.version.id)
    }


def priced_as_given(
    version: products.CompiledVersion, tx: BookTransaction, premiums: dict[str, Decimal]
) -> rules.Priced:
    """The file's figures as a rating would have given them."""
    premium = tx.term_premium if tx.term_premium is not None else sum(premiums.values(), ZERO)
    return rules.Priced(
        version_id=version.id,
        rate_version=version.version,
        coverage_premiums=dict(premiums),
        premium=premium,
        fees=tx.fees or ZERO,
        taxes=tx.taxes or ZERO,
    )
