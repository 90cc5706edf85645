"""What the ``pd-prime`` command groups share: running work in one session on the configured
database, and reporting a check's outcome as its exit code."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo import bootstrap

T = TypeVar("T")


def in_transaction(work: Callable[[AsyncSession], Awaitable[T]], *, commit: bool = False) -> T:
    """Run ``work`` in one session on the configured database (committed if ``commit``)."""
    from pd_prime_demo.core.database import Database

    settings = bootstrap.settings()

    async def run() -> T:
        assert settings.database_url is not None
        db = Database.connect(settings.database_url, pool_size=1, max_overflow=0)
        try:
            if commit:
                async with db.unit_of_work() as session:
                    return await work(session)
            async with db.sessionmaker() as session:
                return await work(session)
        finally:
            await db.dispose()

    return asyncio.run(run())


def report(ok: bool, message: str) -> None:
    """Print ``message`` (to stderr when not ``ok``) and exit 1 when not ``ok``."""
    typer.echo(message, err=not ok)
    if not ok:
        raise typer.Exit(1)
