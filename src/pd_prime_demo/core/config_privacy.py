"""The settings of privacy: data subject requests, consent, legal holds, retention (issue 16).
Part of :class:`~pd_prime_demo.core.config.Settings` (a base class of it)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class PrivacySettings(BaseModel):
    # --- Data subject requests (privacy) ---
    # A verification code sent to the person's address on file lives this long.
    privacy_verification_ttl_minutes: int = Field(default=60 * 24, ge=5)
    # When the retention sweep runs (cron), and how many records one transaction purges.
    privacy_retention_cron: str = "30 2 * * *"
    privacy_retention_chunk: int = Field(default=500, ge=1, le=50_000)
    # Retention schedule (privacy.retention_rules), in years. An unbound quote is deleted this
    # long after it expired (a re-quote and complaint window).
    privacy_retention_unbound_quote_years: int = Field(default=3, ge=1, le=50)
    # A prospect (never a policy or a claim) is erased this long after their last quote.
    privacy_retention_prospect_years: int = Field(default=3, ge=1, le=50)
    # A former insured is pseudonymised this long after their last policy ended and their last
    # claim closed: the longest usual US state record rule / IRS period is 7 years.
    privacy_retention_former_insured_years: int = Field(default=7, ge=5, le=50)
    # An access answer kept for download is deleted this long after it was made (GDPR Art.
    # 5(1)(e): a copy of everything about the person is not kept longer than its purpose).
    privacy_export_ttl_days: int = Field(default=30, ge=1, le=365)
