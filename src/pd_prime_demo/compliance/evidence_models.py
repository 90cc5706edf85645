"""evidence_models (being written)."""

from __future__ import annotations
