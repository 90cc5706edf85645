"""The backup's client tools: chosen by version, told where the database is without a password
on any command line, and the live database recognised however its URL is spelt."""

from __future__ import annotations

import pytest

from pd_prime_demo.operations.backup import same_database
from pd_prime_demo.operations.backup_tools import (
    ToolError,
    candidate_dirs,
    find_tools,
    libpq_env,
    tool_major,
)


def test_the_connection_goes_in_the_environment_password_included() -> None:
    env = libpq_env(
        "postgresql+asyncpg://carrier:s3cr%40t@db.internal:6432/pd_prime?sslmode=verify-full"
    )
    assert env == {
        "PGHOST": "db.internal",
        "PGPORT": "6432",
        "PGUSER": "carrier",
        "PGPASSWORD": "s3cr@t",
        "PGDATABASE": "pd_prime",
        "PGSSLMODE": "verify-full",
    }


def test_the_embedded_servers_socket_directory_is_its_host() -> None:
    env = libpq_env("postgresql://postgres:@/pd_prime?host=/srv/.pd-prime/pgdata")
    assert env == {
        "PGHOST": "/srv/.pd-prime/pgdata",
        "PGUSER": "postgres",
        "PGDATABASE": "pd_prime",
    }


def test_a_server_newer_than_every_pg_dump_is_a_clear_refusal() -> None:
    with pytest.raises(ToolError, match=r"no pg_dump/pg_restore of PostgreSQL 99 or newer"):
        find_tools(99, embedded=False)


@pytest.mark.parametrize("embedded", [True, False])
def test_the_tools_chosen_are_at_least_as_new_as_the_server(embedded: bool) -> None:
    majors = [m for d in candidate_dirs(embedded=embedded) if (m := tool_major(d / "pg_dump"))]
    if not majors:
        pytest.skip("no PostgreSQL client tools on this machine")
    oldest = min(majors)
    tools = find_tools(oldest, embedded=embedded)
    assert tools.major >= oldest
    assert tools.pg_restore.parent == tools.pg_dump.parent, "a matched pair"
    newest = find_tools(max(majors), embedded=embedded)
    assert newest.major == max(majors)


def test_the_live_database_is_recognised_however_its_url_is_spelt() -> None:
    live = "postgresql+asyncpg://app:pw@db.internal/pd_prime"
    assert same_database("postgresql://other:x@db.internal:5432/pd_prime", live)
    assert not same_database("postgresql://app:pw@db.internal/pd_prime_restore", live)
    assert not same_database("postgresql://app:pw@db-copy.internal/pd_prime", live)
    socket = "postgresql://postgres:@/pd_prime?host=/srv/pgdata"
    assert same_database("postgresql+asyncpg://postgres@/pd_prime?host=/srv/pgdata", socket)
