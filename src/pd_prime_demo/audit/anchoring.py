"""Writing a signed checkpoint of the audit chain (the job, ``pd-prime audit checkpoint`` and
retention call this).

A checkpoint vouches only for what still verifies: before signing, the entries appended since
the previous checkpoint are walked from its head's recorded hash, so a chain already tampered
with is refused, not blessed with a signature. The file is the record; the optional webhook is
a second witness outside the platform whose failure is logged and never loses the file.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass

import httpx
import structlog
from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from standardwebhooks import Webhook

from pd_prime_demo.audit import service
from pd_prime_demo.audit.checkpoints import (
    PERIODIC,
    Anchor,
    Checkpoint,
    Purged,
    checkpoint_dir,
    read_trail,
    sha256_of,
    signed_file,
    write_file,
)
from pd_prime_demo.audit.models import AuditEntry
from pd_prime_demo.audit.rules import GENESIS_HASH
from pd_prime_demo.core import clock, locks
from pd_prime_demo.core.checkpoint_keys import CheckpointKeyError, load_checkpoint_keys
from pd_prime_demo.core.config import Settings

log = structlog.get_logger("pd_prime_demo.audit.checkpoints")

CHECKPOINT_LOCK = "audit:checkpoint"
WEBHOOK_TYPE = "audit.checkpoint"


class CheckpointRefusedError(RuntimeError):
    """The chain or the checkpoint trail does not verify: no checkpoint may vouch for it."""


@dataclass(frozen=True, slots=True)
class Written:
    checkpoint: Checkpoint
    path: str
    webhook_delivered: bool | None  # None: no webhook configured


def _anchor_query(after_id: int, through_id: int, start_n: int) -> Select[int, str, int]:
    """Every ``every``-th entry (by ordinal over the whole chain) after ``after_id``."""
    numbered = (
        select(
            AuditEntry.id,
            AuditEntry.hash,
            (func.row_number().over(order_by=AuditEntry.id) + start_n).label("n"),
        )
        .where(AuditEntry.id > after_id, AuditEntry.id <= through_id)
        .subquery()
    )
    return select(numbered.c.id, numbered.c.hash, numbered.c.n).where(
        numbered.c.n % bindparam("every") == 0
    )


async def _head(session: AsyncSession) -> AuditEntry | None:
    return await session.scalar(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1))


async def write_checkpoint(
    session: AsyncSession,
    settings: Settings,
    *,
    kind: str = PERIODIC,
    purged: Purged | None = None,
) -> Written | None:
    """Sign and write a checkpoint of the chain as committed now; ``None`` when nothing was
    appended since the last one (a periodic checkpoint only). Raises
    :class:`CheckpointRefusedError` when the chain since the last checkpoint does not verify."""
    keys = load_checkpoint_keys(settings, for_signing=True)
    if keys.signing is None:
        raise CheckpointKeyError(
            "no audit checkpoint key: set PD_PRIME_AUDIT_CHECKPOINT_KEY or _KEY_FILE"
        )
    # Two writers would both take the same sequence number; the second waits and re-reads.
    await locks.lock(session, CHECKPOINT_LOCK)
    trail = read_trail(settings, keys)
    if trail.problem is not None:
        raise CheckpointRefusedError(f"the checkpoint trail does not verify: {trail.problem}")
    head = await _head(session)
    if head is None:
        return None
    previous = trail.latest
    if previous is not None and previous.head.id == head.id and kind == PERIODIC:
        return None
    carried = purged or trail.purged
    if previous is not None and previous.head.id > (carried.through_id if carried else 0):
        after_id, after_n, link = previous.head.id, previous.head.n, previous.head.hash
        held = await session.scalar(select(AuditEntry.hash).where(AuditEntry.id == after_id))
        if held != link:
            raise CheckpointRefusedError(
                f"entry {after_id}, the head of checkpoint {previous.sequence}, no longer holds "
                "the hash recorded for it"
            )
    elif carried is not None:
        after_id, after_n, link = carried.through_id, carried.count, carried.last_hash
    else:
        after_id, after_n, link = 0, 0, GENESIS_HASH
    walk = await service.walk_chain(
        session, after_id=after_id, expected_prev=link, through_id=head.id
    )
    if walk.reason is not None:
        raise CheckpointRefusedError(f"entry {walk.first_bad_id}: {walk.reason}")
    every = settings.audit_checkpoint_anchor_every
    query = _anchor_query(after_id, head.id, after_n)
    anchors = tuple(
        Anchor(int(i), str(h), int(n))
        for i, h, n in await session.execute(query, {"every": every})
        if i != head.id
    )
    checkpoint = Checkpoint(
        kind=kind,
        sequence=len(trail.checkpoints) + 1,
        created_at=clock.now(),
        head=Anchor(head.id, head.hash, after_n + walk.entries_checked),
        anchors=anchors,
        previous_sha256=trail.last_sha256,
        purged=carried,
        key_id=keys.signing_kid or "",
    )
    content = signed_file(checkpoint, keys.signing)
    path = write_file(checkpoint_dir(settings), checkpoint.sequence, content)
    log.info(
        "audit.checkpoint_written",
        sequence=checkpoint.sequence,
        kind=kind,
        head_id=head.id,
        entries=checkpoint.entries,
        sha256=sha256_of(content),
    )
    delivered = await post_to_witness(settings, checkpoint, content)
    return Written(checkpoint, str(path), delivered)


async def post_to_witness(
    settings: Settings,
    checkpoint: Checkpoint,
    content: bytes,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> bool | None:
    """POST the checkpoint to ``audit_checkpoint_webhook_url`` as a Standard Webhook.

    A witness that is down must not stop checkpoints (the file is already written): the
    failure is logged for the alerting on ``audit.checkpoint_webhook_failed``.
    """
    url = settings.audit_checkpoint_webhook_url
    if not url:
        return None
    secret = settings.audit_checkpoint_webhook_secret
    if secret is None:
        log.error("audit.checkpoint_webhook_failed", reason="no webhook secret configured")
        return False
    msg_id = f"audit-checkpoint-{checkpoint.sequence}-{uuid.uuid4().hex[:8]}"
    sent_at = clock.now()
    # The file itself (base64: its SHA-256 is what the next checkpoint names) and, readable,
    # the sequence and head, so a witness can index what it holds.
    body = json.dumps(
        {
            "type": WEBHOOK_TYPE,
            "timestamp": sent_at.isoformat().replace("+00:00", "Z"),
            "data": {
                "sequence": checkpoint.sequence,
                "head_id": checkpoint.head.id,
                "sha256": sha256_of(content),
                "file": base64.b64encode(content).decode("ascii"),
            },
        },
        separators=(",", ":"),
    )
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": Webhook(secret.get_secret_value()).sign(msg_id, sent_at, body),
    }
    try:
        async with httpx.AsyncClient(transport=transport, timeout=10) as client:
            response = await client.post(url, content=body, headers=headers)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        log.error(
            "audit.checkpoint_webhook_failed",
            sequence=checkpoint.sequence,
            reason=type(exc).__name__,
        )
        return False
    return True
