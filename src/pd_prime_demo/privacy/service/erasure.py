"""Erasure that understands insurance (GDPR Art. 17; CCPA 1798.105).

What happens to each record class is decided by ``privacy.retention_rules.erasure_plan`` from
the person's history: a prospect is erased outright; anyone who held a policy or had a claim
keeps those records (the state record rules, tax law, legal claims), with the customer record's
direct identifiers replaced. A legal hold blocks the whole erasure. No erasure ever deletes or
changes money (ledger, invoices, payments) or the audit chain, which holds ids only.

The report itemises what was erased, pseudonymised and withheld, with why; it is stored as the
erasure record (ids and counts, never a personal value) and its summary audited, both in the
caller's transaction.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from beartype import beartype
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.claims import privacy as claims_privacy
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.crypto import FieldCipher
from pd_prime_demo.core.result_types import DomainError, Err, ErrorKind, Ok, Result, not_found
from pd_prime_demo.customers import privacy as customers_privacy
from pd_prime_demo.identity import privacy as identity_privacy
from pd_prime_demo.policies import privacy as policies_privacy
from pd_prime_demo.policies import service as policies
from pd_prime_demo.privacy.enums import Source
from pd_prime_demo.privacy.models import PrivacyExport, PrivacyRequest
from pd_prime_demo.privacy.retention_models import ErasureRecord
from pd_prime_demo.privacy.retention_rules import (
    Decision,
    Deferral,
    Disposition,
    PersonFacts,
    RecordClass,
    erasure_deferral,
    erasure_plan,
)
from pd_prime_demo.privacy.service import consent, holds
from pd_prime_demo.quotes import privacy as quotes_privacy


def legal_hold(hold_ids: list[uuid.UUID]) -> DomainError:
    return DomainError(
        ErrorKind.CONFLICT,
        "privacy.legal_hold",
        "a legal hold preserves this person's records: the erasure cannot proceed until "
        "counsel releases it (GDPR Art. 17(3)(e))",
        extra={"holds": [str(h) for h in hold_ids]},
    )


def deferred(deferral: Deferral) -> DomainError:
    """The erasure must wait: the person is told why and from when to ask again."""
    again = (
        f"it can be requested again after {deferral.not_before}"
        if deferral.not_before is not None
        else "it can be requested again once the claim is closed"
    )
    return DomainError(
        ErrorKind.CONFLICT,
        "privacy.erasure_deferred",
        f"the erasure cannot be carried out yet: {'; '.join(deferral.reasons)} "
        f"({deferral.basis}); {again}",
        extra={
            "reasons": list(deferral.reasons),
            "basis": deferral.basis,
            "not_before": None if deferral.not_before is None else str(deferral.not_before),
        },
    )


ALREADY_ERASED = DomainError(
    ErrorKind.CONFLICT, "privacy.already_erased", "this person's data was erased already"
)


@dataclass(frozen=True, slots=True)
class ErasureItem:
    record_class: RecordClass
    disposition: Disposition
    basis: str
    table: str
    record_ids: tuple[str, ...] = ()
    count: int = 0
    replaced: tuple[str, ...] = ()  # pseudonymised: the fields replaced
    kept: tuple[str, ...] = ()  # pseudonymised or withheld: what stays, the legal duty needs it

    def as_dict(self) -> dict[str, Any]:
        return {
            "record_class": self.record_class.value,
            "disposition": self.disposition.value,
            "basis": self.basis,
            "table": self.table,
            "record_ids": list(self.record_ids),
            "count": self.count,
            "replaced": list(self.replaced),
            "kept": list(self.kept),
        }


@dataclass(frozen=True, slots=True)
class ErasureReport:
    customer_id: uuid.UUID
    request_id: uuid.UUID | None
    items: tuple[ErasureItem, ...] = field(default=())

    def _of(self, disposition: Disposition) -> tuple[ErasureItem, ...]:
        return tuple(i for i in self.items if i.disposition is disposition)

    @property
    def erased(self) -> tuple[ErasureItem, ...]:
        return self._of(Disposition.ERASE)

    @property
    def pseudonymised(self) -> tuple[ErasureItem, ...]:
        return self._of(Disposition.PSEUDONYMISE)

    @property
    def withheld(self) -> tuple[ErasureItem, ...]:
        return self._of(Disposition.WITHHOLD)

    def as_dict(self) -> dict[str, Any]:
        return {
            "customer_id": str(self.customer_id),
            "request_id": None if self.request_id is None else str(self.request_id),
            "erased": [i.as_dict() for i in self.erased],
            "pseudonymised": [i.as_dict() for i in self.pseudonymised],
            "withheld": [i.as_dict() for i in self.withheld],
        }


@beartype
async def erase(
    session: AsyncSession,
    customer_id: uuid.UUID,
    *,
    actor: Actor,
    request_id: uuid.UUID | None,
    cipher: FieldCipher,
    origin: str = "request",
) -> Result[ErasureReport, DomainError]:
    """Erase what may be erased about the customer, pseudonymise what must be kept, and say
    why for each. The caller (the request workflow, the retention job) has authorised it.

    ``cipher`` is not needed to erase (a sealed field is removed, not opened); it is taken so
    that a later rule (re-sealing a kept field under a tombstone key) needs no new signature.
    """
    del cipher
    customer = await customers_privacy.get(session, customer_id)
    if customer is None:
        return Err(not_found("customer"))
    if active := await holds.active_for(session, customer_id=customer_id):
        return Err(legal_hold([h.id for h in active]))
    if await session.scalar(
        select(ErasureRecord.id).where(ErasureRecord.customer_id == customer_id)
    ):
        return Err(ALREADY_ERASED)

    user_id = customer.user_id
    policy_ids = await policies_privacy.policy_ids(session, customer_id)
    claim_ids = await claims_privacy.claim_ids(session, customer_id)
    named_elsewhere = await claims_privacy.is_party_elsewhere(session, customer_id)
    facts = PersonFacts(
        has_policy=bool(policy_ids),
        has_claim=bool(claim_ids),
        has_user_account=user_id is not None,
        is_claim_party=named_elsewhere,
        policy_in_force_until=await _in_force_until(session, policy_ids),
        open_claim=await claims_privacy.has_open_claim(session, customer_id),
    )
    if deferral := erasure_deferral(facts):
        return Err(deferred(deferral))
    plan = erasure_plan(facts)
    items: list[ErasureItem] = []

    quote_ids = await quotes_privacy.ids_of(session, customer_id)
    bound = await policies_privacy.bound_quote_ids(session, quote_ids)
    unbound = [q for q in quote_ids if q not in bound]
    await quotes_privacy.delete_quotes(session, unbound)
    items.append(_item(plan[RecordClass.QUOTE_UNBOUND], "quotes", unbound))

    if user_id is not None:
        account = await identity_privacy.erase_account(session, user_id)
        if account is not None:
            items.append(_item(plan[RecordClass.USER_ACCOUNT], "users", [user_id]))
            items.append(
                _item(
                    plan[RecordClass.SESSION],
                    "auth_sessions",
                    [],
                    count=account.sessions_revoked + account.refresh_tokens_deleted,
                )
            )
            items.append(
                _item(
                    plan[RecordClass.CREDENTIAL],
                    "mfa_factors_api_keys",
                    [],
                    count=account.factors_deleted
                    + account.api_keys_revoked
                    + account.api_clients_revoked
                    + account.sso_links_deleted,
                )
            )

    match await _withdraw_consents(session, customer_id, actor=actor, request_id=request_id):
        case Err() as err:
            return err
        case Ok(withdrawn):
            items.append(_item(plan[RecordClass.MARKETING_CONSENT], "consent_records", withdrawn))

    customer_decision = plan[RecordClass.CUSTOMER]
    token = secrets.token_hex(4)
    label = (
        "Erased customer"
        if customer_decision.disposition is Disposition.ERASE
        else f"Pseudonymised customer {token}"
    )
    replaced = customers_privacy.scrub(customer, label=label)
    items.append(_item(customer_decision, "customers", [customer_id], replaced=replaced))

    exports = await _delete_exports(session, customer_id)
    items.append(_item(plan[RecordClass.ACCESS_EXPORT], "privacy_exports", exports))

    if claim_ids or named_elsewhere:
        # In their claims and in others' (only the party row that is the person).
        parties = await claims_privacy.pseudonymise_parties(
            session, customer_id, pseudonym=f"Pseudonymised party {token}"
        )
        items.append(
            _item(
                plan[RecordClass.CLAIM_PARTY],
                "claim_parties",
                parties,
                replaced=("name", "contact"),
            )
        )
    if claim_ids:
        items.append(_item(plan[RecordClass.CLAIM], "claims", claim_ids))
    if policy_ids:
        items.append(_item(plan[RecordClass.QUOTE_BOUND], "quotes", sorted(bound)))
        items.append(_item(plan[RecordClass.POLICY], "policies", policy_ids))
        items.append(_item(plan[RecordClass.DOCUMENT], "documents (of these policies)", policy_ids))
        items.append(_item(plan[RecordClass.BILLING], "billing (of these policies)", policy_ids))
    items.append(_item(plan[RecordClass.AUDIT], "audit_log", []))

    report = ErasureReport(customer_id, request_id, tuple(items))
    session.add(
        ErasureRecord(
            id=uuid.uuid4(),
            customer_id=customer_id,
            request_id=request_id,
            origin=origin,
            report=report.as_dict(),
            erased_at=clock.now(),
            erased_by=actor.id,
        )
    )
    await audit.record(
        session,
        actor,
        "privacy.erased",
        "customer",
        str(customer_id),
        {
            "request_id": None if request_id is None else str(request_id),
            "origin": origin,
            "erased": {i.table: i.count for i in report.erased},
            "pseudonymised": {i.table: i.count for i in report.pseudonymised},
            "withheld": sorted({i.table for i in report.withheld}),
        },
    )
    return Ok(report)


async def _in_force_until(session: AsyncSession, policy_ids: list[uuid.UUID]) -> date | None:
    """The latest term end of the person's policies in force or not yet effective today (as
    the policies domain reads a policy's state on a day); None if none is. A person holds a
    handful of policies: one history read per policy."""
    today = clock.today()
    until: date | None = None
    for policy_id in policy_ids:
        state = policies.state_as_of(await policies.transactions(session, policy_id), today)
        snapshot = state.snapshot
        if state.status not in _LIVE or snapshot is None:
            continue
        ends = date.fromisoformat(str(snapshot["term_end"]))
        until = ends if until is None else max(until, ends)
    return until


# StatusOn values of a policy the contract still needs the data for.
_LIVE = frozenset({"in_force", "not_yet_effective"})


async def _delete_exports(session: AsyncSession, customer_id: uuid.UUID) -> list[str]:
    """Delete the access answers kept for download (everything about the person, sealed):
    a copy is not a record any duty keeps (Art. 17(1)(a)). Ids as "<request>:<format>"."""
    found = await session.execute(
        delete(PrivacyExport)
        .where(
            PrivacyExport.request_id.in_(
                select(PrivacyRequest.id).where(PrivacyRequest.customer_id == customer_id)
            )
        )
        .returning(PrivacyExport.request_id, PrivacyExport.format)
    )
    return sorted(f"{request_id}:{fmt}" for request_id, fmt in found)


async def _withdraw_consents(
    session: AsyncSession,
    customer_id: uuid.UUID,
    *,
    actor: Actor,
    request_id: uuid.UUID | None,
) -> Result[list[uuid.UUID], DomainError]:
    """Withdraw every purpose the person consents to (Art. 7(3), 17(1)(b)): a withdrawal is a
    new record in the append-only ledger, whose earlier grants stay as the proof Art. 7(1)
    asks for. Purposes never granted need no record (nothing to withdraw)."""
    withdrawn: list[uuid.UUID] = []
    for current in await consent.state(session, customer_id):
        if not current.granted:
            continue
        match await consent.append(
            session,
            customer_id,
            current.purpose,
            granted=False,
            source=Source.DSR,
            actor=actor,
            request_id=request_id,
        ):
            case Err() as err:
                return err
            case Ok(record):
                withdrawn.append(record.id)
    return Ok(withdrawn)


def _item(
    decision: Decision,
    table: str,
    ids: list[uuid.UUID] | list[str],
    *,
    count: int | None = None,
    replaced: tuple[str, ...] = (),
) -> ErasureItem:
    return ErasureItem(
        record_class=decision.record_class,
        disposition=decision.disposition,
        basis=decision.basis,
        table=table,
        record_ids=tuple(str(i) for i in ids),
        count=len(ids) if count is None else count,
        replaced=replaced,
        kept=decision.kept_fields,
    )
