"""Identity's queue job: send a message written by a committed transaction."""

from __future__ import annotations

import uuid

import procrastinate
import structlog
from procrastinate.job_context import JobContext

from pd_prime_demo.core import mail
from pd_prime_demo.core.queue import STANDARD
from pd_prime_demo.core.runtime import Runtime, runtime_of
from pd_prime_demo.identity import mailbox

log = structlog.get_logger(__name__)

blueprint = procrastinate.Blueprint()


@blueprint.task(name="send_mail", retry=STANDARD, pass_context=True, queue="default")
async def send_mail(context: JobContext, *, message_id: str) -> None:
    """Idempotent: a message already sent is not sent again (its row is locked while this
    attempt sends, so two attempts never send it twice at once)."""
    await deliver(runtime_of(context), uuid.UUID(message_id))


async def deliver(runtime: Runtime, message_id: uuid.UUID) -> bool:
    """Send one queued message unless it was sent already; whether this call sent it."""
    async with runtime.db.unit_of_work() as session:
        message = await mailbox.take_unsent(session, runtime.cipher, message_id)
        if message is None:
            return False
        where = await mail.send(runtime.settings, message)
        await mailbox.mark_sent(session, message_id)
    log.info("mail.sent", message_id=str(message_id), via=where.split(":", 1)[0])
    return True
