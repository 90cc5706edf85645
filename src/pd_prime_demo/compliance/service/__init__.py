"""Running controls, recording their runs and evidence, and the auditor's export.

Use cases by module: ``runner`` (run a control, run those due), ``reads`` (the catalogue's
latest results, the runs, their evidence), ``chain`` (verify the run chain), ``archive`` (the
auditor's export). The catalogue itself is ``compliance.controls.CONTROLS``.
"""

from __future__ import annotations

from pd_prime_demo.compliance.service.archive import export_period, sample_sizes
from pd_prime_demo.compliance.service.chain import RunChainReport, verify_runs
from pd_prime_demo.compliance.service.reads import (
    ControlStatus,
    catalogue,
    control_statuses,
    find_control,
    get_evidence,
    get_run,
    list_runs,
)
from pd_prime_demo.compliance.service.runner import (
    SCHEDULER,
    due_controls,
    publish,
    run_control,
    run_due,
    run_now,
    run_scheduled,
)

__all__ = [
    "SCHEDULER",
    "ControlStatus",
    "RunChainReport",
    "catalogue",
    "control_statuses",
    "due_controls",
    "export_period",
    "find_control",
    "get_evidence",
    "get_run",
    "list_runs",
    "publish",
    "run_control",
    "run_due",
    "run_now",
    "run_scheduled",
    "sample_sizes",
    "verify_runs",
]
