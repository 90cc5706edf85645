"""Identity's outgoing mail: written in the request's transaction, sent by a job after commit.

The message row and its job are inserted in the same transaction (procrastinate's own
``procrastinate_defer_jobs_v1`` on the session's connection), so a request that rolls back
sends nothing and a committed one is always sent, at least once: no job can run before the
commit, and none is lost between the commit and a defer. The recipient and body are
field-encrypted (the body may hold a link token) and the body is erased once sent.

Every identity mail goes through ``queue_limited``: at most ``MAILS_PER_HOUR`` of one kind an
hour to one recipient (a digest of it keys the count), so no route can flood an inbox. Kinds
count apart, so a flood of one (reset links) cannot silence a security notice of another.
"""

from __future__ import annotations

import hashlib
import json
import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.core import clock
from pd_prime_demo.core.crypto import FieldCipher
from pd_prime_demo.core.mail import Mail
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.identity.mfa_models import MailMessage

SEND_TASK = "identity:send_mail"
MAILS_PER_HOUR = 3
_DEFER = text(
    "SELECT procrastinate_defer_jobs_v1(ARRAY[ROW('default', :task, 0, NULL, NULL, "
    "CAST(:args AS jsonb), NULL)::procrastinate_job_to_defer_v1])"
)


def _context(message_id: uuid.UUID, part: str) -> str:
    return f"mail_messages.{part}:{message_id}"


async def queue_mail(
    session: AsyncSession, cipher: FieldCipher, *, to: str, subject: str, body: str
) -> uuid.UUID:
    message_id = uuid.uuid4()
    session.add(
        MailMessage(
            id=message_id,
            to_enc=cipher.encrypt(to, context=_context(message_id, "to")),
            subject=subject,
            body_enc=cipher.encrypt(body, context=_context(message_id, "body")),
            created_at=clock.now(),
        )
    )
    await session.flush()
    await session.execute(
        _DEFER, {"task": SEND_TASK, "args": json.dumps({"message_id": str(message_id)})}
    )
    return message_id


async def allowed(rt: Runtime, kind: str, to: str) -> bool:
    """Count one mail of ``kind`` to ``to``; False past the hour's cap (send nothing then)."""
    recipient = hashlib.sha256(to.strip().lower().encode()).hexdigest()[:32]
    return await rt.cache.hit(f"identity-mail:{kind}:{recipient}", 3600) <= MAILS_PER_HOUR


async def queue_limited(
    session: AsyncSession, rt: Runtime, *, kind: str, to: str, subject: str, body: str
) -> bool:
    """``queue_mail`` within the per-recipient cap of ``kind`` (False: over it, not queued)."""
    if not await allowed(rt, kind, to):
        return False
    await queue_mail(session, rt.cipher, to=to, subject=subject, body=body)
    return True


async def take_unsent(
    session: AsyncSession, cipher: FieldCipher, message_id: uuid.UUID
) -> Mail | None:
    """The message to send, locked until the caller's transaction ends (None: already sent)."""
    row = await session.get(MailMessage, message_id, with_for_update=True)
    if row is None or row.sent_at is not None or row.body_enc is None:
        return None
    return Mail(
        to=cipher.decrypt(row.to_enc, context=_context(message_id, "to")),
        subject=row.subject,
        body=cipher.decrypt(row.body_enc, context=_context(message_id, "body")),
    )


async def mark_sent(session: AsyncSession, message_id: uuid.UUID) -> None:
    row = await session.get(MailMessage, message_id)
    if row is not None:
        row.sent_at = clock.now()
        row.body_enc = None
