"""The figures every scrape reads afresh: the job queue, the outbox, webhook subscriptions,
the integrity checks, whether the database answers, signing keys' retirement, the build.

They describe the database (or the settings), not the process, so they are the same whichever
process is scraped. They are computed per scrape into families of their own (named, described
and labelled as in ``core.telemetry``), which take the place of the catalogue's gauges in the
answer (``core.metrics_server.Scrape``) rather than being ``set()`` on them: in multiprocess
mode a set value lives on in the file of the worker that set it, so "max" would report a dead
letter long retried or a failed check long passed, from a worker that scraped an hour ago.

Cheap and bounded: four indexed queries in one read transaction, under a statement timeout and
an overall deadline. A scrape when the database is down still answers, quickly, with
``pd_prime_database_up 0`` and no database figures (absent, rather than stale or zero: an alert
on "dead letters > 0" must not go quiet because the database is unreachable). A scrape that
finds every connection of the pool in use leaves ``pd_prime_database_up`` out too: it cannot
tell, and the pool figures say what it saw.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Coroutine
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy.exc
import structlog
from prometheus_client import Gauge
from prometheus_client.metrics_core import Metric
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo import __version__
from pd_prime_demo.core.config import Settings
from pd_prime_demo.core.database import Database, migration_head
from pd_prime_demo.core.metrics_server import MetricsServer, prepare_multiprocess_dir, serve_metrics
from pd_prime_demo.core.telemetry import (
    BUILD_INFO,
    DATABASE_UP,
    INTEGRITY_CHECKED_AT,
    INTEGRITY_OK,
    JOBS,
    JOBS_OLDEST_DUE_AGE,
    KEY_EXPIRY,
    OUTBOX_UNPUBLISHED,
    WEBHOOK_SUBSCRIPTIONS,
)
from pd_prime_demo.operations.evidence import ScrapeRecorder
from pd_prime_demo.operations.models import IntegrityCheck
from pd_prime_demo.operations.service import pool_use, queue_figures
from pd_prime_demo.webhooks import service as webhooks

log = structlog.get_logger(__name__)

# A scrape is answered within Prometheus's default 10 s scrape timeout, database or not.
DEADLINE_SECONDS = 3.0
_STATEMENT_TIMEOUT = text("SET LOCAL statement_timeout = 2000")

T = TypeVar("T")


def _family(gauge: Gauge) -> Metric:
    """An empty family with the catalogue's name, help and type for ``gauge``."""
    (family,) = gauge.describe()
    return family


def _sample(family: Metric, value: float, **labels: str) -> None:
    family.add_sample(family.name, labels, value)


@functools.cache
def _build() -> dict[str, str]:
    return {"version": __version__, "migration_head": migration_head() or "none"}


def _timestamp(moment: datetime) -> float:
    return moment.timestamp()


def settings_families(settings: Settings) -> list[Metric]:
    """The build, and the retirement of every signing key that has a date set."""
    build = _family(BUILD_INFO)
    _sample(build, 1, **_build())
    keys = _family(KEY_EXPIRY)
    for purpose, retiring in (
        ("jwt", settings.jwt_key_retire_at),
        ("oidc_rsa", settings.oidc_rsa_key_retire_at),
    ):
        for kid, at in sorted(retiring.items()):
            _sample(keys, _timestamp(at), purpose=purpose, kid=kid)
    return [build, keys]


async def _read(session: AsyncSession) -> list[Metric]:
    await session.execute(_STATEMENT_TIMEOUT)
    queue = await queue_figures(session)
    subscriptions = await webhooks.subscription_states(session)
    checks = (await session.scalars(select(IntegrityCheck))).all()

    jobs = _family(JOBS)
    for (queue_name, status), count in sorted(queue.jobs.items()):
        _sample(jobs, count, queue=queue_name, status=status)
    oldest = _family(JOBS_OLDEST_DUE_AGE)
    _sample(oldest, queue.oldest_due_age_seconds)
    outbox = _family(OUTBOX_UNPUBLISHED)
    _sample(outbox, queue.unpublished_events)
    states = _family(WEBHOOK_SUBSCRIPTIONS)
    for state, count in sorted(subscriptions.items()):
        _sample(states, count, state=state)
    ok, checked_at = _family(INTEGRITY_OK), _family(INTEGRITY_CHECKED_AT)
    for check in sorted(checks, key=lambda row: row.check):
        _sample(ok, 1 if check.ok else 0, check=check.check)
        _sample(checked_at, _timestamp(check.checked_at), check=check.check)
    return [jobs, oldest, outbox, states, ok, checked_at]


def _empty_database_families() -> list[Metric]:
    return [
        _family(gauge)
        for gauge in (
            JOBS,
            JOBS_OLDEST_DUE_AGE,
            OUTBOX_UNPUBLISHED,
            WEBHOOK_SUBSCRIPTIONS,
            INTEGRITY_OK,
            INTEGRITY_CHECKED_AT,
        )
    ]


async def database_families(db: Database) -> list[Metric]:
    """The database's figures and ``pd_prime_database_up``; never raises."""
    up = _family(DATABASE_UP)
    connected = False
    try:
        async with asyncio.timeout(DEADLINE_SECONDS), db.sessionmaker() as session:
            await session.connection()
            connected = True
            families = await _read(session)
            await session.rollback()
    except Exception as error:  # a failure to connect or to read: the database is down
        timed_out = isinstance(error, TimeoutError | sqlalchemy.exc.TimeoutError)
        use = pool_use(db) if timed_out and not connected else None
        if use is not None and use.saturated:
            # Every connection is busy, so this scrape cannot tell whether the database is
            # up: it says nothing (the pool figures say why) rather than page on "down".
            log.warning("metrics.pool_saturated", in_use=use.in_use, ceiling=use.ceiling)
            return [up, *_empty_database_families()]
        log.warning("metrics.database_unreachable", error=type(error).__name__)
        _sample(up, 0)
        return [up, *_empty_database_families()]
    _sample(up, 1)
    return [up, *families]


async def scrape_families(db: Database, settings: Settings) -> list[Metric]:
    """Everything a scrape reads afresh."""
    return [*await database_families(db), *settings_families(settings)]


async def scrape_recorded(
    db: Database, settings: Settings, recorder: ScrapeRecorder
) -> list[Metric]:
    """:func:`scrape_families`, and the scrape recorded as CC7.2's evidence that monitoring
    operates (``recorder`` throttles it to one write a minute)."""
    families = await scrape_families(db, settings)
    database_up = any(
        family.name == _family(DATABASE_UP).name and any(s.value == 1 for s in family.samples)
        for family in families
    )
    if database_up:  # a database that did not answer the figures cannot take the write
        try:
            await asyncio.wait_for(recorder.record(db), DEADLINE_SECONDS)
        except (sqlalchemy.exc.SQLAlchemyError, OSError, TimeoutError):
            # The scrape must not fail for its bookkeeping; CC7.2 then sees an old scrape.
            log.warning("metrics.scrape_not_recorded", exc_info=True)
    return families


class BackgroundFigures:
    """The scrape-time figures for a metrics server's thread (``core.metrics_server``): its own
    event loop on a thread of its own and its own one-connection pool, so the figures come the
    same way in a process with no event loop of ours (the parent of ``serve --workers``) as in
    one whose loop is busy (the worker), and a scrape never takes a connection from the app
    (that one connection shows in the process's pool figures, as the connection it is)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        # CC7.2's evidence that monitoring operates: a scrape of this tokenless listener counts
        # as one of /metrics (at most one write a minute, as the token route records).
        self._scrapes = ScrapeRecorder()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="metrics-figures", daemon=True
        )
        self._thread.start()
        assert settings.database_url is not None
        url = settings.database_url
        self._db = self._run(self._connect(url))

    @staticmethod
    async def _connect(url: str) -> Database:
        return Database.connect(url, pool_size=1, max_overflow=0)

    def _run(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(DEADLINE_SECONDS + 2)

    async def _scrape(self) -> list[Metric]:
        return await scrape_recorded(self._db, self._settings, self._scrapes)

    def __call__(self) -> list[Metric]:
        try:
            return self._run(self._scrape())
        except TimeoutError:
            up = _family(DATABASE_UP)
            _sample(up, 0)
            return [up, *_empty_database_families(), *settings_families(self._settings)]

    def close(self) -> None:
        self._run(self._db.dispose())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)


def serve(listen: str | None, settings: Settings) -> MetricsServer | None:
    """Serve this process's scrape (or, under ``serve --workers``, every worker's) on the
    internal address ``listen``, the database figures included; None: not configured."""
    if listen is None:
        return None
    return serve_metrics(listen, BackgroundFigures(settings))


def serve_api_metrics(settings: Settings, *, workers: int) -> MetricsServer | None:
    """Before uvicorn starts the API: with several workers, the multiprocess directory they
    will inherit (``core.metrics_server``); then ``metrics_listen`` from this process."""
    if workers > 1:
        prepare_multiprocess_dir((settings.data_dir / "prometheus").resolve())
    return serve(settings.metrics_listen, settings)
