"""Signed checkpoints of the audit chain, kept outside the database.

The hash chain alone proves only that the rows present fit together: a database superuser who
deletes the last rows, truncates the table, or edits a row and recomputes every later hash
leaves a chain that verifies. A checkpoint records, at a moment, the chain's head (id and
hash), how many entries the chain holds through it and an anchor every
``audit_checkpoint_anchor_every`` entries, signed with an Ed25519 key the database does not
hold (``core.checkpoint_keys``) and written where the database host cannot write. Each
checkpoint names the SHA-256 of the file before it, so the checkpoints form a chain of their
own: a deleted or replaced checkpoint file is detected as well (AICPA TSC CC7.2, PI1.5: the
integrity of the audit trail is itself evidenced).

A file is ``checkpoint-<sequence>.json`` holding ``{"checkpoint": {...}, "signature": "..."}``;
the signature is over the canonical JSON of ``checkpoint``. Files are written atomically and
never overwritten (hard link of a synced temporary file: the link fails if the name exists).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from pd_prime_demo.core.checkpoint_keys import CheckpointKeys, key_id, load_checkpoint_keys
from pd_prime_demo.core.config import Settings

FORMAT_VERSION = 1
PERIODIC = "periodic"
RETENTION = "retention"
_NAME = re.compile(r"^checkpoint-(\d{12})\.json$")


@dataclass(frozen=True, slots=True)
class Anchor:
    """An entry the checkpoint vouches for: its id, hash and ordinal (1 = the chain's first
    entry ever, purged ones included), so both a rewrite and a removal are located."""

    id: int
    hash: str
    n: int


@dataclass(frozen=True, slots=True)
class Purged:
    """What retention removed from the start of the chain, cumulatively: entries with id up to
    ``through_id`` (``count`` of them), the last of which had hash ``last_hash``; the first
    retained entry must link to it."""

    through_id: int
    count: int
    last_hash: str


@dataclass(frozen=True, slots=True)
class Checkpoint:
    kind: str
    sequence: int
    created_at: datetime
    head: Anchor
    anchors: tuple[Anchor, ...]
    previous_sha256: str | None
    purged: Purged | None
    key_id: str

    @property
    def entries(self) -> int:
        """Entries the chain holds through the head, purged ones included."""
        return self.head.n

    def document(self) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "kind": self.kind,
            "sequence": self.sequence,
            "created_at": self.created_at.isoformat(timespec="microseconds"),
            "head": _anchor_doc(self.head),
            "entries": self.entries,
            "anchors": [_anchor_doc(a) for a in self.anchors],
            "previous_checkpoint_sha256": self.previous_sha256,
            "purged": None
            if self.purged is None
            else {
                "through_id": self.purged.through_id,
                "count": self.purged.count,
                "last_hash": self.purged.last_hash,
            },
            "key_id": self.key_id,
        }

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> Checkpoint:
        if doc.get("format") != FORMAT_VERSION:
            raise ValueError(f"unknown checkpoint format {doc.get('format')!r}")
        if doc["kind"] not in (PERIODIC, RETENTION):
            raise ValueError(f"unknown checkpoint kind {doc['kind']!r}")
        purged = doc["purged"]
        head = _anchor(doc["head"])
        if head.n != int(doc["entries"]):
            raise ValueError("entries and the head's ordinal disagree")
        return cls(
            kind=str(doc["kind"]),
            sequence=int(doc["sequence"]),
            created_at=datetime.fromisoformat(doc["created_at"]),
            head=head,
            anchors=tuple(_anchor(a) for a in doc["anchors"]),
            previous_sha256=doc["previous_checkpoint_sha256"],
            purged=None
            if purged is None
            else Purged(int(purged["through_id"]), int(purged["count"]), str(purged["last_hash"])),
            key_id=str(doc["key_id"]),
        )


def _anchor_doc(anchor: Anchor) -> dict[str, Any]:
    return {"id": anchor.id, "hash": anchor.hash, "n": anchor.n}


def _anchor(doc: dict[str, Any]) -> Anchor:
    return Anchor(int(doc["id"]), str(doc["hash"]), int(doc["n"]))


def canonical(document: dict[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def signed_file(checkpoint: Checkpoint, key: Ed25519PrivateKey) -> bytes:
    """The file's bytes: the document and its Ed25519 signature over the canonical form."""
    if checkpoint.key_id != key_id(key.public_key()):
        raise ValueError("the checkpoint names another key than the one signing it")
    document = checkpoint.document()
    signature = base64.b64encode(key.sign(canonical(document))).decode("ascii")
    return json.dumps({"checkpoint": document, "signature": signature}, indent=1).encode() + b"\n"


class CheckpointInvalidError(ValueError):
    """A checkpoint file that cannot be trusted: unreadable, unsigned, or signed by an unknown
    key or with a signature that does not match."""


def parse_signed(raw: bytes, keys: CheckpointKeys) -> Checkpoint:
    """The checkpoint in ``raw`` once its signature verifies with a trusted key."""
    try:
        outer = json.loads(raw)
        document = outer["checkpoint"]
        signature = base64.b64decode(outer["signature"], validate=True)
        kid = str(document["key_id"])
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointInvalidError("not a signed checkpoint document") from exc
    public = keys.trusted.get(kid)
    if public is None:
        raise CheckpointInvalidError(f"signed by an unknown key {kid!r}")
    try:
        public.verify(signature, canonical(document))
    except InvalidSignature as exc:
        raise CheckpointInvalidError("its signature does not match its content") from exc
    try:
        return Checkpoint.from_document(document)
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointInvalidError(f"malformed checkpoint: {exc}") from exc


def checkpoint_dir(settings: Settings) -> Path:
    directory = settings.audit_checkpoint_dir
    return directory if directory.is_absolute() else settings.data_dir / directory


def file_name(sequence: int) -> str:
    return f"checkpoint-{sequence:012d}.json"


@dataclass(frozen=True, slots=True)
class StoredFile:
    sequence: int
    path: Path


def stored_files(directory: Path) -> list[StoredFile]:
    """The checkpoint files in sequence order (other files are ignored)."""
    if not directory.is_dir():
        return []
    found = [
        StoredFile(int(match.group(1)), entry)
        for entry in directory.iterdir()
        if (match := _NAME.match(entry.name))
    ]
    return sorted(found, key=lambda f: f.sequence)


def write_file(directory: Path, sequence: int, content: bytes) -> Path:
    """Write a checkpoint atomically, refusing to replace an existing one.

    temp + fsync + link + fsync(dir): a crash leaves either no checkpoint or a whole one, and
    ``os.link`` fails when the name exists, so a checkpoint is never overwritten.
    """
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / file_name(sequence)
    temporary = directory / f".{final.name}.{os.getpid()}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        os.link(temporary, final)
    finally:
        temporary.unlink(missing_ok=True)
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return final


def sha256_of(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


@dataclass(frozen=True, slots=True)
class Trail:
    """The checkpoint files read and checked as a chain: the verified checkpoints in order,
    the SHA-256 of the last file (the next checkpoint names it), and the first problem."""

    checkpoints: tuple[Checkpoint, ...]
    last_sha256: str | None
    problem: str | None
    directory_exists: bool
    # The SHA-256 of each verified checkpoint's file, in order (what a verified marker pins).
    file_sha256: tuple[str, ...] = ()

    @property
    def latest(self) -> Checkpoint | None:
        return self.checkpoints[-1] if self.checkpoints else None

    @property
    def purged(self) -> Purged | None:
        """The latest retention purge any checkpoint records."""
        for checkpoint in reversed(self.checkpoints):
            if checkpoint.purged is not None:
                return checkpoint.purged
        return None


def read_trail(settings: Settings, keys: CheckpointKeys) -> Trail:
    """Every checkpoint file, each signature verified and each linked to the one before.

    Stops at the first problem: a checkpoint after an untrusted one proves nothing about it.
    """
    directory = checkpoint_dir(settings)
    checkpoints: list[Checkpoint] = []
    shas: list[str] = []
    previous_sha: str | None = None
    for stored in stored_files(directory):
        expected = len(checkpoints) + 1
        if stored.sequence != expected:
            return Trail(
                tuple(checkpoints),
                previous_sha,
                f"checkpoint {expected} is missing (the next file is checkpoint {stored.sequence})",
                True,
                tuple(shas),
            )
        raw = stored.path.read_bytes()
        try:
            checkpoint = parse_signed(raw, keys)
        except CheckpointInvalidError as exc:
            return Trail(
                tuple(checkpoints),
                previous_sha,
                f"checkpoint {stored.sequence}: {exc}",
                True,
                tuple(shas),
            )
        problem = _link_problem(checkpoint, stored.sequence, previous_sha, checkpoints)
        if problem is not None:
            return Trail(tuple(checkpoints), previous_sha, problem, True, tuple(shas))
        checkpoints.append(checkpoint)
        previous_sha = sha256_of(raw)
        shas.append(previous_sha)
    return Trail(tuple(checkpoints), previous_sha, None, directory.is_dir(), tuple(shas))


def _link_problem(
    checkpoint: Checkpoint, sequence: int, previous_sha: str | None, before: list[Checkpoint]
) -> str | None:
    if checkpoint.sequence != sequence:
        return f"checkpoint file {sequence} holds checkpoint {checkpoint.sequence}"
    if checkpoint.previous_sha256 != previous_sha:
        if sequence == 1:
            return "checkpoint 1 names a predecessor: earlier checkpoints were removed"
        return (
            f"checkpoint {sequence - 1} was altered or replaced "
            f"(checkpoint {sequence} recorded another SHA-256 for it)"
        )
    if before and checkpoint.head.n < before[-1].head.n:
        return f"checkpoint {sequence} records fewer entries than checkpoint {sequence - 1}"
    return None


def anchors_of(trail: Trail) -> Iterator[tuple[Checkpoint, Anchor]]:
    """Every entry some checkpoint vouches for (anchors and heads), in chain order."""
    for checkpoint in trail.checkpoints:
        for anchor in (*checkpoint.anchors, checkpoint.head):
            yield checkpoint, anchor


def latest_checkpoint(settings: Settings) -> Checkpoint | None:
    """The newest checkpoint whose signature and link to its predecessors verify."""
    return read_trail(settings, load_checkpoint_keys(settings)).latest
