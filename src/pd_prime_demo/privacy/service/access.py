"""Everything held about a person, for the right of access and portability (GDPR Art. 15, 20;
CCPA 1798.110, 1798.130(a)(2)).

Each domain reads the person's own rows through its ``privacy`` module; this module turns any
row into fields generically, from the table's columns and the data map's annotations
(``core.personal_data``): a column a model adds is exported without a change here, and what
must never leave (credentials, digests of secrets) is kept out by its annotation or its name.
Encrypted columns are opened: the person is entitled to their own data in the clear. Every
domain's encryption binds the context ``<table>.<field>:<primary key>`` (``core.pii_rotation``),
which is what lets one function open them all.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
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
# The audit entries listed per record: the newest, a bounded page (the log's own API pages
# the rest); ids, actions and times only, as the log holds.
AUDIT_ENTRIES_PER_RECORD = 200

_CSV_HEADER = ("domain", "table", "record_id", "field", "value")


@dataclass(frozen=True, slots=True)
class PersonalRecord:
    domain: str
    table: str
    record_id: str
    fields: Mapping[str, Any]  # JSON values: str, int, bool, None, lists and objects


@dataclass(frozen=True, slots=True)
class PersonalDataExport:
    customer_id: uuid.UUID
    generated_at: datetime
    records: tuple[PersonalRecord, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "customer_id": str(self.customer_id),
            "generated_at": self.generated_at.isoformat(),
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
        not a string is written as JSON, so lists and objects survive the round trip)."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(_CSV_HEADER)
        for r in self.records:
            for name, value in r.fields.items():
                text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
                writer.writerow((r.domain, r.table, r.record_id, name, text))
        return buffer.getvalue().encode("utf-8")

    def tables(self) -> set[str]:
        return {r.table for r in self.records}


@beartype
async def collect(
    session: AsyncSession, customer_id: uuid.UUID, *, cipher: FieldCipher
) -> PersonalDataExport:
    """Every record held about the customer, across the domains. An unknown customer gives an
    empty export (the caller, the request workflow, has verified who asks for whom)."""
    records: list[PersonalRecord] = []
    customers = await customers_privacy.rows(session, customer_id)
    records += _records("customers", customers, cipher)
    user_id = customers[0].user_id if customers else None
    if user_id is not None:
        records += _records("identity", await identity_privacy.rows(session, user_id), cipher)
    records += _records("quotes", await quotes_privacy.rows(session, customer_id), cipher)
    policy_ids = await policies_privacy.policy_ids(session, customer_id)
    records += _records("policies", await policies_privacy.rows(session, customer_id), cipher)
    records += _records("documents", await documents_privacy.rows(session, policy_ids), cipher)
    records += _records(
        "billing", await billing_privacy.rows(session, customer_id, policy_ids), cipher
    )
    claims = await claims_privacy.rows(session, customer_id)
    records += _records("claims", claims, cipher)
    records += _records("privacy", await _consents(session, customer_id), cipher)
    records += await _audit_records(session, customer_id, user_id, records)
    return PersonalDataExport(customer_id, clock.now(), tuple(records))


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


def _records(domain: str, rows: Iterable[Base], cipher: FieldCipher) -> list[PersonalRecord]:
    return [_record(domain, row, cipher) for row in rows]


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
        page = await audit.list_entries(
            session,
            resource_type=resource_type,
            resource_id=resource_id,
            cursor=None,
            limit=AUDIT_ENTRIES_PER_RECORD,
        )
        if not isinstance(page, Ok):
            continue
        for entry in page.value[0]:
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
