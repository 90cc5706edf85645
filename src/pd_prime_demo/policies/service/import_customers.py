"""The customers a converted book names (``service.imports``): an existing one by id, or
one the file gives with the carrier's own reference, created once with an id derived from that
reference (so another policy, a later file or a re-run finds the same customer)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.crypto import FieldCipher
from pd_prime_demo.core.result_types import DomainError, Err, Ok
from pd_prime_demo.customers import service as customers
from pd_prime_demo.policies import repository
from pd_prime_demo.policies.service.import_format import BookPolicy
from pd_prime_demo.policies.service.import_read import Issue

# Customers named by the carrier's own reference get this id, so a re-run finds them.
CUSTOMER_NAMESPACE = uuid.UUID("0c7d7c8e-5a52-4b0f-9d0e-6b1f3c2a9e47")
_CUSTOMER = TypeAdapter[customers.PersonCreate | customers.OrganisationCreate](
    customers.CustomerCreate
)


def customer_id_for(ref: str) -> uuid.UUID:
    return uuid.uuid5(CUSTOMER_NAMESPACE, ref)


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


class BookCustomers:
    """What an import knows of the file's customers, from chunk to chunk."""

    def __init__(self, *, actor: Actor, cipher: FieldCipher, dry_run: bool) -> None:
        self.actor = actor
        self.cipher = cipher
        self.dry_run = dry_run
        self.refs = _Refs()

    def customer_id(self, policy: BookPolicy, row: int, issues: list[Issue]) -> uuid.UUID | None:
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

    async def missing(
        self, session: AsyncSession, wanted: list[tuple[BookPolicy, uuid.UUID]]
    ) -> list[Issue | None]:
        """For each policy, why its customer is missing (None: it exists and the actor may
        see it, or the file gives it)."""
        found = await repository.conversion.visible_among(
            session,
            list({customer_id for _, customer_id in wanted}),
            visible_customers=customers.visible_ids(self.actor),
        )
        problems: list[Issue | None] = []
        for policy, customer_id in wanted:
            ref = policy.customer_ref
            if customer_id in found:
                if ref is not None:
                    self.refs.created.add(ref)
                    self.refs.details.pop(ref, None)
                problems.append(None)
            elif ref is None:
                problems.append((("customer_id",), "no customer you may see has this id"))
            elif not self.refs.known(ref, dry_run=self.dry_run):
                detail = "no customer has this ref yet: give its details (customer) the first time"
                problems.append((("customer_ref",), detail))
            else:
                problems.append(None)
        return problems

    async def create(self, session: AsyncSession, refs: Iterable[str]) -> dict[str, DomainError]:
        """Create, once, each customer the file gives under ``refs`` that does not exist yet;
        what could not be created (an agent it names is unknown, say: refused before anything
        is written), by ref."""
        failed: dict[str, DomainError] = {}
        for ref in refs:
            if ref in self.refs.created or ref in failed:
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
        return failed
