"""The signed "verified" marker: how far the audit chain was last verified, so the next
verification walks only what was appended since (``audit.incremental``).

One file, ``verified.json``, beside the checkpoint files (where the database host cannot
write), signed with the checkpoint key like a checkpoint. It records the verified head (id,
hash and ordinal over the whole chain), the newest checkpoint that verification matched (its
sequence and its file's SHA-256: the checkpoint files form a chain, so this pins every one
before it too), when the run finished, and when the last full walk did.

Unlike a checkpoint the marker is replaced, not appended: replaying an older genuine marker or
deleting it only makes the next run walk more, never less, so nothing rests on its history. A
marker that does not verify (edited, or signed by a key that is not trusted) is reported as a
problem: whoever wrote it could write the checkpoint directory. The marker is a shortcut, not a
proof of the entries before it: their content is re-proved only by a full walk (``--full``, and
the integrity job's weekly full run).
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from pd_prime_demo.audit.checkpoints import Anchor, canonical, checkpoint_dir
from pd_prime_demo.core.checkpoint_keys import CheckpointKeys, key_id
from pd_prime_demo.core.config import Settings

FORMAT_VERSION = 1
KIND = "verified"
MARKER_NAME = "verified.json"


@dataclass(frozen=True, slots=True)
class VerifiedMarker:
    head: Anchor  # the last entry verified; n counts purged entries too, as a checkpoint's does
    checkpoint_sequence: int | None  # the newest checkpoint the run matched (None: there was none)
    checkpoint_sha256: str | None
    verified_at: datetime
    full: bool  # whether this run walked the whole retained chain
    last_full_at: datetime | None  # when the last full walk finished (None: never)
    key_id: str

    def document(self) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "kind": KIND,
            "head": {"id": self.head.id, "hash": self.head.hash, "n": self.head.n},
            "checkpoint": None
            if self.checkpoint_sequence is None
            else {"sequence": self.checkpoint_sequence, "sha256": self.checkpoint_sha256},
            "verified_at": self.verified_at.isoformat(timespec="microseconds"),
            "full": self.full,
            "last_full_at": None
            if self.last_full_at is None
            else self.last_full_at.isoformat(timespec="microseconds"),
            "key_id": self.key_id,
        }

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> VerifiedMarker:
        if doc.get("format") != FORMAT_VERSION or doc.get("kind") != KIND:
            raise ValueError("not a verified marker of a known format")
        head, checkpoint, last_full = doc["head"], doc["checkpoint"], doc["last_full_at"]
        return cls(
            head=Anchor(int(head["id"]), str(head["hash"]), int(head["n"])),
            checkpoint_sequence=None if checkpoint is None else int(checkpoint["sequence"]),
            checkpoint_sha256=None if checkpoint is None else str(checkpoint["sha256"]),
            verified_at=datetime.fromisoformat(doc["verified_at"]),
            full=bool(doc["full"]),
            last_full_at=None if last_full is None else datetime.fromisoformat(last_full),
            key_id=str(doc["key_id"]),
        )


@dataclass(frozen=True, slots=True)
class MarkerRead:
    """The marker found: ``None`` with no problem when there is none yet."""

    marker: VerifiedMarker | None
    problem: str | None


def marker_path(settings: Settings) -> Path:
    return checkpoint_dir(settings) / MARKER_NAME


def signed_marker(marker: VerifiedMarker, key: Ed25519PrivateKey) -> bytes:
    if marker.key_id != key_id(key.public_key()):
        raise ValueError("the marker names another key than the one signing it")
    document = marker.document()
    signature = base64.b64encode(key.sign(canonical(document))).decode("ascii")
    return json.dumps({"verified": document, "signature": signature}, indent=1).encode() + b"\n"


def parse_marker(raw: bytes, keys: CheckpointKeys) -> MarkerRead:
    try:
        outer = json.loads(raw)
        document = outer["verified"]
        signature = base64.b64decode(outer["signature"], validate=True)
        kid = str(document["key_id"])
    except (ValueError, KeyError, TypeError):
        return MarkerRead(None, "the verified marker is not a signed marker document")
    public = keys.trusted.get(kid)
    if public is None:
        return MarkerRead(None, f"the verified marker is signed by an unknown key {kid!r}")
    try:
        public.verify(signature, canonical(document))
    except InvalidSignature:
        return MarkerRead(None, "the verified marker's signature does not match its content")
    try:
        return MarkerRead(VerifiedMarker.from_document(document), None)
    except (ValueError, KeyError, TypeError) as exc:
        return MarkerRead(None, f"the verified marker is malformed: {exc}")


def read_marker(settings: Settings, keys: CheckpointKeys) -> MarkerRead:
    try:
        raw = marker_path(settings).read_bytes()
    except FileNotFoundError:
        return MarkerRead(None, None)
    return parse_marker(raw, keys)


def write_marker(settings: Settings, content: bytes) -> Path:
    """Replace the marker atomically (temp + fsync + rename + fsync(dir)): a crash leaves the
    old marker or the new one, never half of one."""
    directory = checkpoint_dir(settings)
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / MARKER_NAME
    temporary = directory / f".{MARKER_NAME}.{os.getpid()}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, final)
    finally:
        temporary.unlink(missing_ok=True)
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return final
