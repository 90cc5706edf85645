"""What a change asks for, and applying it to a state: the building blocks of recording a
change in sequence or out of it (``service.sequence``).

A transaction records what was asked for in ``change`` (an endorsement's merge patches, a
cancellation's reason), which is what makes re-applying it on a new state possible.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import ValidationError

from pd_prime_demo.core.result_types import DomainError, Err, FieldIssue, Ok, Result, invalid
from pd_prime_demo.policies import rules
from pd_prime_demo.policies.enums import CancellationReason, PolicyStatus, TransactionKind
from pd_prime_demo.policies.models import PolicyTransaction
from pd_prime_demo.policies.service.cancellation_terms import cancellation_terms, term_figures
from pd_prime_demo.policies.service.common import price, proration_of, state_of
from pd_prime_demo.policies.state import PolicyState
from pd_prime_demo.premium.earning import earnings_from_json
from pd_prime_demo.premium.proration import add_months
from pd_prime_demo.products import service as products
from pd_prime_demo.rating.schemas import RiskData

Versions = dict[Any, products.CompiledVersion]


@dataclass(frozen=True, slots=True)
class Intent:
    """What a change asks for, as it is stored in its transaction's ``change``."""

    kind: TransactionKind
    effective_on: date
    data: dict[str, Any] = field(default_factory=dict)
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Entry:
    """A transaction in effect: recorded already (``txn``) or about to be."""

    transition: rules.Transition
    version_id: Any
    txn: PolicyTransaction | None = None

    @property
    def order(self) -> tuple[date, int]:
        return self.transition.effective_on, self.txn.seq if self.txn else 10**9


def latest(entries: Sequence[Entry]) -> Entry:
    """The entry in effect last: the latest effective, and on one day the last recorded.
    Entries not yet recorded come after every recorded one, in the order given (the order a
    batch applies them): a re-applied reinstatement follows the re-applied cancellation of its
    day, as the originals did."""
    return max(enumerate(entries), key=lambda pair: (pair[1].order, pair[0]))[1]


def in_effect(history: Iterable[PolicyTransaction]) -> list[PolicyTransaction]:
    """The transactions that count: neither a reversal nor reversed by one."""
    rows = list(history)
    reversed_seqs = {t.reverses_seq for t in rows if t.kind == TransactionKind.REVERSAL}
    return [t for t in rows if t.kind != TransactionKind.REVERSAL and t.seq not in reversed_seqs]


def intent_of(txn: PolicyTransaction) -> Intent:
    """What a recorded transaction asked for (transactions recorded before ``change`` was
    kept say it through their state and reason)."""
    kind = TransactionKind(txn.kind)
    data = dict(txn.change)
    if not data:
        snapshot = txn.snapshot
        if kind is TransactionKind.ENDORSEMENT:
            data = {"risk": snapshot["risk"], "coverages": snapshot["coverages"]}
        elif kind is TransactionKind.CANCELLATION:
            data = {"reason_code": txn.reason_code}
        elif kind is TransactionKind.REINSTATEMENT:
            data = {"lapse": snapshot.get("lapse") is not None}
        elif kind is TransactionKind.RENEWAL:
            data = {"product_version_id": str(txn.product_version_id)}
        elif kind is TransactionKind.NON_RENEWAL:
            data = {"reason": txn.note or ""}
    return Intent(kind, txn.effective_on, data, txn.note)


def _risk_problems(risk: Any) -> list[FieldIssue]:
    try:
        RiskData.model_validate(risk)
    except ValidationError as exc:
        return [
            FieldIssue("#/risk/" + "/".join(str(p) for p in e["loc"]), e["msg"])
            for e in exc.errors()
        ]
    return []


def apply(
    state: PolicyState, intent: Intent, *, entries: list[Entry], versions: Versions
) -> Result[rules.Transition | None, DomainError]:
    """The transition ``intent`` makes from ``state`` (None: it cannot apply to that state,
    e.g. an endorsement of a cancelled policy); problems with the request as errors."""
    on, data = intent.effective_on, intent.data
    match intent.kind:
        case TransactionKind.ENDORSEMENT:
            if not state.covers(on):
                return Ok(None)
            risk = rules.merge_patch(state.risk, data.get("risk") or {})
            coverages = rules.merge_patch(state.coverages, data.get("coverages") or {})
            if problems := _risk_problems(risk):
                return Err(
                    invalid("policy.invalid_risk", "the changed risk is not valid", *problems)
                )
            version = versions[state.product_version_id]
            match price(
                version,
                risk=risk,
                option=state.option,
                coverages=coverages,
                surcharge=state.surcharge,
            ):
                case Err() as err:
                    return err
                case Ok(priced):
                    pass
            return Ok(
                rules.endorse(
                    state,
                    priced,
                    effective_on=on,
                    risk=risk,
                    coverages=coverages,
                    proration=proration_of(version),
                    note=intent.note,
                )
            )
        case TransactionKind.CANCELLATION:
            if not state.covers(on):
                return Ok(None)
            version = versions[state.product_version_id]
            return Ok(
                rules.cancel(
                    state,
                    term_figures([e.transition for e in entries], state.term_start),
                    effective_on=on,
                    reason=CancellationReason(data["reason_code"]),
                    product_method=version.definition.cancellation.method,
                    terms=cancellation_terms(version),
                    note=intent.note,
                )
            )
        case TransactionKind.REINSTATEMENT:
            cancelled = next(
                (
                    e.transition
                    for e in reversed(entries)
                    if e.transition.kind is TransactionKind.CANCELLATION
                    and e.transition.state.term_start == state.term_start
                ),
                None,
            )
            if state.cancellation is None or cancelled is None:
                return Ok(None)
            cancelled_on = state.cancellation.effective_on
            reinstate_on = on if data.get("lapse") else cancelled_on
            if not cancelled_on <= reinstate_on < state.term_end:
                return Ok(None)
            version = versions[state.product_version_id]
            return Ok(
                rules.reinstate(
                    state,
                    cancelled,
                    effective_on=reinstate_on,
                    proration=proration_of(version),
                    note=intent.note,
                )
            )
        case TransactionKind.RENEWAL:
            if state.status is not PolicyStatus.IN_FORCE or state.non_renewal is not None:
                return Ok(None)
            version = versions[as_uuid(data["product_version_id"])]
            match price(
                version,
                risk=state.risk,
                option=state.option,
                coverages=state.coverages,
                surcharge=None,
            ):
                case Err() as err:
                    return err
                case Ok(priced):
                    pass
            offered = rules.renew(
                state.model_copy(update={"surcharge": None}),
                priced,
                term_end=add_months(state.term_end, version.definition.term_months),
                proration=proration_of(version),
            )
            return Ok(rules.accept_renewal(offered, proration=proration_of(version)))
        case TransactionKind.NON_RENEWAL:
            if state.status is not PolicyStatus.IN_FORCE:
                return Ok(None)
            return Ok(rules.non_renew(state, reason=str(data.get("reason", "")), notice_on=on))
    raise AssertionError(f"{intent.kind} is never re-applied")  # pragma: no cover


def as_uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def entry_of(txn: PolicyTransaction) -> Entry:
    return Entry(
        rules.Transition(
            TransactionKind(txn.kind),
            txn.effective_on,
            state_of(txn),
            txn.premium_change,
            txn.fees_change,
            txn.taxes_change,
            tuple(earnings_from_json(txn.earnings)),
            txn.reason_code,
            txn.note,
        ),
        txn.product_version_id,
        txn,
    )
