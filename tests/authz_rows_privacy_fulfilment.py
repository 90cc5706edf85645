"""The authorization matrix's rows for the privacy fulfilment routes (see tests/authz_rows.py)."""

from __future__ import annotations

from tests.authz_rows import Row

PRIVACY_FULFILMENT_ROWS: tuple[Row, ...] = ()
