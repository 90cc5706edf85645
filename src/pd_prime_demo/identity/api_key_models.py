"""API keys for simple integrations, and the PII key rotation's progress."""

from __future__ import annotations
