"""How the controls write their evidence: JSON and CSV artefacts an auditor opens as they are
(sorted keys, ISO 8601 times, UTF-8), so the same facts always hash the same."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from pd_prime_demo.compliance.control import Evidence

# A failure names at most this many offenders in its reason; the evidence holds them all.
SHOWN = 10


def _default(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID | Decimal):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return sorted(str(v) for v in value)
    raise TypeError(f"not JSON: {type(value).__name__}")


def json_evidence(name: str, data: Any) -> Evidence:
    body = json.dumps(data, default=_default, indent=2, sort_keys=True) + "\n"
    return Evidence(name, "application/json", body.encode("utf-8"))


def csv_evidence(name: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> Evidence:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(
            ["" if v is None else _default(v) if isinstance(v, datetime) else v for v in row]
        )
    return Evidence(name, "text/csv", out.getvalue().encode("utf-8"))


def named(items: Sequence[object]) -> str:
    """``a, b, c`` or ``a, b, c and 7 more``: the offenders a reason names."""
    shown = ", ".join(str(i) for i in items[:SHOWN])
    more = len(items) - SHOWN
    return shown + (f" and {more} more" if more > 0 else "")
