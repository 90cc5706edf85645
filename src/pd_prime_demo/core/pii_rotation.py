"""Re-encrypting every encrypted field under the active PII key (``pd-prime keys rotate``).

Each ciphertext names its key id (``v1.<kid>.<...>``), so progress needs no table of its own:
what is left is whatever does not name the active key. A run walks each table in primary-key
order (keyset, an index scan), a batch per transaction, and rewrites each field by compare and
set (``WHERE column = <the ciphertext read>``): a field the API changed meanwhile is left as the
API wrote it, so the run never holds a lock across a batch nor overwrites anything newer. An
interrupted run loses at most its open batch, and the next run carries on where the fields say.

Every field is sealed with the context ``<table>.<field>:<row key>`` (``<field>`` is the column
without its ``_enc`` suffix): the convention every domain's encryption follows, and the only
thing this module knows of them. A new encrypted column gets a line in ``ENCRYPTED_FIELDS``
(a test fails until it has one).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import String, column, func, or_, select, table, tuple_, update

from pd_prime_demo.core.crypto import DecryptionError, FieldCipher
from pd_prime_demo.core.database import Database


@dataclass(frozen=True, slots=True)
class EncryptedTable:
    name: str
    key: str  # the primary key column (ordered: the keyset)
    columns: tuple[str, ...]
    # The second column of a two-column primary key (privacy_exports: request and format); the
    # context then names both, joined by ":".
    key2: str | None = None

    @property
    def keys(self) -> tuple[str, ...]:
        return (self.key,) if self.key2 is None else (self.key, self.key2)

    def context(self, column_name: str, *key: object) -> str:
        return f"{self.name}.{column_name.removesuffix('_enc')}:{':'.join(map(str, key))}"


ENCRYPTED_FIELDS: tuple[EncryptedTable, ...] = (
    EncryptedTable(
        "customers", "id", ("date_of_birth_enc", "ssn_enc", "drivers_license_number_enc")
    ),
    EncryptedTable("webhook_subscriptions", "id", ("secret", "previous_secret")),
    EncryptedTable("totp_credentials", "user_id", ("secret_enc",)),
    EncryptedTable("email_tokens", "id", ("new_email_enc",)),
    EncryptedTable("mail_messages", "id", ("to_enc", "body_enc")),
    EncryptedTable("claim_parties", "id", ("contact_enc",)),
    EncryptedTable("privacy_requests", "id", ("corrections_enc",)),
    EncryptedTable("privacy_exports", "request_id", ("content_enc",), key2="format"),
)


@dataclass(slots=True)
class TableReport:
    rewritten: int = 0  # fields now under the active key
    changed_meanwhile: int = 0  # fields the API rewrote between our read and our write
    unreadable: int = 0  # under a key not in the ring, or tampered: left as they are
    batches: int = 0


@dataclass(slots=True)
class RotationReport:
    active_kid: str
    tables: dict[str, TableReport] = field(default_factory=dict)
    finished: bool = True  # False when stopped by max_batches: run again to carry on

    @property
    def rewritten(self) -> int:
        return sum(t.rewritten for t in self.tables.values())


def _kid(expression: Any) -> Any:
    return func.split_part(expression, ".", 2)


async def rotate(
    db: Database,
    cipher: FieldCipher,
    *,
    batch_size: int,
    max_batches: int | None = None,
    pause_seconds: float = 0.0,
    tables: tuple[EncryptedTable, ...] = ENCRYPTED_FIELDS,
) -> RotationReport:
    """Re-encrypt every field not under ``cipher.active_kid``, ``batch_size`` rows a
    transaction; stop after ``max_batches`` (in all) if given, pausing between batches."""
    report = RotationReport(cipher.active_kid)
    budget = max_batches
    for target in tables:
        table_report = report.tables.setdefault(target.name, TableReport())
        t = table(
            target.name,
            *(column(k) for k in target.keys),
            *(column(c, String) for c in target.columns),
        )
        width = len(target.keys)
        keys = tuple_(*(t.c[k] for k in target.keys))
        stale = or_(
            *((t.c[c].is_not(None)) & (_kid(t.c[c]) != cipher.active_kid) for c in target.columns)
        )
        after: tuple[object, ...] | None = None
        while True:
            if budget is not None and budget <= 0:
                report.finished = False
                return report
            query = (
                select(t).where(stale).order_by(*(t.c[k] for k in target.keys)).limit(batch_size)
            )
            if after is not None:
                query = query.where(keys > tuple_(*after))
            async with db.unit_of_work() as session:
                rows = (await session.execute(query)).all()
                for row in rows:
                    for name in target.columns:
                        old = getattr(row, name)
                        if old is None or not cipher.needs_rotation(old):
                            continue
                        at = tuple(row[:width])
                        context = target.context(name, *at)
                        try:
                            plain = cipher.decrypt(old, context=context)
                        except DecryptionError:
                            table_report.unreadable += 1
                            continue
                        new = cipher.encrypt(plain, context=context)
                        done = await session.execute(
                            update(t)
                            .where(keys == tuple_(*at), t.c[name] == old)
                            .values({name: new})
                        )
                        if done.rowcount:  # type: ignore[attr-defined]
                            table_report.rewritten += 1
                        else:
                            table_report.changed_meanwhile += 1
            if not rows:
                break
            after = tuple(rows[-1][:width])
            table_report.batches += 1
            if budget is not None:
                budget -= 1
            if pause_seconds:
                await asyncio.sleep(pause_seconds)
    return report


async def key_ids_in_use(
    db: Database, *, tables: tuple[EncryptedTable, ...] = ENCRYPTED_FIELDS
) -> Counter[str]:
    """How many fields each key id still encrypts: a key no field names may leave the ring."""
    counts: Counter[str] = Counter()
    async with db.sessionmaker() as session:
        for target in tables:
            t = table(target.name, *(column(c, String) for c in target.columns))
            for name in target.columns:
                kid = _kid(t.c[name]).label("kid")
                rows = await session.execute(
                    select(kid, func.count()).where(t.c[name].is_not(None)).group_by(kid)
                )
                for found, count in rows:
                    counts[str(found)] += int(count)
    return counts
