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

import asyncio
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.billing import service as billing
from pd_prime_demo.core import clock, locks
from pd_prime_demo.core.actor import Actor, ActorKind, Permission, Role
from pd_prime_demo.core.crypto import FieldCipher
from pd_prime_demo.core.outbox import emit
from pd_prime_demo.core.result_types import DomainError, Err, Ok, Result, forbidden
from pd_prime_demo.policies import repository
from pd_prime_demo.policies.service.import_build import (
    Built,
    Catalog,
    VersionHeader,
    build_policy,
    pointer_path,
)
from pd_prime_demo.policies.service.import_customers import BookCustomers
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

IMPORT_LOCK = "policies.import"  # one importer writes at a time: re-runs never race


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
class Prepared:
    """A chunk checked and planned, to write: its policies, and the moment it was planned
    (every row of the chunk is stamped with it)."""

    planned: list[Planned]
    now: datetime


async def _now_and_then(n: int, every: int = 25) -> None:
    if n % every == 0:
        await asyncio.sleep(0)


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
        self.customers = BookCustomers(actor=actor, cipher=cipher, dry_run=dry_run)
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
        if read.nul and (nul := first_nul(read.data)) is not None:
            issues.append((nul, "contains a NUL character"))
            self.refuse(read, issues)
            return None
        try:
            policy = BookPolicy.model_validate(read.data)
        except ValidationError as exc:
            issues += [(tuple(e["loc"]), e["msg"]) for e in exc.errors()]
            self.refuse(read, issues)
            return None
        customer_id = self.customers.customer_id(policy, read.row, issues)
        if issues or customer_id is None:
            self.refuse(read, issues)
            return None
        return _Candidate(read, policy, customer_id)

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

    # -- loading ----------------------------------------------------------------------------

    async def load(self, session: AsyncSession, chunk: list[ReadPolicy]) -> None:
        """Check a chunk of policies and, unless a dry run, write those without a problem, all
        in ``session``'s transaction."""
        if not self.dry_run:
            await locks.lock(session, IMPORT_LOCK)  # what is loaded already is read under it
        await self.write(session, await self.prepare(session, chunk))

    async def prepare(self, session: AsyncSession, chunk: list[ReadPolicy]) -> Prepared:
        """Everything but writing (``session`` only reads): check each policy, build it and
        plan its billing. It hands the event loop back every few policies, so a chunk being
        written meanwhile on another connection goes on (``import_file`` overlaps them)."""
        candidates = []
        for n, read in enumerate(chunk, 1):
            if (candidate := self._parsed(read)) is not None:
                candidates.append(candidate)
            await _now_and_then(n)
        await self._catalog(session, {(c.policy.product_code, c.policy.state) for c in candidates})
        today = clock.today()
        for n, c in enumerate(candidates, 1):
            outcome = build_policy(
                c.policy, customer_id=c.customer_id, catalog=self.catalog, today=today
            )
            if isinstance(outcome, list):
                self.refuse(c.read, outcome)
            else:
                c.built = outcome
            await _now_and_then(n)
        fresh = await self._not_loaded(session, [c for c in candidates if c.built is not None])
        ready = []
        missing = await self.customers.missing(session, [(c.policy, c.customer_id) for c in fresh])
        for c, problem in zip(fresh, missing, strict=True):
            if problem is None:
                ready.append(c)
            else:
                self.refuse(c.read, [problem])
        serials = (
            [0] * len(ready)
            if self.dry_run
            else await repository.conversion.next_serials(session, len(ready))
        )
        prepared = Prepared([], clock.now())
        for n, (c, serial) in enumerate(zip(ready, serials, strict=True), 1):
            assert c.built is not None
            plan = Planned(
                c.read, c.built, uuid.uuid4(), serial, [uuid.uuid4() for _ in c.built.steps]
            )
            if self.dry_run and plan.received() <= plan.written():
                prepared.planned.append(plan)  # what the policy owes is at least what it wrote
                continue
            match billing.plan_converted_account(
                plan.account(), on=today, now=prepared.now, received_by=self.actor.id
            ):
                case Err(error):
                    detail = (
                        f"what the legacy system received ({error.paid}) exceeds what the "
                        f"policy owes ({error.owed}): settle its refund there first"
                    )
                    where = c.built.paid[0][2] if c.built.paid else ("transactions",)
                    self.refuse(c.read, [(where, detail)])
                case Ok(rows):
                    plan.rows = rows
                    prepared.planned.append(plan)
            await _now_and_then(n)
        if self.dry_run:
            self.loaded += [p.outcome(None) for p in prepared.planned]
        return prepared

    async def write(self, session: AsyncSession, prepared: Prepared) -> None:
        """Write what ``prepare`` planned (nothing in a dry run), under the importers' lock."""
        if self.dry_run or not prepared.planned:
            return
        await locks.lock(session, IMPORT_LOCK)
        planned = await self._loaded_meanwhile(session, prepared.planned)
        failed = await self.customers.create(
            session, [ref for p in planned if (ref := p.built.policy.customer_ref) is not None]
        )
        kept: list[Planned] = []
        for plan in planned:
            refused = failed.get(plan.built.policy.customer_ref or "")
            if refused is None:
                kept.append(plan)
                continue
            issues = [(("customer", *pointer_path(e.pointer)), e.detail) for e in refused.errors]
            self.refuse(plan.read, issues or [(("customer",), refused.detail)])
        await self._write(session, kept, prepared.now)

    async def _loaded_meanwhile(
        self, session: AsyncSession, planned: list[Planned]
    ) -> list[Planned]:
        """Another import may have loaded a number since ``prepare`` looked: it is refused
        here (a run of the file again compares it) rather than loaded twice."""
        numbers = [p.built.policy.number for p in planned]
        taken = {p.number for p in await repository.conversion.by_numbers(session, numbers)}
        for plan in planned:
            if plan.built.policy.number in taken:
                detail = "loaded by another import while this one ran: run the file again"
                self.refuse(plan.read, [(("number",), detail)])
        return [p for p in planned if p.built.policy.number not in taken]

    async def _not_loaded(
        self, session: AsyncSession, candidates: list[_Candidate]
    ) -> list[_Candidate]:
        """The candidates not loaded yet; one whose number exists is reported as already
        loaded when it is the policy the file describes, and refused when it is not."""
        existing = {
            p.number: p
            for p in await repository.conversion.by_numbers(
                session, [c.policy.number for c in candidates]
            )
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

    async def _write(self, session: AsyncSession, planned: list[Planned], now: datetime) -> None:
        actor = self.actor
        policies: list[dict[str, Any]] = []
        transactions: list[dict[str, Any]] = []
        for plan in planned:
            policies.append(plan.policy_row(actor.id, now))
            transactions += plan.transaction_rows(actor.id, now)
        await repository.conversion.insert_converted(session, policies, transactions)
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
            emit(
                session,
                "policy.imported",
                "policy",
                policy_id,
                summary,
                customer_id=policy.customer_id,
            )
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
