"""Engine, sessions, the unit of work, migrations and the embedded PostgreSQL.

One dialect everywhere: PostgreSQL through SQLAlchemy's async ORM and asyncpg. With no
``DATABASE_URL`` (outside production) a private PostgreSQL is started with ``pgserver`` under
the data directory, so a newcomer needs no database install.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import DateTime, MetaData, make_url, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase

from pd_prime_demo.core.config import Settings

log = structlog.get_logger(__name__)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012
        datetime: DateTime(timezone=True),
        uuid.UUID: UUID(as_uuid=True),
        dict[str, Any]: JSONB,
    }


def to_async_url(url: str) -> str:
    """Accept the usual ``postgres://`` / ``postgresql://`` spellings and pin asyncpg."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    if parsed.get_backend_name() != "postgresql":
        raise ValueError("PD Prime supports PostgreSQL only")
    return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


class EmbeddedPostgres:
    """A private PostgreSQL server (pgserver wheels) kept under ``<data_dir>/pgdata``."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._server: Any = None

    def start(self) -> str:
        import pgserver  # type: ignore[attr-defined,unused-ignore]

        pgdata = (self.data_dir / "pgdata").resolve()
        pgdata.mkdir(parents=True, exist_ok=True)
        # cleanup_mode="stop": the server stops when this process exits, data is kept.
        self._server = pgserver.get_server(  # type: ignore[attr-defined]
            pgdata, cleanup_mode="stop"
        )
        uri: str = self._server.get_uri()
        return uri

    def ensure_database(self, name: str) -> str:
        """Create database ``name`` if missing and return its async URL."""
        if self._server is None:
            self.start()
        if not name.replace("_", "").isalnum():
            raise ValueError(f"unsafe database name {name!r}")
        exists = self._server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}';")  # noqa: S608
        if "(1 row)" not in exists:
            self._server.psql(f'CREATE DATABASE "{name}";')
        base = make_url(self._server.get_uri())
        return to_async_url(base.set(database=name).render_as_string(hide_password=False))

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None


_embedded: EmbeddedPostgres | None = None


def resolve_database_url(settings: Settings) -> str:
    """The configured ``DATABASE_URL``, or the embedded server's (started on first use)."""
    global _embedded
    if settings.database_url:
        return to_async_url(settings.database_url)
    if not settings.embedded_database_allowed:
        raise RuntimeError("DATABASE_URL must be set in production")
    if _embedded is None:
        _embedded = EmbeddedPostgres(settings.data_dir)
        log.info("embedded_postgres.starting", data_dir=str(settings.data_dir / "pgdata"))
    return _embedded.ensure_database("pd_prime")


class Database:
    """Owns the engine and the session factory for one process."""

    def __init__(self, engine: AsyncEngine) -> None:
        from pd_prime_demo.core.db_metrics import observe_pool
        from pd_prime_demo.core.tracing import instrument_engine

        self.engine = engine
        instrument_engine(engine)
        observe_pool(engine)
        self.sessionmaker: async_sessionmaker[AsyncSession] = async_sessionmaker(
            engine, expire_on_commit=False, autoflush=True
        )

    @classmethod
    def connect(cls, url: str, *, pool_size: int = 20, max_overflow: int = 10) -> Database:
        # No pre-ping: it costs a round trip on every checkout. A connection found dead is
        # invalidated with the whole pool, and that request fails with a 503 to retry
        # (SQLAlchemy's "optimistic" disconnect handling; see api.errors).
        # JIT off: PostgreSQL compiles a plan whose estimated cost passes jit_above_cost, and a
        # keyset page over a large book (a LATERAL per row the planner cannot bound) passes it:
        # measured on 100,000 policies, a 50-row GET /policies page took 238 ms with JIT, all of
        # it compiling, and 0.5 ms without. The app's statements are short; none gains from it.
        return cls(
            create_async_engine(
                url,
                pool_size=pool_size,
                max_overflow=max_overflow,
                connect_args={"server_settings": {"jit": "off"}},
            )
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        return cls.connect(
            resolve_database_url(settings),
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
        )

    def bind_to(self, connection: AsyncConnection) -> None:
        """Make every session join ``connection``'s transaction through savepoints.

        This is SQLAlchemy's "join a session into an external transaction" recipe, used by the
        test suite so that each test's writes are rolled back while the code under test still
        commits its own unit of work.
        """
        self.sessionmaker = async_sessionmaker(
            bind=connection,
            expire_on_commit=False,
            join_transaction_mode="create_savepoint",
        )

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[AsyncSession]:
        """Commit when the block exits normally, roll back on any exception."""
        async with self.sessionmaker() as session:
            try:
                yield session
            except BaseException:
                await session.rollback()
                raise
            else:
                await session.commit()

    @property
    def url(self) -> str:
        """The database's URL, password included (for the queue's own connections)."""
        return self.engine.url.render_as_string(hide_password=False)

    async def dispose(self) -> None:
        await self.engine.dispose()


def _server_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def create_database(server_url: str, name: str) -> str:
    """Create database ``name`` on ``server_url``'s server; return its async URL."""
    import asyncpg

    if not name.replace("_", "").isalnum():
        raise ValueError(f"unsafe database name {name!r}")
    conn = await asyncpg.connect(_server_dsn(server_url))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return to_async_url(
        make_url(server_url).set(database=name).render_as_string(hide_password=False)
    )


async def drop_database(server_url: str, url: str) -> None:
    import asyncpg

    name = make_url(url).database
    conn = await asyncpg.connect(_server_dsn(server_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def _alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option(
        "script_location", str(resources.files("pd_prime_demo").joinpath("migrations"))
    )
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def run_migrations(url: str, revision: str = "head") -> None:
    """Upgrade the database at ``url`` (blocking; call from a thread inside an event loop)."""
    from alembic import command

    command.upgrade(_alembic_config(url), revision)


async def run_migrations_async(url: str) -> None:
    await asyncio.to_thread(run_migrations, url)


def migration_head() -> str | None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_alembic_config("postgresql+asyncpg://unused/x"))
    head: str | None = script.get_current_head()
    return head


async def current_revision(session: AsyncSession) -> str | None:
    row = await session.execute(text("SELECT version_num FROM alembic_version"))
    value = row.scalar_one_or_none()
    return str(value) if value is not None else None
