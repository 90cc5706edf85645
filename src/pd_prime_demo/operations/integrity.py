"""The integrity checks: is the audit trail's hash chain unbroken, does the ledger balance?

The same proofs as ``pd-prime audit verify`` and ``pd-prime ledger check``, run by the worker
on ``integrity_check_cron``. Each check's last result is one row of ``integrity_checks``, so
every process's scrape exports it (``operations.metrics``: ``pd_prime_integrity_check_ok``
and when it ran) and an alert fires on a failure or on checks that stopped running. A failure
is logged at ERROR with what was found (entry and journal ids, totals: nothing personal).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.billing import service as billing
from pd_prime_demo.core import clock
from pd_prime_demo.core.config import Settings
from pd_prime_demo.core.database import Database
from pd_prime_demo.operations.models import IntegrityCheck

log = structlog.get_logger(__name__)

# A ledger out of balance is named by its first journal entries; the rest are in the database.
_SHOWN_ENTRIES = 20


@dataclass(frozen=True, slots=True)
class CheckResult:
    check: str
    ok: bool
    detail: str
    duration_ms: int


async def _audit_chain(session: AsyncSession, settings: Settings | None) -> tuple[bool, str]:
    # With settings, against the signed checkpoints too: a removed tail or a rewrite with every
    # later hash recomputed fits a bare chain (audit.checkpoints).
    report = await audit.verify_chain(session, settings=settings)
    if report.ok:
        return True, f"{report.entries_checked} entries verified" + (
            f" ({report.warning})" if report.warning else ""
        )
    return False, (
        f"broken at entry {report.first_bad_id}: {report.reason} "
        f"({report.entries_checked} entries before it verified)"
    )


async def _ledger(session: AsyncSession, settings: Settings | None) -> tuple[bool, str]:
    trial = await billing.trial_balance(session)
    if trial.balanced:
        return True, f"debits {trial.debits} = credits {trial.credits}"
    shown = ", ".join(str(entry) for entry in trial.unbalanced_entries[:_SHOWN_ENTRIES])
    more = len(trial.unbalanced_entries) - _SHOWN_ENTRIES
    return False, (
        f"debits {trial.debits}, credits {trial.credits}; "
        f"{len(trial.unbalanced_entries)} unbalanced entries: {shown or 'none'}"
        + (f" and {more} more" if more > 0 else "")
    )


CHECKS: dict[str, Callable[[AsyncSession, Settings | None], Awaitable[tuple[bool, str]]]] = {
    "audit_chain": _audit_chain,
    "ledger": _ledger,
}


async def run_checks(db: Database, settings: Settings | None = None) -> list[CheckResult]:
    """Run every check, each in a transaction of its own, then record the results
    together (one row per check, overwritten). With ``settings`` the audit chain is held
    against its signed checkpoints as well."""
    results = []
    for name, check in CHECKS.items():
        started = time.perf_counter()
        async with db.sessionmaker() as session, session.begin():
            ok, detail = await check(session, settings)
        elapsed = round((time.perf_counter() - started) * 1000)
        results.append(CheckResult(name, ok, detail, elapsed))
        if ok:
            log.info("integrity.check_passed", check=name, detail=detail, duration_ms=elapsed)
        else:
            log.error("integrity.check_failed", check=name, detail=detail, duration_ms=elapsed)
    now = clock.now()
    async with db.unit_of_work() as session:
        for result in results:
            row = {
                "check": result.check,
                "ok": result.ok,
                "detail": result.detail,
                "checked_at": now,
                "duration_ms": result.duration_ms,
            }
            await session.execute(
                insert(IntegrityCheck)
                .values(row)
                .on_conflict_do_update(
                    index_elements=[IntegrityCheck.check],
                    set_={k: v for k, v in row.items() if k != "check"},
                )
            )
    return results
