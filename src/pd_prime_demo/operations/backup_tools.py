"""The PostgreSQL client tools a backup runs: which ``pg_dump`` / ``pg_restore``, and how
they are told where the database is.

``pg_dump`` refuses a server newer than itself, and ``pg_restore`` an archive newer than
itself, so the tools are chosen by version: the first candidate at least as new as needed. The
candidates are the embedded server's own (the ``pgserver`` wheel ships them) first when the
database is embedded, else those on ``PATH``, then Debian's side-by-side installs
(``/usr/lib/postgresql/<major>/bin``, newest first), then pgserver's.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

from sqlalchemy import make_url

_VERSION = re.compile(r"\(PostgreSQL\) (\d+)")
_DEBIAN_INSTALLS = Path("/usr/lib/postgresql")
# Query parameters of a database URL that libpq reads from the environment as well.
_LIBPQ_QUERY = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "application_name": "PGAPPNAME",
}


class BackupError(Exception):
    """A backup or restore that must not go on; the message tells the operator why."""


class ToolError(BackupError):
    """The client tools are missing, too old, or failed; the message says which and why."""


@dataclass(frozen=True, slots=True)
class Tools:
    pg_dump: Path
    pg_restore: Path
    major: int


def _pgserver_bin() -> Path | None:
    spec = find_spec("pgserver")
    if spec is None or spec.origin is None:
        return None
    directory = Path(spec.origin).parent / "pginstall" / "bin"
    return directory if directory.is_dir() else None


def _path_bin() -> Path | None:
    found = shutil.which("pg_dump")
    return Path(found).resolve().parent if found else None


def _debian_bins() -> list[Path]:
    if not _DEBIAN_INSTALLS.is_dir():
        return []
    majors = sorted(
        (int(p.name) for p in _DEBIAN_INSTALLS.iterdir() if p.name.isdigit()), reverse=True
    )
    return [_DEBIAN_INSTALLS / str(m) / "bin" for m in majors]


def candidate_dirs(*, embedded: bool) -> list[Path]:
    pgserver = _pgserver_bin()
    ordered = (
        [pgserver, _path_bin(), *_debian_bins()]
        if embedded
        else [
            _path_bin(),
            *_debian_bins(),
            pgserver,
        ]
    )
    unique: list[Path] = []
    for directory in ordered:
        if directory is not None and directory not in unique:
            unique.append(directory)
    return unique


def tool_major(binary: Path) -> int | None:
    try:
        shown = subprocess.run(  # noqa: S603 - a PostgreSQL tool found above, no shell
            [str(binary), "--version"], capture_output=True, text=True, timeout=10, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = _VERSION.search(shown)
    return int(found[1]) if found else None


def find_tools(needed_major: int, *, embedded: bool) -> Tools:
    """The first pg_dump/pg_restore pair of at least ``needed_major``."""
    seen: list[str] = []
    for directory in candidate_dirs(embedded=embedded):
        dump, restore = directory / "pg_dump", directory / "pg_restore"
        if not (dump.is_file() and restore.is_file()):
            continue
        major = tool_major(dump)
        if major is None:
            continue
        if major >= needed_major:
            return Tools(dump, restore, major)
        seen.append(f"{dump} ({major})")
    found = ", ".join(seen) or "none"
    raise ToolError(
        f"no pg_dump/pg_restore of PostgreSQL {needed_major} or newer (found: {found}); "
        f"install the PostgreSQL {needed_major} client tools (Debian: postgresql-client-"
        f"{needed_major}) or put them first on PATH"
    )


def libpq_env(url: str) -> dict[str, str]:
    """The connection of ``url`` as libpq environment variables (PGPASSWORD among them, so
    that no password is ever an argument)."""
    parsed = make_url(url)
    env: dict[str, str] = {}
    # A Unix socket directory (the embedded server's) is the URL's host query parameter.
    host = parsed.host or parsed.query.get("host")
    if isinstance(host, str) and host:
        env["PGHOST"] = host
    if parsed.port:
        env["PGPORT"] = str(parsed.port)
    if parsed.username:
        env["PGUSER"] = parsed.username
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    if parsed.database:
        env["PGDATABASE"] = parsed.database
    for name, variable in _LIBPQ_QUERY.items():
        value = parsed.query.get(name)
        if isinstance(value, str):
            env[variable] = value
    return env


async def run_tool(binary: Path, arguments: list[str], *, env: dict[str, str]) -> None:
    """Run a client tool with the connection in its environment; ToolError if it fails."""
    process = await asyncio.create_subprocess_exec(
        str(binary),
        *arguments,
        env={**os.environ, **env},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        _, stderr = await process.communicate()
    except BaseException:  # cancelled or interrupted: leave no dump running behind us
        process.kill()
        await process.wait()
        raise
    if process.returncode != 0:
        message = stderr.decode(errors="replace").strip().splitlines()[-5:]
        raise ToolError(f"{binary.name} exited {process.returncode}: " + " / ".join(message))
