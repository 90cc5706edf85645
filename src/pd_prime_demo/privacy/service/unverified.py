"""Requests nobody verified: closed once their last code is long expired.

Anyone may fill the public intake in a person's name; the code goes to the address on file and
may never be answered. A request that cannot be verified may be refused (11 CCR 7060(c); GDPR
Art. 12(6) lets the controller ask for the information it needs to confirm the identity): it is
rejected with that reason, in the request's history and the audit log, so that open requests
are ones someone can act on. The person can always ask again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.result_types import Ok
from pd_prime_demo.privacy import repository
from pd_prime_demo.privacy.enums import RequestStatus
from pd_prime_demo.privacy.service.requests import move

# How long after its last code expired an unverified request stays open (a person back from a
# week away can still ask staff for a new code).
GRACE = timedelta(days=7)
REASON = (
    "identity not verified: the code sent to the address on file was not entered before it "
    "expired; make the request again to receive a new one"
)
_SWEEP = Actor.system("privacy-unverified")


async def close_unverified(session: AsyncSession, *, now: datetime, limit: int = 500) -> int:
    """Reject up to ``limit`` requests whose last code expired more than GRACE before ``now``
    (with no code ever sent, counted from receipt); how many were closed (the caller commits;
    run again until it answers fewer than ``limit``)."""
    closed = 0
    for request in await repository.stale_unverified(session, before=now - GRACE, limit=limit):
        if isinstance(
            await move(session, request, RequestStatus.REJECTED, actor=_SWEEP, note=REASON), Ok
        ):
            closed += 1
    return closed
