"""Applying a change at its effective date, also before later transactions (out of sequence).

As Socotra and Guidewire do it: the transactions effective after the change are reversed, the
change is applied to the state in force on its date, and the later ones are re-applied on top
(re-rated), all as new transactions; nothing is updated in place. Where a later change set a
field the new one also sets, the request says which side wins, or it is refused with 409 and
the list of conflicts; a later transaction that can no longer apply (an endorsement after a
back-dated cancellation, say) is dropped only when the new change is meant to win. Billing and
the ledger follow every transaction with their own entries, and the installments are fitted
once, after the whole batch. An open renewal offer is re-priced on the state its term now ends
with, or withdrawn if the term can no longer renew.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.billing import service as billing
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.outbox import emit
from pd_prime_demo.core.result_types import DomainError, Err, ErrorKind, Ok, Result, conflict
from pd_prime_demo.policies import repository, rules
from pd_prime_demo.policies.enums import ConflictResolution, RenewalStatus, TransactionKind
from pd_prime_demo.policies.models import Policy, PolicyTransaction
from pd_prime_demo.policies.service.common import record
from pd_prime_demo.policies.service.intents import (
    Entry,
    Intent,
    Versions,
    apply,
    as_uuid,
    entry_of,
    in_effect,
    intent_of,
    latest,
)
from pd_prime_demo.policies.state import PolicyState
from pd_prime_demo.products import service as products


@dataclass(frozen=True, slots=True)
class Applied:
    """The change's own transaction, and what it did to the transactions after it."""

    transaction: PolicyTransaction
    policy_version: int
    reversed: tuple[int, ...] = ()
    reapplied: tuple[tuple[int, int], ...] = ()  # (the later transaction, its re-application)
    dropped: tuple[int, ...] = ()


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
    before = [entry_of(t) for t in current if t.effective_on <= intent.effective_on]
    later = sorted(
        (t for t in current if t.effective_on > intent.effective_on),
        key=lambda t: (t.effective_on, t.seq),
    )
    if not before:
        return Err(conflict("policy.not_in_force", "the policy is not in force on that date"))
    base = latest(before).transition.state
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
        ids.append(as_uuid(intent.data["product_version_id"]))
    versions = await versions_for(session, ids)
    match plan(history, intent, versions=versions, on_conflict=on_conflict):
        case Err() as err:
            return err
        case Ok(batch):
            pass
    in_sequence = not batch.reverse
    remaining = [entry_of(t) for t in in_effect(history)]
    terms: set[date] = set()
    reversed_seqs: list[int] = []
    for txn in batch.reverse:
        remaining = [e for e in remaining if e.txn is None or e.txn.seq != txn.seq]
        undone = entry_of(txn).transition
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
    if intent.kind is not TransactionKind.RENEWAL:
        await _reprice_offer(session, policy, remaining, actor)
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


async def _reprice_offer(
    session: AsyncSession, policy: Policy, entries: list[Entry], actor: Actor
) -> None:
    """An open renewal offer follows the term it renews: re-priced on the state the term now
    ends with, or withdrawn (lapsed) when the term can no longer renew."""
    offer = await repository.renewals.open_renewal_offer(session, policy.id)
    if offer is None:
        return
    expiring = [e for e in entries if e.transition.state.term_end == offer.term_start]
    versions = await versions_for(session, [offer.product_version_id])
    renewed: Result[rules.Transition | None, DomainError] = Ok(None)
    if expiring:
        state = latest(expiring).transition.state
        intent = Intent(
            TransactionKind.RENEWAL,
            offer.term_start,
            {"product_version_id": str(offer.product_version_id)},
        )
        renewed = apply(state, intent, entries=entries, versions=versions)
    match renewed:
        case Ok(None) | Err():
            offer.status = RenewalStatus.LAPSED
            offer.decided_at = clock.now()
            action, detail = "policy.renewal_withdrawn", {"term_start": str(offer.term_start)}
        case Ok(transition):
            assert transition is not None
            if (
                transition.premium_change == offer.premium
                and transition.taxes_change == offer.taxes
            ):
                return
            offer.premium = transition.premium_change
            offer.fees = transition.fees_change
            offer.taxes = transition.taxes_change
            offer.snapshot = transition.state.to_json()
            action = "policy.renewal_repriced"
            detail = {"term_start": str(offer.term_start), "premium": str(offer.premium)}
    await audit.record(session, actor, action, "policy", str(policy.id), detail)
    emit(session, action, "policy", str(policy.id), detail, customer_id=policy.customer_id)


def _governing(entries: list[Entry], term_start: date) -> PolicyState | None:
    """The state in effect last within a term, among ``entries``."""
    term = [e for e in entries if e.transition.state.term_start == term_start]
    return latest(term).transition.state if term else None
