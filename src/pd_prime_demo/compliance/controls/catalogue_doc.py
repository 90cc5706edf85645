"""docs/controls.md, generated from ``CONTROLS`` (``python -m
pd_prime_demo.compliance.controls.catalogue_doc > docs/controls.md``); a test keeps it current.
"""

from __future__ import annotations

from collections.abc import Sequence

from pd_prime_demo.compliance.control import Control

# control id -> (the evidence it produces, how it fails): what an auditor reads beside it.
NOTES: dict[str, tuple[str, str]] = {
    "CC6.1-logical-access": (
        "routes.json (every route, authenticated or why public), role_permissions.json, "
        "role_permissions_unreviewed.json",
        "a route without authentication that is not on the documented public list; a role's "
        "permissions differing from the reviewed compliance/controls/role_matrix.json (each "
        "difference named; the review updates the file with identity.rules)",
    ),
    "CC6.2-provisioning-removal": (
        "deactivated_live_credentials.csv (user and credential ids), unaudited_changes.json",
        "a deactivated user with a live session, OAuth authorization or API key; a user "
        "created or deactivated without its audit entry; a staff user changed in the period "
        "whose role is not the one their newest user.created / user.role_changed entry gives",
    ),
    "CC6.6-staff-mfa": (
        "staff_mfa.csv (user id, role, MFA methods), mfa_policy.json",
        "a staff role not in mfa_required_roles; an active staff user without MFA (by id); "
        "outside demo and development, any active demo staff account (published password)",
    ),
    "CC6.7-encryption": (
        "protected_columns.json (per column: values sampled, not protected; never a value), "
        "tls.json",
        "a sampled value that is neither ciphertext nor a hash; no protected column mapped; in "
        "production, a networked database without sslmode require/verify, or HSTS off",
    ),
    "CC7.2-monitoring": (
        "monitoring.json (alert rules by file, documented alerts, last scrape)",
        "a rule file that does not parse; an alert the runbook documents but no rule defines; "
        "no scrape of /metrics within compliance_max_scrape_age_seconds",
    ),
    "CC7.3-security-review": (
        "security_reviews.csv (the quarter's reviews: period, reviewer id, outcome, count)",
        "no recorded review covering up to within compliance_max_security_review_age_days",
    ),
    "CC8.1-change-management": (
        "release.json (package version, migration head, revision applied)",
        "the database's alembic_version differs from the release's migration head",
    ),
    "A1.2-backups": (
        "backup_runs.csv (each backup and restore check: file, SHA-256, figures)",
        "no successful backup within compliance_max_backup_age_hours, or no verified restore "
        "within compliance_max_restore_test_age_days",
    ),
    "PI1-processing-integrity": (
        "integrity.json (ledger totals, unbalanced journal ids, the chain's verification "
        "against its checkpoints: missing or rewritten ranges)",
        "debits differ from credits or a journal entry is unbalanced; an audit entry's hash "
        "or link does not verify, entries a checkpoint vouched for are missing or rewritten, "
        "or no checkpoint exists",
    ),
    "P5-request-deadlines": (
        "request_deadlines.json (ids of overdue and late requests, counts)",
        "an open request past its deadline, or one answered late in the month",
    ),
}


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def markdown(controls: Sequence[Control]) -> str:
    lines = [
        "# SOC 2 controls as code",
        "",
        "Generated from `pd_prime_demo.compliance.controls.CONTROLS` by",
        "`python -m pd_prime_demo.compliance.controls.catalogue_doc > docs/controls.md`",
        "(tests/unit/test_controls_catalogue.py fails when this page is not current).",
        "Each control runs on its frequency as a job; its outcome, the period its evidence",
        "describes and its evidence artefacts (with their SHA-256) are stored append-only.",
        "",
        "| id | criteria | frequency | what it tests | evidence | fails when |",
        "|---|---|---|---|---|---|",
    ]
    for control in controls:
        evidence, fails = NOTES[control.id]
        lines.append(
            "| "
            + " | ".join(
                _cell(c)
                for c in (
                    f"`{control.id}`",
                    ", ".join(control.criteria),
                    control.frequency.value,
                    f"**{control.title}.** {control.description}",
                    evidence,
                    fails,
                )
            )
            + " |"
        )
    lines += [
        "",
        "## Where the evidence comes from",
        "",
        "- `pd-prime backup` and `pd-prime restore` record each run in `backup_runs` of the live",
        "  database (a restore check only with its restore: `--check-only` records nothing).",
        "- An administrator records each review of security events with",
        "  `POST /api/v1/compliance/security-reviews` (`compliance:manage`; read with",
        "  `compliance:read`): security events are log lines and counters, so the reviews are",
        "  the evidence.",
        "- `/metrics` records when a scraper last read it (at most one write a minute).",
        "- Public routes are listed with their reasons in",
        "  `pd_prime_demo/compliance/controls/access.py` (`PUBLIC_ROUTES`): making a route",
        "  public is a reviewed change to that list.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover
    from pd_prime_demo.compliance.controls import CONTROLS

    print(markdown(CONTROLS), end="")
