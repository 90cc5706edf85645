"""Importing a book file of any size (the CLI's and the benchmark's path): read as a stream,
checked whole first, then loaded a chunk of policies per database transaction.

The first pass writes nothing: every problem of the file is known before anything is loaded
(and a dry run stops there). The second loads, each chunk committed on its own: a crash loses
at most the chunks in hand (the one being written and the one being prepared, which has written
nothing), and running the file again skips every policy that committed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TextIO

from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.crypto import FieldCipher
from pd_prime_demo.core.database import Database
from pd_prime_demo.core.result_types import DomainError, Err, Ok, Result
from pd_prime_demo.policies.service.import_format import ImportResult
from pd_prime_demo.policies.service.import_read import ReadPolicy, read_csv, read_json
from pd_prime_demo.policies.service.imports import BookImport, Prepared, start_import

CHUNK = 1000  # policies per database transaction


def format_of(path: Path, given: str | None) -> str:
    """``csv`` or ``json``: as given, else by the file's extension (JSON unless .csv)."""
    if given is not None:
        return given.lower()
    return "csv" if path.suffix.lower() == ".csv" else "json"


def _reader(stream: TextIO, fmt: str) -> Iterator[ReadPolicy]:
    return read_csv(stream) if fmt == "csv" else read_json(stream)


def _chunks(items: Iterable[ReadPolicy], size: int) -> Iterator[list[ReadPolicy]]:
    chunk: list[ReadPolicy] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


async def _pass(
    db: Database,
    book: BookImport,
    path: Path,
    fmt: str,
    *,
    chunk: int,
    progress: Callable[[BookImport], object] | None,
) -> None:
    """Read the file a chunk at a time: a check pass reads only; a load pass prepares each
    chunk on one connection while the chunk before it is written and committed on another,
    so the database's work and this process's overlap."""
    writing: asyncio.Task[None] | None = None
    try:
        with path.open(encoding="utf-8-sig", newline="") as stream:
            for batch in _chunks(_reader(stream, fmt), chunk):
                async with db.sessionmaker() as session:  # reads only
                    prepared = await book.prepare(session, batch)
                if writing is not None:
                    await writing
                if not book.dry_run:
                    writing = asyncio.create_task(_commit(db, book, prepared))
                    await asyncio.sleep(0)  # it starts now
                if progress is not None:
                    progress(book)
        if writing is not None:
            await writing
            writing = None
    finally:
        if writing is not None:
            writing.cancel()


async def _commit(db: Database, book: BookImport, prepared: Prepared) -> None:
    async with db.unit_of_work() as session:
        await book.write(session, prepared)


async def import_file(
    db: Database,
    path: Path,
    *,
    fmt: str,
    actor: Actor,
    cipher: FieldCipher,
    dry_run: bool = False,
    chunk: int = CHUNK,
    progress: Callable[[BookImport], object] | None = None,
) -> Result[ImportResult, DomainError]:
    """Check the file, then (unless ``dry_run``) load it. Raises ``UnreadableBookError`` when
    the file as a whole cannot be read (before anything is written: the check reads it all)."""
    match start_import(actor, cipher=cipher, dry_run=True):
        case Err() as err:
            return err
        case Ok(check):
            pass
    await _pass(db, check, path, fmt, chunk=chunk, progress=progress)
    if dry_run:
        return Ok(check.result())
    del check  # what it learned of the file is learned again, a chunk at a time
    load = BookImport(actor=actor, cipher=cipher)
    await _pass(db, load, path, fmt, chunk=chunk, progress=progress)
    return Ok(load.result())
