"""Product versions: upload, lifecycle (draft -> approved -> active -> retired), selection.

An approved version never changes: its definition and hash are fixed, so a quote that records
the version id can always be re-rated to the same cent.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import OrderedDict
from datetime import date
from typing import Any, Literal

from pydantic import ValidationError
from sqlalchemy import Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from pd_prime_demo.audit import service as audit
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor, Permission
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
from pd_prime_demo.products.models import ProductVersion
from pd_prime_demo.rating.definition import ProductVersionDefinition
from pd_prime_demo.rating.engine import CompiledProduct, compile_product
from pd_prime_demo.rating.validation import validate_definition

NOT_FOUND = not_found("product_version")

_TRANSITIONS: dict[str, tuple[str, str]] = {
    "approve": ("draft", "approved"),
    "activate": ("approved", "active"),
    "retire": ("active", "retired"),
}
Transition = Literal["approve", "activate", "retire"]


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
    existing = await session.scalar(
        select(ProductVersion).where(
            ProductVersion.product_code == defn.product_code,
            ProductVersion.state == defn.state,
            ProductVersion.version == defn.version,
        )
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
        status="draft",
        effective_new_business=defn.effective_new_business,
        effective_renewal=defn.effective_renewal,
        definition=defn.model_dump(mode="json"),
        content_hash=_hash(defn),
        created_at=clock.now(),
        created_by=actor.id,
    )
    session.add(row)
    await session.flush()
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
    row = await session.get(ProductVersion, version_id, with_for_update=True)
    if row is None:
        return Err(NOT_FOUND)
    if row.status != "draft":
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
    row = await session.get(ProductVersion, version_id, with_for_update=True)
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
    if action == "approve":
        row.approved_at, row.approved_by = now, actor.id
    elif action == "activate":
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
    row = await session.get(ProductVersion, version_id)
    return Ok(row) if row is not None else Err(NOT_FOUND)


async def list_versions(
    session: AsyncSession, *, product_code: str | None, state: str | None, status: str | None
) -> list[ProductVersion]:
    query = select(ProductVersion).order_by(
        ProductVersion.product_code, ProductVersion.state, ProductVersion.effective_new_business
    )
    if product_code:
        query = query.where(ProductVersion.product_code == product_code)
    if state:
        query = query.where(ProductVersion.state == state)
    if status:
        query = query.where(ProductVersion.status == status)
    return list((await session.scalars(query)).all())


def _version_in_force(renewal: bool) -> Select[ProductVersion]:
    effective = (
        ProductVersion.effective_renewal if renewal else ProductVersion.effective_new_business
    )
    return (
        select(ProductVersion)
        # The definition is large and immutable: load it only when the engine cache misses.
        .options(defer(ProductVersion.definition))
        .where(
            ProductVersion.product_code == bindparam("product_code"),
            ProductVersion.state == bindparam("state"),
            ProductVersion.status == "active",
            effective <= bindparam("on"),
        )
        .order_by(effective.desc())
        .limit(1)
    )


# Every quote selects its version: the two statements are built once.
_VERSION_IN_FORCE = {renewal: _version_in_force(renewal) for renewal in (False, True)}


async def select_version(
    session: AsyncSession, product_code: str, state: str, on: date, *, renewal: bool = False
) -> Result[ProductVersion, DomainError]:
    """The active version in force on ``on`` for new business (or renewals) in ``state``."""
    row = await session.scalar(
        _VERSION_IN_FORCE[renewal], {"product_code": product_code, "state": state, "on": on}
    )
    if row is None:
        return Err(
            DomainError(
                ErrorKind.INVALID,
                "quote.no_rate_version",
                f"{product_code} is not available in {state} on {on.isoformat()}",
                errors=(FieldIssue("#/effective_on", "no active rate version in force"),),
            )
        )
    return Ok(row)


class _CompiledCache:
    """Compiled engines by version id and content hash: versions are immutable once approved.

    A draft can be replaced, but its hash then changes, so a stale entry is never served.
    """

    def __init__(self, size: int = 64) -> None:
        self._items: OrderedDict[tuple[uuid.UUID, str], CompiledProduct] = OrderedDict()
        self._size = size

    async def get(self, session: AsyncSession, row: ProductVersion) -> CompiledProduct:
        key = (row.id, row.content_hash)
        compiled = self._items.get(key)
        if compiled is None:
            definition = await session.scalar(
                select(ProductVersion.definition).where(ProductVersion.id == row.id)
            )
            assert definition is not None
            compiled = compile_product(ProductVersionDefinition.model_validate(definition))
            self._items[key] = compiled
            if len(self._items) > self._size:
                self._items.popitem(last=False)
        else:
            self._items.move_to_end(key)
        return compiled


compiled_products = _CompiledCache()
