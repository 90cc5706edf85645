"""The settings of the SOC 2 controls (issue 16).
Part of :class:`~pd_prime_demo.core.config.Settings` (a base class of it)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field


class ComplianceSettings(BaseModel):
    # --- Controls as code (compliance) ---
    # How often the worker looks for controls that are due (each control runs on its own
    # frequency: daily, weekly, monthly, quarterly, annually).
    compliance_schedule_cron: str = "5 * * * *"
    # Where evidence artefacts are kept (relative paths are under data_dir), by SHA-256.
    compliance_evidence_dir: Path = Path("evidence")
    # CC7.2: a Prometheus scrape of /metrics must have happened within this many seconds.
    compliance_max_scrape_age_seconds: int = Field(default=3600, ge=60)
    # A1.2: a backup must be at most this old, and a restore verified within this many days.
    compliance_max_backup_age_hours: int = Field(default=26, ge=1)
    compliance_max_restore_test_age_days: int = Field(default=95, ge=1)
    # CC7.3: security events must have been reviewed (a recorded review) within this many days.
    compliance_max_security_review_age_days: int = Field(default=8, ge=1)
    # A control's test is bounded in time: one that overruns is recorded as failed.
    compliance_control_timeout_seconds: int = Field(default=60, ge=1, le=3600)
    # The auditor's export covers at most this many days (a SOC 2 Type II period is a year).
    compliance_export_max_days: int = Field(default=400, ge=1)
    # Auditor samples per frequency (AICPA sampling guidance as auditors commonly draw it).
    compliance_sample_daily: int = Field(default=25, ge=1)
    compliance_sample_weekly: int = Field(default=5, ge=1)
    compliance_sample_monthly: int = Field(default=2, ge=1)
