"""Applying a change at its effective date, also before later transactions (out of sequence).

As Socotra and Guidewire do it: the transactions effective after the change are reversed, the
change is applied to the state in force on its date, and the later ones are re-applied on top
(re-rated), all as new transactions; nothing is updated in place. Where a later change set a
field the new one also sets, the request says which side wins, or it is refused with 409 and
the list of conflicts; a later transaction that can no longer apply (an endorsement after a
back-dated cancellation, say) is dropped only when the new change is meant to win. Billing and
the ledger follow every transaction with their own entries, and the installments are fitted
once, after the whole batch.

A transaction records what was asked for in ``change`` (an endorsement's merge patches, a
cancellation's reason), which is what makes re-applying it possible.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.billing import service as billing
from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.result_types import (
    DomainError,
    Err,
    ErrorKind,
    FieldIssue,
    Ok,
    Result,
    conflict,
    invalid,
)
from pd_prime_demo.policies import repository, rules
from pd_prime_demo.policies.enums import (
    CancellationReason,
    ConflictResolution,
    PolicyStatus,
    TransactionKind,
)
from pd_prime_demo.policies.models import Policy, PolicyTransaction
from pd_prime_demo.policies.service.cancellation_terms import cancellation_terms, term_figures
from pd_prime_demo.policies.service.common import price, proration_of, record, state_of
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
class Applied:
    """The change's own transaction, and what it did to the transactions after it."""

    transaction: PolicyTransaction
    policy_version: int
    reversed: tuple[int, ...] = ()
    reapplied: tuple[tuple[int, int], ...] = ()  # (the later transaction, its re-application)
    dropped: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Entry:
    """A transaction in effect: recorded already (``txn``) or about to be."""

    transition: rules.Transition
    version_id: Any
    txn: PolicyTransaction | None = None

    @property
    def order(self) -> tuple[date, int]:
        return self.transition.effective_on, self.txn.seq if self.txn else 10**9


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
            version = versions[_uuid(data["product_version_id"])]
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


def _uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


@dataclass(frozen=True, slots=True)
class Conflict:
    field: str
    new: Any
    later: Any
    later_seq: int
    later_kind: str
    later_effective_on: date

    def to_json(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "new": self.new,
            "later": self.later,
            "later_seq": self.later_seq,
            "later_kind": self.later_kind,
            "later_effective_on": self.later_effective_on.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class Plan:
    new: Entry
    reverse: list[PolicyTransaction]  # newest first
    reapply: list[tuple[PolicyTransaction, Entry, Intent]]
    dropped: list[PolicyTransaction]


def _entry(txn: PolicyTransaction) -> Entry:
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


def plan(
    history: list[PolicyTransaction],
    intent: Intent,
    *,
    versions: Versions,
    on_conflict: ConflictResolution,
) -> Result[Plan, DomainError]:
    """Work out the whole batch before anything is written: the change applied on its date,
    the later transactions re-applied on top, and whatever conflicts that raises."""
    current = in_effect(history)
    before = [_entry(t) for t in current if t.effective_on <= intent.effective_on]
    later = sorted(
        (t for t in current if t.effective_on > intent.effective_on),
        key=lambda t: (t.effective_on, t.seq),
    )
    if not before:
        return Err(conflict("policy.not_in_force", "the policy is not in force on that date"))
    base = max(before, key=lambda e: e.order).transition.state
    match apply(base, intent, entries=before, versions=versions):
        case Err() as err:
            return err
        case Ok(None):
            return Err(conflict("policy.not_in_force", "the policy is not in force on that date"))
        case Ok(first):
            assert first is not None
    new = Entry(first, first.state.product_version_id)
    entries, state = [*before, new], first.state
    found: list[Conflict] = []
    reapply: list[tuple[PolicyTransaction, Entry, Intent]] = []
    dropped: list[PolicyTransaction] = []
    for txn in later:
        again = intent_of(txn)
        if intent.kind is TransactionKind.ENDORSEMENT and again.kind is TransactionKind.ENDORSEMENT:
            clashes = rules.conflicts(_fields(intent), _fields(again))
            found += [
                Conflict(c.field, c.new, c.later, txn.seq, txn.kind, txn.effective_on)
                for c in clashes
            ]
            if clashes and on_conflict is ConflictResolution.APPLY_NEW:
                kept = rules.without(_fields(again), {c.field for c in clashes})
                if not kept:  # everything it changed is now the new change's to say
                    dropped.append(txn)
                    continue
                again = Intent(again.kind, again.effective_on, kept, again.note)
        match apply(state, again, entries=entries, versions=versions):
            case Err(error):
                return Err(_later_failed(error, txn))
            case Ok(None):
                found.append(
                    Conflict(
                        "/status",
                        first.state.status.value,
                        f"{txn.kind} #{txn.seq} no longer applies",
                        txn.seq,
                        txn.kind,
                        txn.effective_on,
                    )
                )
                dropped.append(txn)
            case Ok(transition):
                assert transition is not None
                entry = Entry(transition, transition.state.product_version_id)
                reapply.append((txn, entry, again))
                entries.append(entry)
                state = transition.state
    if found and not _resolved(found, dropped, on_conflict):
        return Err(
            DomainError(
                ErrorKind.CONFLICT,
                "policy.out_of_sequence_conflict",
                f"{len(found)} later change(s) collide with this one; say which side wins "
                "with on_conflict (keep_later or apply_new)",
                extra={"conflicts": [c.to_json() for c in found]},
            )
        )
    return Ok(Plan(new, list(reversed(later)), reapply, dropped))


def _fields(intent: Intent) -> dict[str, Any]:
    return {k: v for k, v in intent.data.items() if k in ("risk", "coverages") and v}


def _resolved(
    found: list[Conflict], dropped: list[PolicyTransaction], on_conflict: ConflictResolution
) -> bool:
    if on_conflict is ConflictResolution.APPLY_NEW:
        return True
    # Keeping the later values settles field conflicts, never a transaction that is gone.
    return on_conflict is ConflictResolution.KEEP_LATER and not dropped


def _later_failed(error: DomainError, txn: PolicyTransaction) -> DomainError:
    return DomainError(
        ErrorKind.CONFLICT,
        "policy.out_of_sequence_conflict",
        f"{txn.kind} #{txn.seq} effective {txn.effective_on.isoformat()} cannot be re-applied "
        f"after this change: {error.detail}",
        errors=error.errors,
    )


async def versions_for(session: AsyncSession, ids: Iterable[Any]) -> Versions:
    return {i: await products.compiled_version(session, i) for i in set(ids)}


async def change(
    session: AsyncSession,
    policy: Policy,
    intent: Intent,
    *,
    actor: Actor,
    on_conflict: ConflictResolution = ConflictResolution.REFUSE,
    history: list[PolicyTransaction] | None = None,
) -> Result[Applied, DomainError]:
    """Apply ``intent`` to the (locked) policy: in sequence, or out of sequence as above."""
    history = history if history is not None else await repository.transactions(session, policy.id)
    ids = [t.product_version_id for t in history]
    if intent.kind is TransactionKind.RENEWAL:
        ids.append(_uuid(intent.data["product_version_id"]))
    versions = await versions_for(session, ids)
    match plan(history, intent, versions=versions, on_conflict=on_conflict):
        case Err() as err:
            return err
        case Ok(batch):
            pass
    in_sequence = not batch.reverse
    remaining = [_entry(t) for t in in_effect(history)]
    terms: set[date] = set()
    reversed_seqs: list[int] = []
    for txn in batch.reverse:
        remaining = [e for e in remaining if e.txn is None or e.txn.seq != txn.seq]
        undone = _entry(txn).transition
        await record(
            session,
            policy,
            rules.reverse(undone, note=f"reversed for an out-of-sequence {intent.kind}"),
            version=versions[txn.product_version_id],
            actor=actor,
            reverses_seq=txn.seq,
            term_state=_governing(remaining, txn.term_start),
            settle=False,
        )
        reversed_seqs.append(txn.seq)
        terms.add(txn.term_start)
    new = await record(
        session,
        policy,
        batch.new.transition,
        version=versions[batch.new.version_id],
        actor=actor,
        change=intent.data,
        settle=in_sequence,
    )
    remaining.append(batch.new)
    terms.add(new.term_start)
    reapplied: list[tuple[int, int]] = []
    for original, entry, again in batch.reapply:
        remaining.append(entry)
        txn = await record(
            session,
            policy,
            entry.transition,
            version=versions[entry.version_id],
            actor=actor,
            change=again.data,
            reapplies_seq=original.seq,
            term_state=_governing(remaining, entry.transition.state.term_start),
            settle=False,
        )
        reapplied.append((original.seq, txn.seq))
        terms.add(txn.term_start)
    if not in_sequence:
        await billing.settle(session, policy.id, terms)
    policy.version += 1
    return Ok(
        Applied(
            new,
            policy.version,
            tuple(reversed_seqs),
            tuple(reapplied),
            tuple(t.seq for t in batch.dropped),
        )
    )


def _governing(entries: list[Entry], term_start: date) -> PolicyState | None:
    """The state in effect last within a term, among ``entries``."""
    term = [e for e in entries if e.transition.state.term_start == term_start]
    return max(term, key=lambda e: e.order).transition.state if term else None
