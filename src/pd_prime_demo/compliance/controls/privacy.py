"""Data subject requests answered within their deadlines (AICPA TSC P5.1, P5.2: access and
correction; P4.3: disposal; GDPR Art. 12(3): one month, extendable; CCPA 1798.130(a)(2): 45
days, extendable once).

The deadlines are the privacy domain's (``privacy.rules.due_on``); this control asks
``privacy.service.requests.deadline_report`` which open requests are past their deadline now
and which were closed late in the month before the run, and fails on any.
"""

from __future__ import annotations

from datetime import timedelta

from pd_prime_demo.compliance.control import Control, ControlContext, Frequency, Outcome
from pd_prime_demo.compliance.controls.evidence import json_evidence, named
from pd_prime_demo.privacy.service import requests as privacy_requests

# The period the evidence describes: the month before the run (the control runs monthly).
PERIOD = timedelta(days=31)


async def requests_on_time(ctx: ControlContext) -> Outcome:
    since = ctx.now - PERIOD
    report = await privacy_requests.deadline_report(ctx.session, now=ctx.now, since=since)
    overdue = [str(i) for i in report.overdue_ids]
    late = [str(i) for i in report.late_ids]
    evidence = (
        json_evidence(
            "request_deadlines.json",
            {
                "as_of": report.as_of,
                "period_start": report.period_start,
                "open_overdue": report.open_overdue,
                "overdue_request_ids": overdue,
                "closed_in_period": report.closed_in_period,
                "closed_late": report.closed_late,
                "late_request_ids": late,
            },
        ),
    )
    figures = {
        "open_overdue": report.open_overdue,
        "closed_in_period": report.closed_in_period,
        "closed_late": report.closed_late,
    }
    problems = []
    if report.open_overdue:
        problems.append(
            f"{report.open_overdue} request(s) open past their deadline: {named(overdue)}"
        )
    if report.closed_late:
        problems.append(
            f"{report.closed_late} request(s) answered after their deadline: {named(late)}"
        )
    if problems:
        return Outcome(False, "; ".join(problems), since, ctx.now, evidence, figures)
    reason = (
        f"no data subject request is open past its deadline; {report.closed_in_period} "
        f"answered in the period, none late"
    )
    return Outcome(True, reason, since, ctx.now, evidence, figures)


PRIVACY_REQUESTS = Control(
    id="P5-request-deadlines",
    criteria=("P5.1", "P5.2", "P4.3"),
    title="Data subject requests answered within their deadlines",
    description=(
        "No access, rectification, erasure or opt-out request is open past its deadline (GDPR "
        "one month, CCPA 45 days, each as extended), and none was answered late in the month."
    ),
    frequency=Frequency.MONTHLY,
    test=requests_on_time,
)
