"""``pd-prime backup`` and ``pd-prime restore``: pg_dump / pg_restore around the platform's
database, and the check of a restored copy (its audit chain and its ledger).

(Groundwork stub of issue 15; the health and backup helper fills it in.)
"""

from __future__ import annotations

import typer


def backup() -> None:
    """Back up the database (pg_dump) into the backup directory."""
    raise typer.Exit(1)


def restore() -> None:
    """Restore a backup into a database, then check its audit chain and ledger."""
    raise typer.Exit(1)
