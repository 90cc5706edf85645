"""Pure customer rules: who may see a record, how PII is masked, what a valid SSN is."""

from __future__ import annotations

import re
import uuid

from pd_prime_demo.core.actor import COMPANY_WIDE_ROLES, Actor, ActorKind, Role
from pd_prime_demo.customers.enums import CustomerKind

PII_FIELDS = ("ssn", "date_of_birth", "drivers_license_number")

_SSN = re.compile(r"^(\d{3})-?(\d{2})-?(\d{4})$")


def normalise_ssn(value: str) -> str | None:
    """``123-45-6789`` form, or None when it cannot be an SSA-issued number.

    SSA never issues area 000, 666 or 900-999, group 00, or serial 0000.
    """
    match = _SSN.match(value.strip())
    if match is None:
        return None
    area, group, serial = match.groups()
    if area in ("000", "666") or area.startswith("9") or group == "00" or serial == "0000":
        return None
    return f"{area}-{group}-{serial}"


def mask_ssn(ssn: str) -> str:
    return "***-**-" + ssn[-4:]


def mask_date_of_birth(_: str) -> str:
    return "****-**-**"


def mask_licence(number: str) -> str:
    visible = number[-4:] if len(number) > 4 else ""
    return "*" * (len(number) - len(visible)) + visible


def can_see(actor: Actor, *, owner_user_id: uuid.UUID | None, agent_id: uuid.UUID | None) -> bool:
    """Object-level visibility; callers answer 404 (not 403) when this is False."""
    if actor.kind is ActorKind.SYSTEM or actor.role in COMPANY_WIDE_ROLES:
        return True
    if actor.role is Role.AGENT:
        return agent_id is not None and agent_id == actor.user_id
    if actor.role is Role.CUSTOMER:
        return owner_user_id is not None and owner_user_id == actor.user_id
    return False


def display_name(
    *, kind: str, first_name: str | None, last_name: str | None, organisation_name: str | None
) -> str:
    if kind == CustomerKind.ORGANISATION:
        return organisation_name or ""
    return f"{first_name or ''} {last_name or ''}".strip()


def escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
