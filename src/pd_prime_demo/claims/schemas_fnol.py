"""First notice of loss: the request, and the claim as filed (reused by the claim's reads).

The loss is given as ``loss_at``, an aware timestamp, with ``time_zone``, the IANA zone of the
loss location as the reporter gives it (kept as ``loss_time_zone``); ``loss_on``, the day
coverage is checked on, is the calendar day of ``loss_at`` in the zone the policy period is
stated in (the product's ``claims.time_zone``: a crash at 23:30 in Chicago on the 31st is a
loss on the 31st on a Texas policy, though UTC says the 1st). Where the reporter's zone gives
another day the claim is flagged ``loss_date_zone_differs`` for an adjuster to look at.
"""

from __future__ import annotations

import functools
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field

from pd_prime_demo.claims.enums import (
    ClaimStatus,
    CoverageStatus,
    InvolvedKind,
    PartyRole,
    ReportedVia,
)
from pd_prime_demo.core.dates import Moment

Phone = Annotated[str, Field(pattern=r"^\+?[0-9 ().-]{7,20}$")]
Text200 = Annotated[str, Field(min_length=1, max_length=200)]


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _zone(name: str) -> str:
    if name not in _zones():
        raise ValueError("not an IANA time zone name (e.g. America/Chicago)")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:  # pragma: no cover - listed above
        raise ValueError("not an IANA time zone name") from exc
    return name


TimeZone = Annotated[str, Field(max_length=64), AfterValidator(_zone)]


class _In(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class AddressIn(_In):
    line1: Text200
    line2: str | None = Field(default=None, max_length=200)
    city: str = Field(min_length=1, max_length=100)
    state: str = Field(pattern=r"^[A-Z]{2}$")
    postal_code: str = Field(pattern=r"^\d{5}(-\d{4})?$")


class LossLocation(AddressIn):
    """Where the loss happened: an address (a crossing is fine as line1), and optionally the
    point (WGS 84 degrees)."""

    latitude: Annotated[Decimal, Field(ge=-90, le=90, decimal_places=6)] | None = None
    longitude: Annotated[Decimal, Field(ge=-180, le=180, decimal_places=6)] | None = None


class ContactIn(_In):
    """How to reach a party: stored encrypted, shown only to pii:read and the policyholder."""

    phone: Phone | None = None
    email: EmailStr | None = None
    address: AddressIn | None = None


class PartyIn(_In):
    role: PartyRole
    name: Text200
    contact: ContactIn | None = None
    injured: bool = False


class VehicleIn(_In):
    """An insured vehicle by its index on the policy's schedule (``policy_unit``), or a third
    party's, described (``description`` required), with its owner among ``parties``."""

    policy_unit: int | None = Field(default=None, ge=0, le=49)
    description: str | None = Field(default=None, min_length=1, max_length=500)
    owner_party: int | None = Field(
        default=None, ge=0, description="The owner's index in `parties`."
    )
    damage: str = Field(default="", max_length=2000)


class PropertyIn(_In):
    description: str = Field(min_length=1, max_length=500)
    owner_party: int | None = Field(default=None, ge=0)
    damage: str = Field(default="", max_length=2000)


CLAIM_CREATE_EXAMPLE: dict[str, Any] = {
    "policy_id": "0b3c9d4e-3f0c-4b8e-9a41-2c7de0f1a2b3",
    "loss_at": "2026-12-20T08:15:00-06:00",
    "time_zone": "America/Chicago",
    "cause_code": "collision",
    "location": {
        "line1": "Congress Ave & 6th St",
        "city": "Austin",
        "state": "TX",
        "postal_code": "78701",
        "latitude": "30.2686",
        "longitude": "-97.7428",
    },
    "description": "Rear-ended at a red light; rear bumper and trunk lid damaged.",
    "parties": [
        {
            "role": "driver",
            "name": "Maria Garcia",
            "contact": {"phone": "+1 512 555 0100", "email": "maria@example.com"},
        },
        {
            "role": "claimant",
            "name": "Lee Chen",
            "contact": {"phone": "+1 512 555 0199"},
            "injured": True,
        },
    ],
    "vehicles": [
        {"policy_unit": 0, "damage": "Rear bumper and trunk lid"},
        {
            "description": "Blue 2019 Honda Civic, TX plate ABC1234",
            "owner_party": 1,
            "damage": "Front bumper",
        },
    ],
}


class ClaimCreate(_In):
    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={"example": CLAIM_CREATE_EXAMPLE},
    )

    policy_id: uuid.UUID
    loss_at: Moment = Field(description="When the loss happened, with its UTC offset.")
    time_zone: TimeZone = Field(
        description="IANA zone of the loss location, kept as given; loss_on is loss_at's day "
        "in the policy's zone, and a claim whose day differs in this zone is flagged."
    )
    cause_code: str = Field(
        pattern=r"^[a-z][a-z0-9_]{0,49}$",
        description="One of the product's causes of loss (the version in force on loss_on).",
    )
    location: LossLocation
    description: str = Field(min_length=1, max_length=5000)
    parties: list[PartyIn] = Field(default_factory=list, max_length=20)
    vehicles: list[VehicleIn] = Field(default_factory=list, max_length=10)
    property: list[PropertyIn] = Field(default_factory=list, max_length=10)


CLAIM_FILED_EXAMPLE: dict[str, Any] = {
    "id": "5d1f0c8e-2b7a-4c61-9f0e-3a4b5c6d7e8f",
    "number": "PAC-2026-100001",
    "policy_id": "0b3c9d4e-3f0c-4b8e-9a41-2c7de0f1a2b3",
    "customer_id": "6a0b9d4e-3f0c-5b8e-9a41-2c7de0f1a2b3",
    "product_code": "personal_auto",
    "state": "TX",
    "policy_transaction_id": "7c2e1f3a-9b8d-4e6f-a5c4-b3d2e1f0a9b8",
    "loss_at": "2026-12-20T14:15:00Z",
    "loss_on": "2026-12-20",
    "loss_time_zone": "America/Chicago",
    "cause_code": "collision",
    "location": {"line1": "Congress Ave & 6th St", "city": "Austin", "state": "TX",
                 "postal_code": "78701", "latitude": "30.2686", "longitude": "-97.7428"},
    "description": "Rear-ended at a red light; rear bumper and trunk lid damaged.",
    "reported_at": "2026-12-20T16:02:11Z",
    "reported_via": "agent",
    "coverage_status": "flagged",
    "coverage_findings": [
        {"code": "policy.coverage_missing",
         "message": "A loss by collision is paid under collision, medpay; the policy had none "
                    "of them on 2026-12-20."}
    ],
    "fraud_indicators": [
        {"code": "loss_soon_after_inception",
         "reason": "The loss on 2026-12-20 is 12 day(s) after the policy's inception on "
                   "2026-12-08 (threshold 30)."}
    ],
    "status": "open",
    "adjuster_id": "1e2d3c4b-5a69-4788-9a0b-c1d2e3f4a5b6",
    "parties": [
        {"id": "2f3e4d5c-6b7a-4989-8a0b-1c2d3e4f5a6b", "role": "driver", "name": "Maria Garcia",
         "injured": False, "customer_id": None, "contact": None, "contact_masked": True}
    ],
    "involved": [
        {"id": "3a4b5c6d-7e8f-4a0b-9c1d-2e3f4a5b6c7d", "kind": "vehicle", "policy_unit": 0,
         "owner_party_id": None, "description": "Insured vehicle 0 (model year 2022)",
         "damage": "Rear bumper and trunk lid"}
    ],
    "version": 2,
}  # fmt: skip

ATTACHMENT_EXAMPLE: dict[str, Any] = {
    "id": "4b5c6d7e-8f9a-4b0c-8d1e-2f3a4b5c6d7e",
    "claim_id": "5d1f0c8e-2b7a-4c61-9f0e-3a4b5c6d7e8f",
    "filename": "rear-bumper.jpg",
    "media_type": "image/jpeg",
    "size": 482113,
    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "description": "Rear bumper, driver's side",
    "uploaded_by": "1e2d3c4b-5a69-4788-9a0b-c1d2e3f4a5b6",
    "uploaded_at": "2026-12-20T16:10:00Z",
}


class FindingRead(BaseModel):
    model_config = ConfigDict(frozen=True)
    code: str = Field(examples=["policy.cancelled"])
    message: str


class FraudIndicatorRead(BaseModel):
    model_config = ConfigDict(frozen=True)
    code: Literal[
        "loss_soon_after_inception",
        "loss_soon_after_coverage_increase",
        "several_recent_claims",
        "loss_shortly_before_cancellation",
    ]
    reason: str


class ContactRead(BaseModel):
    model_config = ConfigDict(frozen=True)
    phone: str | None = None
    email: str | None = None
    address: dict[str, Any] | None = None


class PartyRead(BaseModel):
    model_config = ConfigDict(frozen=True)
    id: uuid.UUID
    role: PartyRole
    name: str
    injured: bool
    customer_id: uuid.UUID | None = Field(description="Set when the party is our customer.")
    contact: ContactRead | None = Field(
        description="Phone, e-mail, address: shown to pii:read and to the policyholder; null "
        "(masked) otherwise."
    )
    contact_masked: bool = Field(description="A contact is on file but not shown to you.")


class InvolvedRead(BaseModel):
    model_config = ConfigDict(frozen=True)
    id: uuid.UUID
    kind: InvolvedKind
    policy_unit: int | None = Field(description="The insured vehicle's index on the policy.")
    owner_party_id: uuid.UUID | None
    description: str
    damage: str


class ClaimFiled(BaseModel):
    """The claim as first notice of loss recorded it: its number, the coverage check and the
    fraud indicators (both staff only: null for the policyholder and agents), who is involved.
    The claim's detailed read is ``GET /api/v1/claims/{id}``."""

    model_config = ConfigDict(frozen=True, json_schema_extra={"example": CLAIM_FILED_EXAMPLE})

    id: uuid.UUID
    number: str = Field(examples=["PAC-2026-100001"], description="<prefix>-<year>-<serial>")
    policy_id: uuid.UUID
    customer_id: uuid.UUID
    product_code: str
    state: str
    policy_transaction_id: uuid.UUID | None = Field(
        description="The policy transaction in force on the loss date, as known at filing."
    )
    loss_at: datetime
    loss_on: date = Field(
        description="loss_at's day in the policy's zone (the product's claims.time_zone): what "
        "cover is checked on."
    )
    loss_time_zone: str = Field(description="The zone the reporter gave for the loss location.")
    cause_code: str
    location: dict[str, Any]
    description: str
    reported_at: datetime
    reported_via: ReportedVia = Field(description="Who filed: from the login, not the request.")
    coverage_status: CoverageStatus
    coverage_findings: list[FindingRead] | None = Field(
        description="Why cover is in doubt (empty when verified). Staff only."
    )
    fraud_indicators: list[FraudIndicatorRead] | None = Field(
        description="Explainable flags for a person to weigh, never a decision. Staff only."
    )
    status: ClaimStatus = Field(description="reported, or open when an adjuster was assigned.")
    adjuster_id: uuid.UUID | None
    parties: list[PartyRead]
    involved: list[InvolvedRead]
    version: int = Field(description="The claim's ETag value, for If-Match.")


class AttachmentRead(BaseModel):
    model_config = ConfigDict(frozen=True, json_schema_extra={"example": ATTACHMENT_EXAMPLE})
    id: uuid.UUID
    claim_id: uuid.UUID
    filename: str
    media_type: str = Field(description="Read from the file's bytes, not the client's claim.")
    size: int
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    description: str
    uploaded_by: str
    uploaded_at: datetime


class AttachmentPage(BaseModel):
    model_config = ConfigDict(frozen=True)
    items: list[AttachmentRead]
    next_cursor: str | None
