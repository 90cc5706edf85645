"""Converting a book: policies from another system, with their original dates, booked as live
business would have booked them (docs/book-import.md).

An import is read a chunk of policies at a time (:meth:`BookImport.load`), each chunk in one
database transaction: every policy of the chunk is checked first (its file data, its history
against the product versions, its customer, whether it is loaded already), then the policies
without a problem are written set-based, a statement per table for the whole chunk, with the
same rows, ledger postings and premium pieces that binding and changing them through the API
on those dates would have written (``import_build``, ``billing.plan_converted_account``). A
policy is loaded whole or not at all; a chunk commits whole, so a crash loses at most the chunk
in hand, and a re-run skips what committed: a policy whose number exists is already loaded (and
a problem if the file now says something else about it).

Each loaded policy gets one audit entry and one outbox event, ``policy.imported``, instead of
one per transaction; no declarations page is drawn for its converted history (the legacy
system issued those), and the documents sweep leaves it alone.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.billing import service as billing
from pd_prime_demo.core import clock, locks
from pd_prime_demo.core.actor import Actor, ActorKind, Permission, Role
from pd_prime_demo.core.crypto import FieldCipher
from pd_prime_demo.core.outbox import emit
from pd_prime_demo.core.result_types import DomainError, Err, Ok, Result, forbidden
from pd_prime_demo.customers import service as customers
from pd_prime_demo.policies import repository
from pd_prime_demo.policies.service.import_build import (
    Built,
    Catalog,
    VersionHeader,
    build_policy,
    pointer_path,
)
from pd_prime_demo.policies.service.import_format import (
    BookPolicy,
    ImportCounts,
    ImportProblem,
    ImportResult,
    KnownPolicy,
    LoadedPolicy,
    RefusedPolicy,
)
from pd_prime_demo.policies.service.import_read import Issue, ReadPolicy, first_nul
from pd_prime_demo.policies.service.import_rows import Planned, compare_loaded
from pd_prime_demo.products import service as products

# Customers named by the carrier's own reference get this id, so a re-run finds them.
CUSTOMER_NAMESPACE = uuid.UUID("0c7d7c8e-5a52-4b0f-9d0e-6b1f3c2a9e47")
IMPORT_LOCK = "policies.import"  # one importer writes at a time: re-runs never race
_CUSTOMER = TypeAdapter[customers.PersonCreate | customers.OrganisationCreate](
    customers.CustomerCreate
)


def customer_id_for(ref: str) -> uuid.UUID:
    return uuid.uuid5(CUSTOMER_NAMESPACE, ref)


def may_import(actor: Actor) -> bool:
    """Converting a book is for the carrier's administrators (or its own processes)."""
    admin = actor.role is Role.ADMIN or actor.kind is ActorKind.SYSTEM
    return admin and actor.has(Permission.POLICIES_WRITE) and actor.has(Permission.CUSTOMERS_CREATE)


@dataclass(slots=True)
class _Candidate:
    read: ReadPolicy
    policy: BookPolicy
    customer_id: uuid.UUID
    built: Built | None = None


@dataclass(slots=True)
class _Refs:
    """The customers the file gives by ``customer_ref``: where each was first given (and a
    digest of its details, to notice a different one), and its details until it is created."""

    first: dict[str, tuple[int, str]] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    created: set[str] = field(default_factory=set)

    def known(self, ref: str, *, dry_run: bool) -> bool:
        """Whether the customer exists or will be created from details the file gave."""
        if dry_run:
            return ref in self.first or ref in self.created
        return ref in self.details or ref in self.created


class BookImport:
    """One import of a book, fed a chunk of policies at a time (``load``): what it learned of
    the file so far (numbers, customers) and the versions it compiled carry from chunk to
    chunk, and its result adds up every chunk's."""

    def __init__(self, *, actor: Actor, cipher: FieldCipher, dry_run: bool = False) -> None:
        self.actor = actor
        self.cipher = cipher
        self.dry_run = dry_run
        self.catalog = Catalog()
        self.numbers: dict[str, int] = {}  # number -> row where it was first given
        self.refs = _Refs()
        self.counts = {"policies": 0, "transactions": 0}
        self.loaded: list[LoadedPolicy] = []
        self.known: list[KnownPolicy] = []
        self.refused: list[RefusedPolicy] = []
        self.problems: list[ImportProblem] = []

    def result(self) -> ImportResult:
        return ImportResult(
            dry_run=self.dry_run,
            counts=ImportCounts(
                policies=self.counts["policies"],
                transactions=self.counts["transactions"],
                loaded=len(self.loaded),
                already_loaded=len(self.known),
                refused=len(self.refused),
            ),
            loaded=self.loaded,
            already_loaded=self.known,
            refused=self.refused,
            problems=self.problems,
        )

    def refuse(self, read: ReadPolicy, issues: Iterable[Issue]) -> None:
        number = read.number
        for path, detail in issues:
            row, where = read.place.locate(path)
            self.problems.append(
                ImportProblem(number=number, row=row, pointer=where, detail=detail)
            )
        self.refused.append(RefusedPolicy(number=number, row=read.row))

    # -- checking ---------------------------------------------------------------------------

    def _parsed(self, read: ReadPolicy) -> _Candidate | None:
        issues = list(read.issues)
        self.counts["policies"] += 1
        transactions = read.data.get("transactions")
        self.counts["transactions"] += len(transactions) if isinstance(transactions, list) else 0
        number = read.number
        if number is not None:
            if number in self.numbers:
                first = self.numbers[number]
                issues.append((("number",), f"given twice in the file (first at row {first})"))
            else:
                self.numbers[number] = read.row
        if (nul := first_nul(read.data)) is not None:
            issues.append((nul, "contains a NUL character"))
            self.refuse(read, issues)
            return None
        try:
            policy = BookPolicy.model_validate(read.data)
        except ValidationError as exc:
            issues += [(tuple(e["loc"]), e["msg"]) for e in exc.errors()]
            self.refuse(read, issues)
            return None
        customer_id = self._customer(policy, read.row, issues)
        if issues or customer_id is None:
            self.refuse(read, issues)
            return None
        return _Candidate(read, policy, customer_id)

    def _customer(self, policy: BookPolicy, row: int, issues: list[Issue]) -> uuid.UUID | None:
        """The policy's customer id: given, or the one its ``customer_ref`` stands for."""
        if policy.customer_id is not None:
            if policy.customer_ref is not None or policy.customer is not None:
                issues.append((("customer_id",), "give customer_id, or customer_ref, not both"))
            return policy.customer_id
        ref = policy.customer_ref
        if ref is None:
            issues.append((("customer_ref",), "required: customer_id or customer_ref"))
            return None
        if policy.customer is not None:
            try:
                details = _CUSTOMER.validate_python(policy.customer)
            except ValidationError as exc:
                issues += [(("customer", *e["loc"][1:]), e["msg"]) for e in exc.errors()]
                return None
            digest = hashlib.sha256(details.model_dump_json().encode()).hexdigest()
            if ref not in self.refs.first:
                self.refs.first[ref] = (row, digest)
                if ref not in self.refs.created and not self.dry_run:
                    self.refs.details[ref] = details
            elif self.refs.first[ref][1] != digest:
                first = self.refs.first[ref][0]
                issues.append((("customer",), f"differs from this customer_ref's at row {first}"))
        return customer_id_for(ref)

    async def _catalog(self, session: AsyncSession, pairs: set[tuple[str, str]]) -> None:
        for code, state in pairs - set(self.catalog.headers):
            rows = await products.list_versions(
                session, product_code=code, state=state, status=None
            )
            self.catalog.headers[(code, state)] = [
                VersionHeader(
                    r.id, r.version, r.status, r.effective_new_business, r.effective_renewal
                )
                for r in rows
            ]
            for r in rows:
                if r.status != "draft":
                    self.catalog.compiled[r.id] = await products.compiled_version(session, r.id)

    async def _check_customers(self, session: AsyncSession, candidates: list[_Candidate]) -> None:
        """Every customer must exist and be the actor's to see, or be given in the file."""
        ids = {c.customer_id for c in candidates}
        found = await repository.visible_among(
            session, list(ids), visible_customers=customers.visible_ids(self.actor)
        )
        for c in candidates:
            ref = c.policy.customer_ref
            if c.customer_id in found or c.built is None:
                if ref is not None:
                    self.refs.created.add(ref)
                    self.refs.details.pop(ref, None)
                continue
            if ref is None:
                c.built = None
                self.refuse(c.read, [(("customer_id",), "no customer you may see has this id")])
            elif not self.refs.known(ref, dry_run=self.dry_run):
                c.built = None
                detail = "no customer has this ref yet: give its details (customer) the first time"
                self.refuse(c.read, [(("customer_ref",), detail)])

    # -- loading ----------------------------------------------------------------------------

    async def load(self, session: AsyncSession, chunk: list[ReadPolicy]) -> None:
        """Check a chunk of policies and, unless a dry run, write those without a problem."""
        candidates = [c for c in map(self._parsed, chunk) if c is not None]
        await self._catalog(session, {(c.policy.product_code, c.policy.state) for c in candidates})
        today = clock.today()
        for c in candidates:
            outcome = build_policy(
                c.policy, customer_id=c.customer_id, catalog=self.catalog, today=today
            )
            if isinstance(outcome, list):
                self.refuse(c.read, outcome)
            else:
                c.built = outcome
        if not self.dry_run:
            await locks.lock(session, IMPORT_LOCK)
        fresh = await self._not_loaded(session, [c for c in candidates if c.built is not None])
        await self._check_customers(session, fresh)
        ready = [c for c in fresh if c.built is not None]
        serials = (
            [0] * len(ready) if self.dry_run else await repository.next_serials(session, len(ready))
        )
        now = clock.now()
        planned: list[Planned] = []
        for c, serial in zip(ready, serials, strict=True):
            assert c.built is not None
            plan = Planned(
                c.read, c.built, uuid.uuid4(), serial, [uuid.uuid4() for _ in c.built.steps]
            )
            if self.dry_run and plan.received() <= plan.written():
                planned.append(plan)  # what the policy owes is at least what it wrote
                continue
            match billing.plan_converted_account(
                plan.account(), on=today, now=now, received_by=self.actor.id
            ):
                case Err(error):
                    detail = (
                        f"what the legacy system received ({error.paid}) exceeds what the "
                        f"policy owes ({error.owed}): settle its refund there first"
                    )
                    self.refuse(c.read, [(c.built.paid[0][2], detail)])
                case Ok(rows):
                    plan.rows = rows
                    planned.append(plan)
        if self.dry_run:
            self.loaded += [p.outcome(None) for p in planned]
            return
        await self._write(session, await self._create_customers(session, planned), now)

    async def _not_loaded(
        self, session: AsyncSession, candidates: list[_Candidate]
    ) -> list[_Candidate]:
        """The candidates not loaded yet; one whose number exists is reported as already
        loaded when it is the policy the file describes, and refused when it is not."""
        existing = {
            p.number: p
            for p in await repository.by_numbers(session, [c.policy.number for c in candidates])
        }
        if not existing:
            return candidates
        ids = [p.id for p in existing.values()]
        histories = await repository.transactions_of(session, ids)
        paid = await billing.conversion_payments(session, ids)
        fresh = []
        for c in candidates:
            found = existing.get(c.policy.number)
            if found is None:
                fresh.append(c)
                continue
            assert c.built is not None
            difference = compare_loaded(
                found, histories.get(found.id, []), paid.get(found.id, {}), c.built
            )
            if difference is None:
                self.known.append(KnownPolicy(number=found.number, policy_id=found.id))
            else:
                path, detail = difference
                self.refuse(c.read, [(path, f"already loaded, and the file now differs: {detail}")])
        return fresh

    async def _create_customers(
        self, session: AsyncSession, planned: list[Planned]
    ) -> list[Planned]:
        """Create, once, each customer given by the file that the planned policies need; the
        policies whose customer cannot be created (an agent it names is unknown, say: that is
        refused before anything is written) are refused."""
        failed: dict[str, DomainError] = {}
        for plan in planned:
            ref = plan.built.policy.customer_ref
            if ref is None or ref in self.refs.created or ref in failed:
                continue
            match await customers.create_customer(
                session,
                self.refs.details[ref],
                actor=self.actor,
                cipher=self.cipher,
                customer_id=customer_id_for(ref),
            ):
                case Ok():
                    self.refs.created.add(ref)
                    del self.refs.details[ref]
                case Err(error):
                    failed[ref] = error
        kept: list[Planned] = []
        for plan in planned:
            refused = failed.get(plan.built.policy.customer_ref or "")
            if refused is None:
                kept.append(plan)
                continue
            issues = [(("customer", *pointer_path(e.pointer)), e.detail) for e in refused.errors]
            self.refuse(plan.read, issues or [(("customer",), refused.detail)])
        return kept

    async def _write(self, session: AsyncSession, planned: list[Planned], now: datetime) -> None:
        actor = self.actor
        policies: list[dict[str, Any]] = []
        transactions: list[dict[str, Any]] = []
        for plan in planned:
            policies.append(plan.policy_row(actor.id, now))
            transactions += plan.transaction_rows(actor.id, now)
        await repository.insert_converted(session, policies, transactions)
        await billing.open_converted_accounts(session, [p.rows for p in planned if p.rows], now=now)
        for plan in planned:
            policy = plan.built.policy
            summary = {
                "number": policy.number,
                "transactions": len(plan.built.steps),
                "payments": len(plan.built.paid),
                "inception_on": plan.built.inception_on.isoformat(),
            }
            policy_id = str(plan.policy_id)
            await audit.record(session, actor, "policy.imported", "policy", policy_id, summary)
            emit(session, "policy.imported", "policy", policy_id, summary)
            self.loaded.append(plan.outcome(plan.policy_id))


async def import_book(
    session: AsyncSession,
    policies: Iterable[ReadPolicy],
    *,
    actor: Actor,
    cipher: FieldCipher,
    dry_run: bool = False,
) -> Result[ImportResult, DomainError]:
    """Import ``policies`` in ``session``'s transaction (the API's path: one request, one
    transaction); a larger book goes a chunk per transaction through :class:`BookImport`."""
    match start_import(actor, cipher=cipher, dry_run=dry_run):
        case Err() as err:
            return err
        case Ok(book):
            pass
    await book.load(session, list(policies))
    return Ok(book.result())


def start_import(
    actor: Actor, *, cipher: FieldCipher, dry_run: bool
) -> Result[BookImport, DomainError]:
    """A new import by ``actor``, if an administrator (403 otherwise)."""
    if not may_import(actor):
        return Err(forbidden("auth.permission_missing", "converting a book is for administrators"))
    return Ok(BookImport(actor=actor, cipher=cipher, dry_run=dry_run))
