"""The policy lifecycle as pure functions: each takes the state in force and returns the
transition (the next state, its premium, fee and tax changes, and how its premium is earned).

No I/O: the services price the risk (rating) and load the term's figures, then call these; what
they return is recorded as it is. Money is rounded half-up to the cent at each stated step.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from pd_prime_demo.policies.enums import CancellationReason, PolicyStatus, TransactionKind
from pd_prime_demo.policies.state import CancellationInfo, Lapse, NonRenewalNotice, PolicyState
from pd_prime_demo.premium.cancellation import (
    CancellationMethod,
    CancellationTerms,
    returned_at_cancellation,
    unearned_from,
)
from pd_prime_demo.premium.earning import Earning
from pd_prime_demo.premium.proration import ZERO, Proration, cents, prorate


@dataclass(frozen=True, slots=True)
class Priced:
    """A rating of one risk and set of coverages on one product version."""

    version_id: uuid.UUID
    rate_version: str
    coverage_premiums: dict[str, Decimal]
    premium: Decimal
    fees: Decimal
    taxes: Decimal


@dataclass(frozen=True, slots=True)
class Transition:
    """What a transaction records: the state it puts in force and the money it moves."""

    kind: TransactionKind
    effective_on: date
    state: PolicyState
    premium_change: Decimal
    fees_change: Decimal
    taxes_change: Decimal
    earnings: tuple[Earning, ...]
    reason_code: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class TermFigures:
    """What the transactions of one term wrote so far (for a cancellation or reinstatement)."""

    written: Decimal
    taxes_written: Decimal
    earnings: tuple[Earning, ...] = field(default_factory=tuple)


def _priced_state(state: PolicyState, priced: Priced, **changes: Any) -> PolicyState:
    return state.model_copy(
        update={
            "coverage_premiums": priced.coverage_premiums,
            "term_premium": priced.premium,
            "fees": priced.fees,
            "taxes": priced.taxes,
            "rate_version": priced.rate_version,
            "product_version_id": priced.version_id,
            **changes,
        }
    )


def _term_earning(amount: Decimal, start: date, state: PolicyState, basis: Proration) -> Earning:
    return Earning(amount, start, state.term_end, basis, (state.term_start, state.term_end))


def issue(
    *,
    term_start: date,
    term_end: date,
    option: str,
    coverages: dict[str, dict[str, str]],
    risk: dict[str, Any],
    priced: Priced,
    surcharge: Decimal | None,
    payment_plan: str,
    insured_id: uuid.UUID,
    proration: Proration,
) -> Transition:
    """New business: the first term, as quoted and bound."""
    state = PolicyState(
        status=PolicyStatus.IN_FORCE,
        term_start=term_start,
        term_end=term_end,
        option=option,
        coverages=coverages,
        coverage_premiums=priced.coverage_premiums,
        term_premium=priced.premium,
        fees=priced.fees,
        taxes=priced.taxes,
        risk=risk,
        rate_version=priced.rate_version,
        product_version_id=priced.version_id,
        surcharge=surcharge,
        payment_plan=payment_plan,
        insured_id=insured_id,
    )
    return Transition(
        TransactionKind.NEW_BUSINESS,
        term_start,
        state,
        priced.premium,
        priced.fees,
        priced.taxes,
        (_term_earning(priced.premium, term_start, state, proration),),
    )


def endorse(
    state: PolicyState,
    priced: Priced,
    *,
    effective_on: date,
    risk: dict[str, Any],
    coverages: dict[str, dict[str, str]],
    proration: Proration,
    note: str | None = None,
) -> Transition:
    """A mid-term change re-rated on the term's version: the difference in term premium (and
    taxes) for the rest of the term, prorated."""
    start, end = state.term_start, state.term_end
    premium_change = prorate(
        priced.premium - state.term_premium, start, end, effective_on, proration
    )
    taxes_change = prorate(priced.taxes - state.taxes, start, end, effective_on, proration)
    new_state = _priced_state(state, priced, risk=risk, coverages=coverages)
    return Transition(
        TransactionKind.ENDORSEMENT,
        effective_on,
        new_state,
        premium_change,
        ZERO,
        taxes_change,
        (_term_earning(premium_change, effective_on, state, proration),),
        note=note,
    )


def cancellation_method(
    state: PolicyState, effective_on: date, reason: CancellationReason, product_method: str
) -> CancellationMethod:
    """Flat from the term's first day; the product's method when the insured asks; pro-rata
    when the carrier cancels (non-payment, underwriting)."""
    if effective_on == state.term_start:
        return CancellationMethod.FLAT
    if reason is CancellationReason.INSURED_REQUEST:
        return CancellationMethod(product_method)
    return CancellationMethod.PRO_RATA


def cancel(
    state: PolicyState,
    term: TermFigures,
    *,
    effective_on: date,
    reason: CancellationReason,
    product_method: str,
    terms: CancellationTerms,
    note: str | None = None,
) -> Transition:
    """End cover from ``effective_on``: return premium by the method, taxes in proportion.

    The remaining earning of the term stops; a short-rate penalty or a minimum earned premium
    is earned at once. A minimum earned premium is the insured's cost of leaving early, never
    the carrier's: it applies only to the insured's own request.
    """
    start, end = state.term_start, state.term_end
    method = cancellation_method(state, effective_on, reason, product_method)
    if reason is not CancellationReason.INSURED_REQUEST or method is CancellationMethod.FLAT:
        terms = CancellationTerms(
            short_rate=terms.short_rate,
            short_rate_basis=terms.short_rate_basis,
            return_percent_of_pro_rata=terms.return_percent_of_pro_rata,
            proration=terms.proration,
        )
    written = term.written
    unearned = sum((unearned_from(e, effective_on) for e in term.earnings), ZERO)
    returned = returned_at_cancellation(method, written, unearned, start, end, effective_on, terms)
    penalty = unearned - returned
    assert penalty >= 0 or written <= 0, (unearned, returned)
    taxes_returned = cents(term.taxes_written * returned / written) if written else ZERO
    new_state = state.model_copy(
        update={
            "status": PolicyStatus.CANCELLED,
            "cancellation": CancellationInfo(
                effective_on=effective_on,
                reason_code=reason,
                method=method,
                return_premium=returned,
            ),
        }
    )
    return Transition(
        TransactionKind.CANCELLATION,
        effective_on,
        new_state,
        -returned,
        ZERO,
        -taxes_returned,
        (
            Earning(-unearned, effective_on, end, terms.proration, (start, end)),
            Earning(penalty, effective_on, effective_on),
        ),
        reason_code=reason.value,
        note=note,
    )


def reinstate(
    state: PolicyState,
    cancellation: Transition,
    *,
    effective_on: date,
    proration: Proration,
    note: str | None = None,
) -> Transition:
    """Reverse a cancellation: from its own date (no lapse: everything it returned is written
    again and earned as before), or later (a lapse in cover: the rest of the term, prorated)."""
    assert state.cancellation is not None
    cancelled_on = state.cancellation.effective_on
    restored = state.model_copy(update={"status": PolicyStatus.IN_FORCE, "cancellation": None})
    if effective_on == cancelled_on:
        return Transition(
            TransactionKind.REINSTATEMENT,
            effective_on,
            restored.model_copy(update={"lapse": None}),
            -cancellation.premium_change,
            ZERO,
            -cancellation.taxes_change,
            tuple(e.negated() for e in cancellation.earnings),
            note=note,
        )
    start, end = state.term_start, state.term_end
    premium_change = prorate(state.term_premium, start, end, effective_on, proration)
    taxes_change = prorate(state.taxes, start, end, effective_on, proration)
    return Transition(
        TransactionKind.REINSTATEMENT,
        effective_on,
        restored.model_copy(update={"lapse": Lapse(from_=cancelled_on, to=effective_on)}),
        premium_change,
        ZERO,
        taxes_change,
        (_term_earning(premium_change, effective_on, state, proration),),
        note=note,
    )


def renew(
    state: PolicyState, priced: Priced, *, term_end: date, proration: Proration
) -> PolicyState:
    """The next term's state: the same risk and coverages, re-rated on the renewal version."""
    return _priced_state(
        state,
        priced,
        status=PolicyStatus.IN_FORCE,
        term_start=state.term_end,
        term_end=term_end,
        cancellation=None,
        lapse=None,
        non_renewal=None,
    )


def accept_renewal(offered: PolicyState, *, proration: Proration) -> Transition:
    """The renewal transaction: the offered term's premium, written and earned over it."""
    return Transition(
        TransactionKind.RENEWAL,
        offered.term_start,
        offered,
        offered.term_premium,
        offered.fees,
        offered.taxes,
        (_term_earning(offered.term_premium, offered.term_start, offered, proration),),
    )


def non_renew(state: PolicyState, *, reason: str, notice_on: date) -> Transition:
    """Notice that the policy will not renew; cover runs to the end of the term."""
    return Transition(
        TransactionKind.NON_RENEWAL,
        notice_on,
        state.model_copy(
            update={"non_renewal": NonRenewalNotice(reason=reason, notice_on=notice_on)}
        ),
        ZERO,
        ZERO,
        ZERO,
        (),
        reason_code="non_renewal",
        note=reason,
    )


def reverse(transition: Transition, *, note: str) -> Transition:
    """Undo a transaction: the same money the other way, earned back over the same spans. The
    state it carries is the one it undoes (for the record: a reversal is never in effect)."""
    return Transition(
        TransactionKind.REVERSAL,
        transition.effective_on,
        transition.state,
        -transition.premium_change,
        -transition.fees_change,
        -transition.taxes_change,
        tuple(e.negated() for e in transition.earnings),
        note=note,
    )


# ---------------------------------------------------------------------------------------------
# Changes as JSON merge patches (RFC 7396), and how two of them collide
# ---------------------------------------------------------------------------------------------


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396: ``patch`` applied to ``target`` (objects merge, ``null`` removes a member,
    anything else, arrays included, replaces)."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


def touched(patch: Any, prefix: str = "") -> dict[str, Any]:
    """The JSON Pointers a merge patch sets (or removes, as None), with their new values: its
    leaves, where an array or a scalar is a leaf."""
    if not isinstance(patch, dict) or not patch:
        return {prefix: patch}
    found: dict[str, Any] = {}
    for key, value in patch.items():
        escaped = str(key).replace("~", "~0").replace("/", "~1")
        found.update(touched(value, f"{prefix}/{escaped}"))
    return found


def _overlap(a: str, b: str) -> bool:
    return a == b or a.startswith(b + "/") or b.startswith(a + "/")


@dataclass(frozen=True, slots=True)
class FieldConflict:
    """A field an out-of-sequence change sets that a later change set to something else."""

    field: str
    new: Any
    later: Any


def conflicts(new: dict[str, Any], later: dict[str, Any]) -> list[FieldConflict]:
    """Where two changes (``{"risk": patch, "coverages": patch}``) set the same field to
    different values."""
    mine, theirs = touched(new), touched(later)
    return [
        FieldConflict(field, value, theirs[other])
        for field, value in mine.items()
        for other in theirs
        if _overlap(field, other) and value != theirs[other]
    ]


def without(change: dict[str, Any], fields: set[str]) -> dict[str, Any]:
    """``change`` with every leaf at or under ``fields`` left out (the new values win there)."""
    kept: dict[str, Any] = {}
    for pointer, value in touched(change).items():
        if any(_overlap(pointer, f) for f in fields):
            continue
        node = kept
        parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        if parts:
            node[parts[-1]] = value
    return kept
