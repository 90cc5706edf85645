"""Product versions: upload, lifecycle (draft -> approved -> active -> retired), selection.

An approved version never changes: its definition and hash are fixed, so a quote that records
the version id can always be re-rated to the same cent. Other domains rate through
:func:`version_in_force` and :func:`compiled_version` (compiled once per process, cached),
never through the ``product_versions`` table.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor, Permission, Role
from pd_prime_demo.core.outbox import emit
from pd_prime_demo.core.result_types import (
    DomainError,
    Err,
    ErrorKind,
    FieldIssue,
    Ok,
    Result,
    conflict,
    forbidden,
    invalid,
    not_found,
)
from pd_prime_demo.products import repository
from pd_prime_demo.products.models import ProductVersion, ProductVersionStatus
from pd_prime_demo.rating.definition import ProductVersionDefinition
from pd_prime_demo.rating.engine import CompiledProduct, compile_product
from pd_prime_demo.rating.validation import validate_definition

NOT_FOUND = not_found("product_version")

Transition = Literal["approve", "activate", "retire"]
_TRANSITIONS: dict[Transition, tuple[ProductVersionStatus, ProductVersionStatus]] = {
    "approve": (ProductVersionStatus.DRAFT, ProductVersionStatus.APPROVED),
    "activate": (ProductVersionStatus.APPROVED, ProductVersionStatus.ACTIVE),
    "retire": (ProductVersionStatus.ACTIVE, ProductVersionStatus.RETIRED),
}


def parse_definition(raw: dict[str, Any]) -> Result[ProductVersionDefinition, DomainError]:
    """Schema check, then the cross-reference and coverage checks, with pointers for each."""
    try:
        defn = ProductVersionDefinition.model_validate(raw)
    except ValidationError as exc:
        issues = [
            FieldIssue("#/" + "/".join(str(p) for p in e["loc"]), e["msg"]) for e in exc.errors()
        ]
        return Err(invalid("product.invalid_definition", "the definition is not valid", *issues))
    if issues := validate_definition(defn):
        return Err(invalid("product.invalid_definition", "the definition is not valid", *issues))
    return Ok(defn)


def _hash(defn: ProductVersionDefinition) -> str:
    canonical = json.dumps(defn.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def upload_version(
    session: AsyncSession, raw: dict[str, Any], *, actor: Actor
) -> Result[ProductVersion, DomainError]:
    if not actor.has(Permission.PRODUCTS_MANAGE):
        return Err(forbidden("auth.permission_missing", "this requires products:manage"))
    match parse_definition(raw):
        case Err() as err:
            return err
        case Ok(defn):
            pass
    existing = await repository.find_by_identity(
        session, defn.product_code, defn.state, defn.version
    )
    if existing is not None:
        return Err(conflict("product.version_exists", "this product, state and version exist"))
    row = ProductVersion(
        id=uuid.uuid4(),
        product_code=defn.product_code,
        product_name=defn.product_name,
        line_of_business=defn.line_of_business,
        state=defn.state,
        version=defn.version,
        status=ProductVersionStatus.DRAFT,
        effective_new_business=defn.effective_new_business,
        effective_renewal=defn.effective_renewal,
        definition=defn.model_dump(mode="json"),
        content_hash=_hash(defn),
        created_at=clock.now(),
        created_by=actor.id,
    )
    await repository.insert(session, row)
    await audit.record(
        session,
        actor,
        "product_version.uploaded",
        "product_version",
        str(row.id),
        {"product_code": row.product_code, "state": row.state, "version": row.version},
    )
    return Ok(row)


async def replace_draft(
    session: AsyncSession, version_id: uuid.UUID, raw: dict[str, Any], *, actor: Actor
) -> Result[ProductVersion, DomainError]:
    if not actor.has(Permission.PRODUCTS_MANAGE):
        return Err(forbidden("auth.permission_missing", "this requires products:manage"))
    row = await repository.get(session, version_id, for_update=True)
    if row is None:
        return Err(NOT_FOUND)
    if row.status != ProductVersionStatus.DRAFT:
        return Err(conflict("product.version_immutable", f"a {row.status} version cannot change"))
    match parse_definition(raw):
        case Err() as err:
            return err
        case Ok(defn):
            pass
    if (defn.product_code, defn.state, defn.version) != (row.product_code, row.state, row.version):
        return Err(
            invalid(
                "product.identity_changed",
                "product_code, state and version cannot change; upload a new version instead",
                FieldIssue("#/version", "must stay the same"),
            )
        )
    row.definition = defn.model_dump(mode="json")
    row.content_hash = _hash(defn)
    row.effective_new_business = defn.effective_new_business
    row.effective_renewal = defn.effective_renewal
    row.product_name = defn.product_name
    await audit.record(session, actor, "product_version.replaced", "product_version", str(row.id))
    return Ok(row)


async def transition(
    session: AsyncSession, version_id: uuid.UUID, action: Transition, *, actor: Actor
) -> Result[ProductVersion, DomainError]:
    if not actor.has(Permission.PRODUCTS_MANAGE):
        return Err(forbidden("auth.permission_missing", "this requires products:manage"))
    row = await repository.get(session, version_id, for_update=True)
    if row is None:
        return Err(NOT_FOUND)
    source, target = _TRANSITIONS[action]
    if row.status != source:
        return Err(
            conflict(
                "product.invalid_transition",
                f"cannot {action} a {row.status} version (only a {source} one)",
            )
        )
    now = clock.now()
    row.status = target
    if target is ProductVersionStatus.APPROVED:
        row.approved_at, row.approved_by = now, actor.id
    elif target is ProductVersionStatus.ACTIVE:
        row.activated_at = now
    else:
        row.retired_at = now
    await audit.record(
        session,
        actor,
        f"product_version.{target}",
        "product_version",
        str(row.id),
        {"from": source, "to": target},
    )
    emit(
        session,
        f"product_version.{target}",
        "product_version",
        str(row.id),
        {"product_code": row.product_code, "state": row.state, "version": row.version},
    )
    return Ok(row)


async def get_version(
    session: AsyncSession, version_id: uuid.UUID
) -> Result[ProductVersion, DomainError]:
    row = await repository.get(session, version_id)
    return Ok(row) if row is not None else Err(NOT_FOUND)


async def list_versions(
    session: AsyncSession,
    *,
    product_code: str | None,
    state: str | None,
    status: ProductVersionStatus | None,
) -> list[ProductVersion]:
    return await repository.list_versions(
        session, product_code=product_code, state=state, status=status
    )


async def page_versions(
    session: AsyncSession,
    *,
    product_code: str | None,
    state: str | None,
    status: ProductVersionStatus | None,
    cursor: str | None,
    limit: int,
) -> Result[tuple[list[ProductVersion], str | None], DomainError]:
    return await repository.page_versions(
        session, product_code=product_code, state=state, status=status, cursor=cursor, limit=limit
    )


def _no_version_in_force(product_code: str, state: str, on: date) -> DomainError:
    return DomainError(
        ErrorKind.INVALID,
        "quote.no_rate_version",
        f"{product_code} is not available in {state} on {on.isoformat()}",
        errors=(FieldIssue("#/effective_on", "no active rate version in force"),),
    )


@dataclass(frozen=True, slots=True)
class CompiledVersion:
    """A product version ready to rate, with what other domains record about it."""

    id: uuid.UUID
    product_code: str
    state: str
    version: str  # the filed label, e.g. "TX-2026.1"
    content_hash: str
    definition: ProductVersionDefinition
    engine: CompiledProduct


async def compiled_version(session: AsyncSession, version_id: uuid.UUID) -> CompiledVersion:
    """A version that exists (callers hold its id from their own rows), compiled.

    Raises ``LookupError`` for an unknown id: that is a bug or a broken reference, not a
    business outcome.
    """
    row = await repository.get_header(session, version_id)
    if row is None:
        raise LookupError(f"product version {version_id} does not exist")
    return await _compiled.version(session, row)


async def version_in_force(
    session: AsyncSession, product_code: str, state: str, on: date, *, renewal: bool = False
) -> Result[CompiledVersion, DomainError]:
    """The active version in force on ``on`` for new business (or renewals), compiled."""
    row = await repository.in_force(session, product_code, state, on, renewal=renewal)
    if row is None:
        return Err(_no_version_in_force(product_code, state, on))
    return Ok(await _compiled.version(session, row))


class _CompiledCache:
    """Compiled versions by id, checked against the row's content hash.

    Versions are immutable once approved; a draft can be replaced, but its hash then changes,
    so a stale entry is never served. The row is read without its definition: the definition
    is read (and compiled) only on a miss.
    """

    def __init__(self, size: int = 64) -> None:
        self._items: OrderedDict[uuid.UUID, CompiledVersion] = OrderedDict()
        self._size = size

    async def version(self, session: AsyncSession, row: ProductVersion) -> CompiledVersion:
        compiled = self._items.get(row.id)
        if compiled is not None and compiled.content_hash == row.content_hash:
            self._items.move_to_end(row.id)
            return compiled
        found = await repository.definition_of(session, row.id)
        assert found is not None
        raw, content_hash = found
        definition = ProductVersionDefinition.model_validate(raw)
        compiled = CompiledVersion(
            id=row.id,
            product_code=row.product_code,
            state=row.state,
            version=row.version,
            content_hash=content_hash,  # the definition's own, should a draft just have changed
            definition=definition,
            engine=compile_product(definition),
        )
        self._items[row.id] = compiled
        self._items.move_to_end(row.id)
        if len(self._items) > self._size:
            self._items.popitem(last=False)
        return compiled


_compiled = _CompiledCache()


def effective_date_issues(
    version: CompiledVersion, on: date, *, actor: Actor, pointer: str = "#/effective_on"
) -> list[FieldIssue]:
    """Whether ``actor`` may make a quote, bind or change effective ``on`` under the
    product's window: at most ``max_advance_days`` ahead; at most ``max_backdate_days`` back
    for an agent or staff, further only with underwriting authority. A policyholder buying or
    changing cover directly cannot back-date it at all: cover already past is given by someone
    who answers for it (no known loss), not by self-service."""
    window = version.definition.effective_dates
    today = clock.today()
    if on > today + timedelta(days=window.max_advance_days):
        return [FieldIssue(pointer, f"must be within {window.max_advance_days} days from today")]
    if on >= today or actor.has(Permission.UNDERWRITING_DECIDE):
        return []
    if actor.role is Role.CUSTOMER:
        return [FieldIssue(pointer, "must be today or later: ask your agent to back-date cover")]
    earliest = today - timedelta(days=window.max_backdate_days)
    if on < earliest:
        return [
            FieldIssue(
                pointer,
                f"must not be before {earliest.isoformat()} ({window.max_backdate_days} days "
                "back); earlier needs an underwriter",
            )
        ]
    return []
