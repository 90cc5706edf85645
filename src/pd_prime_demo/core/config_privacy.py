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
