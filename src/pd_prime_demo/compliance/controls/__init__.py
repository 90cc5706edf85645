"""The control catalogue: every SOC 2 control as code (``CONTROLS``), one module per family.

docs/controls.md is generated from this tuple (``docs_table``); a test keeps it current.
"""

from __future__ import annotations

from pd_prime_demo.compliance.control import Control
from pd_prime_demo.compliance.controls.access import LOGICAL_ACCESS
from pd_prime_demo.compliance.controls.availability import BACKUPS
from pd_prime_demo.compliance.controls.change import CHANGE_MANAGEMENT
from pd_prime_demo.compliance.controls.encryption import ENCRYPTION
from pd_prime_demo.compliance.controls.integrity import PROCESSING_INTEGRITY
from pd_prime_demo.compliance.controls.monitoring import MONITORING, SECURITY_REVIEW
from pd_prime_demo.compliance.controls.privacy import PRIVACY_REQUESTS
from pd_prime_demo.compliance.controls.users import PROVISIONING, STAFF_MFA

CONTROLS: tuple[Control, ...] = (
    LOGICAL_ACCESS,
    PROVISIONING,
    STAFF_MFA,
    ENCRYPTION,
    MONITORING,
    SECURITY_REVIEW,
    CHANGE_MANAGEMENT,
    BACKUPS,
    PROCESSING_INTEGRITY,
    PRIVACY_REQUESTS,
)
