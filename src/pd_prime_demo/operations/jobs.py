"""The operations domain's queue jobs: the periodic integrity checks (audit chain, ledger).

(Groundwork stub of issue 15; the metrics helper fills it in.)
"""

from __future__ import annotations

import procrastinate

blueprint = procrastinate.Blueprint()
