"""Every control of the catalogue runs against the real platform and answers: an outcome with
a reason, a period that ends by the run, and evidence an auditor can open."""

from __future__ import annotations

import csv
import io
import json

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.compliance.control import ControlContext
from pd_prime_demo.compliance.controls import CONTROLS
from pd_prime_demo.core import clock
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.main import create_app


async def test_every_control_answers_with_a_period_and_readable_evidence(
    session: AsyncSession, runtime: Runtime
) -> None:
    now = clock.now()
    ctx = ControlContext(
        session=session,
        settings=runtime.settings,
        now=now,
        routes=tuple(create_app(runtime=runtime).routes),
    )
    for control in CONTROLS:
        outcome = await control.test(ctx)
        assert outcome.reason.strip(), control.id
        assert outcome.covers_from <= outcome.covers_to <= now, control.id
        for evidence in outcome.evidence:
            body = evidence.content.decode("utf-8")
            if evidence.media_type == "application/json":
                json.loads(body)
            else:
                assert evidence.media_type == "text/csv", (control.id, evidence.name)
                assert next(csv.reader(io.StringIO(body))), (control.id, evidence.name)
        json.dumps(outcome.figures)  # figures are stored as JSON with the run
