"""Monitoring (AICPA TSC CC7.2) and the review of security events (CC7.3).

CC7.2: the alert rules parse and define every alert the runbook (docs/operations.md, its
"Alerts" section) documents, and Prometheus scraped /metrics recently (recorded by
``operations.metrics_router``). CC7.3: security events (``core.security_events``) are log
lines and metric counters, not rows, so nothing here can count them after the fact: the
evidence is the review an administrator records (``POST /api/v1/compliance/security-reviews``)
with the number of events they examined, and this control checks one is recent enough.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import yaml

from pd_prime_demo.compliance import security_reviews
from pd_prime_demo.compliance.control import Control, ControlContext, Frequency, Outcome
from pd_prime_demo.compliance.controls.evidence import csv_evidence, json_evidence, named
from pd_prime_demo.operations import evidence as operations

# The rules and the runbook ship in the repository (ops/, docs/), not in the wheel: the
# control runs where the release is deployed from. Found from this file (src layout).
REPOSITORY = Path(__file__).resolve().parents[4]
RULES_DIR = REPOSITORY / "ops" / "prometheus" / "rules"
RUNBOOK = REPOSITORY / "docs" / "operations.md"
_ALERT_NAME = re.compile(r"`(PdPrime[A-Za-z0-9]+)`")


@dataclass(slots=True)
class RuleFiles:
    alerts: dict[str, str] = field(default_factory=dict)  # alert -> the file defining it
    problems: list[str] = field(default_factory=list)


def read_rules(directory: Path) -> RuleFiles:
    found = RuleFiles()
    files = sorted(directory.glob("*.yml")) + sorted(directory.glob("*.yaml"))
    if not files:
        found.problems.append(f"no rule files in {directory}")
    for path in files:
        try:
            document = yaml.safe_load(path.read_text("utf-8"))
        except (OSError, yaml.YAMLError) as error:
            found.problems.append(f"{path.name} does not parse: {type(error).__name__}")
            continue
        groups = document.get("groups") if isinstance(document, dict) else None
        if not isinstance(groups, list):
            found.problems.append(f"{path.name} has no rule groups")
            continue
        for group in groups:
            for rule in (group or {}).get("rules") or []:
                if not isinstance(rule, dict) or not rule.get("expr"):
                    found.problems.append(f"{path.name}: a rule without an expression")
                elif "alert" in rule:
                    found.alerts[str(rule["alert"])] = path.name
    return found


def documented_alerts(runbook: Path) -> set[str]:
    """The alerts the runbook's "Alerts" section names (its level-2 heading to the next)."""
    text = runbook.read_text("utf-8")
    start = text.find("\n## Alerts")
    if start < 0:
        return set()
    end = text.find("\n## ", start + 1)
    return set(_ALERT_NAME.findall(text[start : end if end > 0 else len(text)]))


async def check_monitoring(ctx: ControlContext, rules_dir: Path, runbook: Path) -> Outcome:
    rules = read_rules(rules_dir)
    problems = list(rules.problems)
    try:
        documented = documented_alerts(runbook)
    except OSError:
        documented = set()
        problems.append(f"the runbook {runbook.name} cannot be read")
    undefined = sorted(documented - rules.alerts.keys())
    if undefined:
        problems.append(f"alerts documented but not defined: {named(undefined)}")
    scraped = await operations.last_scrape(ctx.session)
    limit = timedelta(seconds=ctx.settings.compliance_max_scrape_age_seconds)
    if scraped is None:
        problems.append("no scrape of /metrics has ever been recorded")
    elif ctx.now - scraped > limit:
        problems.append(
            f"the last scrape of /metrics was at {scraped.isoformat()}, over {limit} ago"
        )
    evidence = (
        json_evidence(
            "monitoring.json",
            {
                "alert_rules": rules.alerts,
                "documented_alerts": sorted(documented),
                "last_scrape_at": scraped,
                "max_scrape_age_seconds": ctx.settings.compliance_max_scrape_age_seconds,
            },
        ),
    )
    figures = {"alerts": len(rules.alerts), "documented": len(documented)}
    since = scraped if scraped is not None and scraped < ctx.now else ctx.now - limit
    if problems:
        return Outcome(False, "; ".join(problems), since, ctx.now, evidence, figures)
    reason = (
        f"{len(rules.alerts)} alert rules parse, including all {len(documented)} the runbook "
        f"documents; /metrics last scraped at {scraped.isoformat() if scraped else '-'}"
    )
    return Outcome(True, reason, since, ctx.now, evidence, figures)


async def monitoring(ctx: ControlContext) -> Outcome:
    return await check_monitoring(ctx, RULES_DIR, RUNBOOK)


# The reviews an auditor sees with each run: the last quarter's, at most this many.
_REVIEWS_SHOWN = 100


async def security_review(ctx: ControlContext) -> Outcome:
    limit = timedelta(days=ctx.settings.compliance_max_security_review_age_days)
    since = ctx.now - limit
    reviews = await security_reviews.reviews_since(
        ctx.session, ctx.now - timedelta(days=92), limit=_REVIEWS_SHOWN
    )
    rows = [
        [r.id, r.reviewed_by, r.covers_from, r.covers_to, r.outcome, r.events_reviewed, r.reference]
        for r in reviews
    ]
    # The findings are free text (they may name people): the evidence holds the review's id,
    # for an auditor to read the review itself through the API.
    evidence = (
        csv_evidence(
            "security_reviews.csv",
            [
                "id",
                "reviewed_by",
                "covers_from",
                "covers_to",
                "outcome",
                "events_reviewed",
                "reference",
            ],
            rows,
        ),
    )
    latest = reviews[0] if reviews else None
    figures = {"reviews_in_quarter": len(reviews)}
    if latest is None or latest.covers_to < since:
        last = f"the last covered up to {latest.covers_to.isoformat()}" if latest else "none"
        reason = (
            f"no review of security events covers up to within {limit.days} days "
            f"({last}); security events are logs and counters, so the reviews are the evidence"
        )
        return Outcome(False, reason, since, ctx.now, evidence, figures)
    reason = (
        f"security events reviewed up to {latest.covers_to.isoformat()} by {latest.reviewed_by} "
        f"({latest.events_reviewed} events, {latest.outcome.replace('_', ' ')})"
    )
    return Outcome(True, reason, latest.covers_from, latest.covers_to, evidence, figures)


MONITORING = Control(
    id="CC7.2-monitoring",
    criteria=("CC7.2",),
    title="Alert rules loaded and metrics scraped",
    description=(
        "The Prometheus rule files parse and define every alert the runbook documents, and "
        "/metrics was scraped within compliance_max_scrape_age_seconds."
    ),
    frequency=Frequency.DAILY,
    test=monitoring,
)

SECURITY_REVIEW = Control(
    id="CC7.3-security-review",
    criteria=("CC7.3",),
    title="Security events reviewed",
    description=(
        "An administrator recorded a review of the security events covering up to within "
        "compliance_max_security_review_age_days; the reviews of the quarter are the evidence."
    ),
    frequency=Frequency.WEEKLY,
    test=security_review,
)
