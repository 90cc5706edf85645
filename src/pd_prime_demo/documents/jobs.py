"""The documents job: draw a page after the transaction that recorded it commits."""

from __future__ import annotations

import uuid

import procrastinate
import structlog
from procrastinate.job_context import JobContext

from pd_prime_demo.core.queue import STANDARD
from pd_prime_demo.core.runtime import runtime_of
from pd_prime_demo.documents import service

log = structlog.get_logger(__name__)

blueprint = procrastinate.Blueprint()


@blueprint.task(name="render", retry=STANDARD, pass_context=True, queue="documents")
async def render(context: JobContext, *, event_id: int, topic: str, aggregate_id: str) -> None:
    """``document.requested`` -> the PDF. Idempotent: a drawn document is left as it is. When
    the last attempt fails the document is marked failed (and the job stays failed)."""
    db = runtime_of(context).db
    document_id = uuid.UUID(aggregate_id)
    try:
        async with db.unit_of_work() as session:
            drawn = await service.render(session, document_id)
    except Exception as exc:
        if STANDARD.is_last_attempt(context.job.attempts):
            async with db.unit_of_work() as session:
                await service.mark_failed(session, document_id, f"{type(exc).__name__}: {exc}")
        raise
    log.debug("documents.rendered", document_id=str(document_id), drawn=drawn, event_id=event_id)
