"""How a table's column says it holds personal data, so that the data map (``privacy.datamap``)
is generated from the models themselves and a new column cannot hide from it.

A model marks a column with ``mapped_column(..., info=personal(Category.CONTACT))``; a column
that looks personal but is not (an id, a hash of a token) says so with ``info=not_personal(
"why")``. The privacy domain's test fails on a column that neither marks.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any


class Category(enum.StrEnum):
    """Categories of personal data (GDPR Art. 4(1), Art. 9; CCPA 1798.140(v))."""

    IDENTITY = "identity"  # names
    CONTACT = "contact"  # e-mail, phone, postal address
    GOVERNMENT_ID = "government_id"  # SSN, driver's licence number
    DATE_OF_BIRTH = "date_of_birth"
    FINANCIAL = "financial"  # bank account, card, payer details
    VEHICLE = "vehicle"  # VIN, plate: identify a person through their vehicle
    PROPERTY = "property"  # the insured location
    CLAIM = "claim"  # loss descriptions, injuries, claimant statements
    HEALTH = "health"  # special category (Art. 9): injuries, medical
    CREDENTIALS = "credentials"  # password hashes, MFA secrets, passkeys
    ONLINE_IDENTIFIER = "online_identifier"  # IP addresses, user agents, device ids
    FREE_TEXT = "free_text"  # notes and descriptions that may hold anything


# Categories that must never be stored in the clear: encrypted per field (core.crypto) or,
# for credentials, hashed. The CC6.7 control checks every column the data map gives them.
PROTECTED_CATEGORIES = frozenset(
    {
        Category.GOVERNMENT_ID,
        Category.DATE_OF_BIRTH,
        Category.FINANCIAL,
        Category.HEALTH,
        Category.CREDENTIALS,
    }
)

INFO_KEY = "personal_data"


@dataclass(frozen=True, slots=True)
class PersonalField:
    """What a column holds about a person."""

    categories: tuple[Category, ...]
    # Whose data it is: "customer" (a policyholder or prospect), "user" (a login), "claimant"
    # (a third party in a claim), "payee", "driver"...
    subject: str = "customer"
    note: str = ""


def personal(*categories: Category, subject: str = "customer", note: str = "") -> dict[str, Any]:
    """A column's ``info``: it holds personal data of these categories."""
    if not categories:
        raise ValueError("personal data needs at least one category")
    return {INFO_KEY: PersonalField(tuple(categories), subject, note)}


def not_personal(reason: str) -> dict[str, Any]:
    """A column's ``info``: it looks personal (its name or type) but is not, and why."""
    return {INFO_KEY: None, "not_personal": reason}
