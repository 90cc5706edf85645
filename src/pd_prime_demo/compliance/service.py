"""Running controls, recording their runs and evidence, and the auditor's export."""

from __future__ import annotations
