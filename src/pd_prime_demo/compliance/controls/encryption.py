"""Encryption of personal data at rest and in transit (AICPA TSC CC6.7; GDPR Art. 32(1)(a)).

Every column the data map gives a protected category (``core.personal_data.
PROTECTED_CATEGORIES``: government ids, dates of birth, financial, health data, credentials)
must hold a FieldCipher envelope (``core.crypto``) or a one-way hash: the control samples
stored values and fails on one that is neither. The data map is read from the models' own
column ``info`` (``core.personal_data.personal``), the same source as ``privacy.datamap``.

Sampled values never leave this module: the evidence holds per column how many values were
sampled and how many were not protected, never a value.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import MetaData, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.compliance.control import Control, ControlContext, Frequency, Outcome
from pd_prime_demo.compliance.controls.evidence import json_evidence, named
from pd_prime_demo.core.config import Environment, Settings
from pd_prime_demo.core.database import Base
from pd_prime_demo.core.personal_data import INFO_KEY, PROTECTED_CATEGORIES, PersonalField

# The first values in storage order and a random 1 % (Bernoulli) sample, each bounded: a
# plaintext writer that is new shows in the second, an old one in the first.
SAMPLE = 100
_ENVELOPE = re.compile(r"^v1\.[A-Za-z0-9_-]{1,64}\.[A-Za-z0-9_-]{16,}$")
_HASHES = (
    re.compile(r"^\$argon2(id|i|d)\$"),  # passwords (core.crypto.PasswordHashing)
    re.compile(r"^\$2[aby]\$\d\d\$"),  # bcrypt, from an imported user base
    re.compile(r"^[0-9a-f]{64}$"),  # SHA-256 / HMAC-SHA256 digests (tokens, fingerprints)
)
_TLS_MODES = {"require", "verify-ca", "verify-full"}
_LOCAL_HOSTS = {None, "", "localhost", "127.0.0.1", "::1"}


def is_protected(value: str) -> bool:
    """Whether a stored text is ciphertext or a hash, never the datum itself."""
    return bool(_ENVELOPE.match(value)) or any(p.match(value) for p in _HASHES)


def _leaves_protected(value: Any) -> bool:
    if isinstance(value, dict):
        return all(_leaves_protected(v) for v in value.values())
    if isinstance(value, list):
        return all(_leaves_protected(v) for v in value)
    return value is None or (isinstance(value, str) and is_protected(value))


def stored_value_protected(raw: str, *, is_json: bool) -> bool:
    if is_json:
        return _leaves_protected(json.loads(raw))
    return is_protected(raw)


@dataclass(frozen=True, slots=True)
class ProtectedColumn:
    table: str
    column: str
    categories: tuple[str, ...]
    is_json: bool


def protected_columns(metadata: MetaData) -> list[ProtectedColumn]:
    found = []
    for table in metadata.sorted_tables:
        for column in table.columns:
            field = column.info.get(INFO_KEY)
            if not isinstance(field, PersonalField):
                continue
            categories = sorted(c.value for c in field.categories if c in PROTECTED_CATEGORIES)
            if categories:
                is_json = column.type.__class__.__name__ in {"JSON", "JSONB"}
                found.append(ProtectedColumn(table.name, column.name, tuple(categories), is_json))
    return found


async def _sample(session: AsyncSession, column: ProtectedColumn) -> list[str]:
    quote = session.get_bind().dialect.identifier_preparer.quote
    table, name = quote(column.table), quote(column.column)
    first = f"SELECT {name}::text FROM {table} WHERE {name} IS NOT NULL LIMIT {SAMPLE}"  # noqa: S608 - names from the models, quoted
    sampled = (
        f"SELECT {name}::text FROM {table} TABLESAMPLE BERNOULLI (1) "  # noqa: S608 - as above
        f"WHERE {name} IS NOT NULL LIMIT {SAMPLE}"
    )
    values = list((await session.scalars(text(first))).all())
    values += (await session.scalars(text(sampled))).all()
    return [str(v) for v in values]


def tls_settings(settings: Settings) -> dict[str, object]:
    url = make_url(settings.database_url) if settings.database_url else None
    query = dict(url.query) if url is not None else {}
    mode = query.get("sslmode") or query.get("ssl")
    host = url.host if url is not None else None
    return {
        "environment": settings.env.value,
        "database_host_is_local": host in _LOCAL_HOSTS,
        "database_sslmode": str(mode) if mode is not None else None,
        "hsts_max_age_seconds": settings.hsts_max_age_seconds,
        "hsts_include_subdomains": settings.hsts_include_subdomains,
        "hsts_preload": settings.hsts_preload,
    }


def _tls_problems(tls: dict[str, object]) -> list[str]:
    if tls["environment"] != Environment.PRODUCTION.value:
        return []
    problems = []
    if not tls["database_host_is_local"] and tls["database_sslmode"] not in _TLS_MODES:
        problems.append(
            "the database is reached over the network without TLS "
            f"(sslmode {tls['database_sslmode'] or 'unset'}; require or verify-full needed)"
        )
    if not tls["hsts_max_age_seconds"]:
        problems.append("HSTS is off (hsts_max_age_seconds 0)")
    return problems


async def check_encryption(ctx: ControlContext, metadata: MetaData) -> Outcome:
    columns = protected_columns(metadata)
    report = []
    plaintext: list[str] = []
    for column in columns:
        values = await _sample(ctx.session, column)
        bad = sum(not stored_value_protected(v, is_json=column.is_json) for v in values)
        report.append(
            {
                "table": column.table,
                "column": column.column,
                "categories": column.categories,
                "sampled": len(values),
                "not_protected": bad,
            }
        )
        if bad:
            plaintext.append(f"{column.table}.{column.column} ({bad} of {len(values)} sampled)")
    tls = tls_settings(ctx.settings)
    evidence = (json_evidence("protected_columns.json", report), json_evidence("tls.json", tls))
    figures = {"protected_columns": len(columns), "plaintext_columns": len(plaintext)}
    problems = _tls_problems(tls)
    if not columns:
        problems.insert(0, "the data map gives no column a protected category: nothing to check")
    if plaintext:
        problems.insert(0, f"plaintext values in protected columns: {named(plaintext)}")
    if problems:
        return Outcome(False, "; ".join(problems), ctx.now, ctx.now, evidence, figures)
    sampled = sum(int(str(r["sampled"])) for r in report)
    reason = (
        f"{len(columns)} protected columns, {sampled} sampled values all ciphertext or hashes; "
        f"TLS settings as evidenced"
    )
    return Outcome(True, reason, ctx.now, ctx.now, evidence, figures)


async def encryption(ctx: ControlContext) -> Outcome:
    # Base.metadata holds every table whose models are imported: the app and the worker that
    # run the controls import every domain.
    return await check_encryption(ctx, Base.metadata)


ENCRYPTION = Control(
    id="CC6.7-encryption",
    criteria=("CC6.7",),
    title="Protected personal data is encrypted; connections use TLS",
    description=(
        "Every column the data map gives a protected category holds FieldCipher ciphertext or "
        "a hash (sampled stored values); the database connection's sslmode and HSTS settings "
        "are the evidence for data in transit, and a production platform without them fails."
    ),
    frequency=Frequency.DAILY,
    test=encryption,
)
