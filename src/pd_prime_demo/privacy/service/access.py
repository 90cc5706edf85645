"""Everything held about a person, for the right of access and portability (GDPR Art. 15, 20;
CCPA 1798.110, 1798.130(a)(2)).

Each domain reads the person's own rows through its ``privacy`` module; this module turns any
row into fields generically, from the table's columns and the data map's annotations
(``core.personal_data``): a column a model adds is exported without a change here, and what
must never leave (credentials, digests of secrets) is kept out by its annotation or its name.
Encrypted columns are opened: the person is entitled to their own data in the clear. Every
domain's encryption binds the context ``<table>.<field>:<primary key>`` (``core.pii_rotation``),
which is what lets one function open them all.

What the person must not get is withheld, never silently: each domain's privacy module names
the columns and rows it withholds and why (claims: internal notes, reserves and reserve
movements, coverage findings, fraud indicators; customers: government ids in a CCPA answer),
and the export lists them under "withheld" with the legal basis (GDPR Art. 15(4), 23(1);
CCPA 1798.145(a)(1); 11 CCR 7024(d)) instead of their content.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from beartype import beartype
from sqlalchemy import LargeBinary
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.billing import privacy as billing_privacy
from pd_prime_demo.claims import privacy as claims_privacy
from pd_prime_demo.core import clock
from pd_prime_demo.core.crypto import DecryptionError, FieldCipher
from pd_prime_demo.core.database import Base
from pd_prime_demo.core.personal_data import INFO_KEY, Category, PersonalField
from pd_prime_demo.core.result_types import Ok
from pd_prime_demo.customers import privacy as customers_privacy
from pd_prime_demo.documents import privacy as documents_privacy
from pd_prime_demo.identity import privacy as identity_privacy
from pd_prime_demo.policies import privacy as policies_privacy
from pd_prime_demo.privacy import repository
from pd_prime_demo.privacy.retention_rules import WITHHELD_BASIS, WithheldReason
from pd_prime_demo.quotes import privacy as quotes_privacy

# Columns that hold a secret or a digest of one, whatever their annotation says: an export is
# handed to whoever proves to be the person, and none of these may ever leave the system.
_NEVER_EXPORTED = frozenset(
    {
        "password_hash",
        "secret_hash",
        "token_hash",
        "key_hash",
        "code_hash",
        "secret_enc",
        "request_hash",
        "idempotency_key",
    }
)
# The audit entries about a record are read a bounded keyset page at a time, all of them
# (Art. 15(1)(c)); ids, actions and times only, as the log holds.
AUDIT_PAGE = 200

# Column-level withholding, by table then field (the field name the export writes).
_WITHHELD_FIELDS: Mapping[str, Mapping[str, str]] = {**claims_privacy.WITHHELD_FIELDS}

_CSV_HEADER = ("domain", "table", "record_id", "field", "value")


@dataclass(frozen=True, slots=True)
class PersonalRecord:
    domain: str
    table: str
    record_id: str
    fields: Mapping[str, Any]  # JSON values: str, int, bool, None, lists and objects


@dataclass(frozen=True, slots=True)
class WithheldItem:
    """Something held about the person that the answer does not give, and why. A field of a
    record (record_id and field set), or rows of a table (count, no ids)."""

    domain: str
    table: str
    reason: WithheldReason
    record_id: str | None = None
    field: str | None = None
    count: int = 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "table": self.table,
            "record_id": self.record_id,
            "field": self.field,
            "count": self.count,
            "reason": self.reason.value,
            "basis": WITHHELD_BASIS[self.reason],
        }


@dataclass(frozen=True, slots=True)
class PersonalDataExport:
    customer_id: uuid.UUID
    generated_at: datetime
    records: tuple[PersonalRecord, ...]
    withheld: tuple[WithheldItem, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "customer_id": str(self.customer_id),
            "generated_at": self.generated_at.isoformat(),
            "withheld": [w.as_dict() for w in self.withheld],
            "records": [
                {
                    "domain": r.domain,
                    "table": r.table,
                    "record_id": r.record_id,
                    "fields": dict(r.fields),
                }
                for r in self.records
            ],
        }

    def as_json(self) -> bytes:
        """The portable form (Art. 20: structured, commonly used, machine-readable)."""
        return json.dumps(self.as_dict(), indent=2, sort_keys=True).encode("utf-8")

    def as_csv(self) -> bytes:
        """One CSV, a row per datum: domain, table, record_id, field, value (a value that is
        not a string is written as JSON, so lists and objects survive the round trip); then a
        row per withheld item, domain "withheld", its value the reason and basis."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(_CSV_HEADER)
        for r in self.records:
            for name, value in r.fields.items():
                text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
                writer.writerow((r.domain, r.table, r.record_id, name, text))
        for w in self.withheld:
            note = f"withheld ({w.count}): {w.reason.value}: {WITHHELD_BASIS[w.reason]}"
            writer.writerow(("withheld", w.table, w.record_id or "", w.field or "", note))
        return buffer.getvalue().encode("utf-8")

    def tables(self) -> set[str]:
        return {r.table for r in self.records}


@beartype
async def collect(
    session: AsyncSession,
    customer_id: uuid.UUID,
    *,
    cipher: FieldCipher,
    disclose_government_ids: bool = False,
) -> PersonalDataExport:
    """Every record held about the customer, across the domains, less what is withheld (listed
    with its basis). An unknown customer gives an empty export (the caller, the request
    workflow, has verified who asks for whom).

    ``disclose_government_ids``: a GDPR access answer gives the person their SSN and licence
    number (Art. 15(3)); a CCPA one must not (11 CCR 7024(d)): False, the safe default, shows
    them held and masked to the last 4 and lists them as withheld."""
    out = _Collector(cipher, disclose_government_ids=disclose_government_ids)
    customers = await customers_privacy.rows(session, customer_id)
    out.add("customers", customers)
    user_id = customers[0].user_id if customers else None
    if user_id is not None:
        out.add("identity", await identity_privacy.rows(session, user_id))
    out.add("quotes", await quotes_privacy.rows(session, customer_id))
    policy_ids = await policies_privacy.policy_ids(session, customer_id)
    out.add("policies", await policies_privacy.rows(session, customer_id))
    out.add("documents", await documents_privacy.rows(session, policy_ids))
    out.add("billing", await billing_privacy.rows(session, customer_id, policy_ids))
    out.add("claims", await claims_privacy.rows(session, customer_id))
    out.add("privacy", await _consents(session, customer_id))
    out.records += await _audit_records(session, customer_id, user_id, out.records)
    return PersonalDataExport(
        customer_id, clock.now(), tuple(out.records), tuple(out.withheld_items())
    )


class _Collector:
    """The records of an export and what was withheld from them, as the domains are read."""

    def __init__(self, cipher: FieldCipher, *, disclose_government_ids: bool) -> None:
        self.cipher = cipher
        self.disclose_government_ids = disclose_government_ids
        self.records: list[PersonalRecord] = []
        self.withheld: list[WithheldItem] = []
        self.rows_withheld: dict[tuple[str, str, WithheldReason], int] = {}

    def add(self, domain: str, rows: Iterable[Base]) -> None:
        for row in rows:
            reason = claims_privacy.withheld_row(row)
            if reason is not None:
                key = (domain, _table_of(row), WithheldReason(reason))
                self.rows_withheld[key] = self.rows_withheld.get(key, 0) + 1
                continue
            self.records.append(self._record(domain, row))

    def withheld_items(self) -> list[WithheldItem]:
        rows = [
            WithheldItem(domain, table, reason, count=count)
            for (domain, table, reason), count in sorted(self.rows_withheld.items())
        ]
        return self.withheld + rows

    def _record(self, domain: str, row: Base) -> PersonalRecord:
        record = _record(domain, row, self.cipher)
        fields = dict(record.fields)
        for name, reason in _WITHHELD_FIELDS.get(record.table, {}).items():
            if name in fields:
                del fields[name]
                self.withheld.append(
                    WithheldItem(
                        domain, record.table, WithheldReason(reason), record.record_id, name
                    )
                )
        if not self.disclose_government_ids:
            for name in customers_privacy.GOVERNMENT_IDS.get(record.table, frozenset()):
                if fields.get(name) is None:
                    continue  # not held: nothing to withhold
                fields[name] = {"held": True, "masked": _masked(fields[name])}
                self.withheld.append(
                    WithheldItem(
                        domain,
                        record.table,
                        WithheldReason(customers_privacy.GOVERNMENT_ID),
                        record.record_id,
                        name,
                    )
                )
        return PersonalRecord(record.domain, record.table, record.record_id, fields)


def _masked(value: object) -> str:
    """The last 4 characters, the rest starred: enough for the person to recognise it."""
    text = str(value)
    return "*" * max(len(text) - 4, 0) + text[-4:] if len(text) > 4 else "*" * len(text)


def _table_of(row: Base) -> str:
    mapper = sa_inspect(type(row))
    return str(getattr(mapper.local_table, "name", type(row).__tablename__))


async def _consents(session: AsyncSession, customer_id: uuid.UUID) -> list[Base]:
    """Every grant and withdrawal of consent (the ledger is the person's own record of what
    they agreed to, Art. 7(1)), a page at a time."""
    out: list[Base] = []
    cursor: str | None = None
    while True:
        page = await repository.consent_page(session, customer_id, cursor=cursor, limit=500)
        if not isinstance(page, Ok):
            return out
        rows, cursor = page.value
        out.extend(rows)
        if cursor is None:
            return out


def _record(domain: str, row: Base, cipher: FieldCipher) -> PersonalRecord:
    mapper = sa_inspect(type(row))
    table = str(getattr(mapper.local_table, "name", type(row).__tablename__))
    key = mapper.primary_key_from_instance(row)
    record_id = ":".join(str(k) for k in key)
    fields: dict[str, Any] = {}
    for attr in mapper.column_attrs:
        column = attr.columns[0]
        if not exported(column.name, column.info, column.type):
            continue
        value = getattr(row, attr.key)
        if column.name.endswith("_enc"):
            name = column.name.removesuffix("_enc")
            fields[name] = _opened(cipher, value, context=f"{table}.{name}:{record_id}")
        else:
            fields[column.name] = jsonable(value)
    return PersonalRecord(domain, table, record_id, fields)


def exported(name: str, info: Mapping[str, Any], type_: object) -> bool:
    """Whether a column goes into an export: everything about the person except credentials
    (by annotation or by name) and binary content (a PDF, a passkey's public key)."""
    if name in _NEVER_EXPORTED or isinstance(type_, LargeBinary):
        return False
    marked = info.get(INFO_KEY)
    return not (isinstance(marked, PersonalField) and Category.CREDENTIALS in marked.categories)


def _opened(cipher: FieldCipher, value: object, *, context: str) -> Any:
    if value is None:
        return None
    try:
        opened = cipher.decrypt(str(value), context=context)
    except DecryptionError:
        # Under a key no longer in the ring: say so rather than fail the whole request.
        return {"unreadable": "sealed under a retired key"}
    try:
        return json.loads(opened) if opened[:1] in ("{", "[") else opened
    except ValueError:
        return opened


def jsonable(value: object) -> Any:
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


async def _audit_records(
    session: AsyncSession,
    customer_id: uuid.UUID,
    user_id: uuid.UUID | None,
    records: Sequence[PersonalRecord],
) -> list[PersonalRecord]:
    """The audit entries about the person's main records (ix_audit_log_resource): what was
    done to their data, by whom and when (Art. 15(1)(c): the recipients)."""
    wanted: list[tuple[str, str]] = [("customer", str(customer_id))]
    if user_id is not None:
        wanted.append(("user", str(user_id)))
    kinds = {"quotes": "quote", "policies": "policy", "claims": "claim"}
    wanted += [(kinds[r.table], r.record_id) for r in records if r.table in kinds]
    out: list[PersonalRecord] = []
    for resource_type, resource_id in wanted:
        async for entry in _audit_entries(session, resource_type, resource_id):
            out.append(
                PersonalRecord(
                    "audit",
                    "audit_log",
                    str(entry.id),
                    {
                        "occurred_at": jsonable(entry.occurred_at),
                        "action": entry.action,
                        "actor_kind": entry.actor_kind,
                        "actor_id": entry.actor_id,
                        "resource_type": entry.resource_type,
                        "resource_id": entry.resource_id,
                    },
                )
            )
    return out


async def _audit_entries(
    session: AsyncSession, resource_type: str, resource_id: str
) -> AsyncIterator[Any]:
    """Every audit entry about the record, a keyset page of ``AUDIT_PAGE`` per query."""
    cursor: str | None = None
    while True:
        page = await audit.list_entries(
            session,
            resource_type=resource_type,
            resource_id=resource_id,
            cursor=cursor,
            limit=AUDIT_PAGE,
        )
        if not isinstance(page, Ok):
            return
        entries, cursor = page.value
        for entry in entries:
            yield entry
        if cursor is None:
            return
