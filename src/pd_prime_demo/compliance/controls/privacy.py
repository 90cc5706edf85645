"""Data subject requests answered within their deadlines (AICPA TSC P5.1, P5.2: access and
correction; P4.3: disposal; GDPR Art. 12(3): one month, extendable; CCPA 1798.130(a)(2): 45
days, extendable once).

The deadlines are the privacy domain's (``privacy.rules.due_on``); this control asks
``privacy.service.requests.deadline_report(session, *, now)`` which open requests are past
their deadline and which were answered late, and fails on any.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from pd_prime_demo.compliance.control import Control, ControlContext, Frequency, Outcome
from pd_prime_demo.compliance.controls.evidence import json_evidence, named

# The privacy domain's report. Imported when the control runs, by name: the privacy service
# is being written alongside this catalogue, and a control that cannot obtain its evidence
# must fail saying so, never stop the others from loading.
REPORT_MODULE = "pd_prime_demo.privacy.service.requests"
REPORT_FUNCTION = "deadline_report"
# The period the evidence describes: the month before the run (a request answered late in it
# counts), as the control runs monthly.
_PERIOD = timedelta(days=31)


def _ids(items: Iterable[Any]) -> list[str]:
    return [str(getattr(item, "id", item)) for item in items]


async def requests_on_time(ctx: ControlContext) -> Outcome:
    since = ctx.now - _PERIOD
    try:
        report_of = getattr(importlib.import_module(REPORT_MODULE), REPORT_FUNCTION)
    except (ImportError, AttributeError):
        reason = f"no deadline report to examine ({REPORT_MODULE}.{REPORT_FUNCTION} is missing)"
        return Outcome(False, reason, since, ctx.now)
    report = await report_of(ctx.session, now=ctx.now)
    overdue = _ids(getattr(report, "overdue", ()))
    late = _ids(getattr(report, "answered_late", ()))
    on_time = getattr(report, "answered_on_time", None)
    still_open = getattr(report, "open", None)
    data = {
        "overdue_request_ids": overdue,
        "answered_late_request_ids": late,
        "answered_on_time": on_time if isinstance(on_time, int) else len(_ids(on_time or ())),
        "open": still_open if isinstance(still_open, int) else len(_ids(still_open or ())),
    }
    evidence = (json_evidence("request_deadlines.json", data),)
    figures = {"overdue": len(overdue), "answered_late": len(late)}
    problems = []
    if overdue:
        problems.append(
            f"{len(overdue)} request(s) past their deadline unanswered: {named(overdue)}"
        )
    if late:
        problems.append(f"{len(late)} request(s) answered after their deadline: {named(late)}")
    if problems:
        return Outcome(False, "; ".join(problems), since, ctx.now, evidence, figures)
    reason = (
        f"no data subject request is past its deadline; {data['answered_on_time']} answered "
        f"in time, {data['open']} open within their deadlines"
    )
    return Outcome(True, reason, since, ctx.now, evidence, figures)


PRIVACY_REQUESTS = Control(
    id="P5-request-deadlines",
    criteria=("P5.1", "P5.2", "P4.3"),
    title="Data subject requests answered within their deadlines",
    description=(
        "No access, rectification, erasure or opt-out request is open past its deadline (GDPR "
        "one month, CCPA 45 days, each as extended), and none was answered late."
    ),
    frequency=Frequency.MONTHLY,
    test=requests_on_time,
)
