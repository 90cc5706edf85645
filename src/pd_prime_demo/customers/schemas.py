"""Customer API models. Unknown fields are rejected; PII is masked on the way out."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    model_validator,
)

from pd_prime_demo.core import clock
from pd_prime_demo.core.dates import CalendarDate
from pd_prime_demo.customers.rules import normalise_ssn

US_STATES = frozenset(
    [
        "AL",
        "AK",
        "AZ",
        "AR",
        "CA",
        "CO",
        "CT",
        "DE",
        "DC",
        "FL",
        "GA",
        "HI",
        "ID",
        "IL",
        "IN",
        "IA",
        "KS",
        "KY",
        "LA",
        "ME",
        "MD",
        "MA",
        "MI",
        "MN",
        "MS",
        "MO",
        "MT",
        "NE",
        "NV",
        "NH",
        "NJ",
        "NM",
        "NY",
        "NC",
        "ND",
        "OH",
        "OK",
        "OR",
        "PA",
        "RI",
        "SC",
        "SD",
        "TN",
        "TX",
        "UT",
        "VT",
        "VA",
        "WA",
        "WV",
        "WI",
        "WY",
        "PR",
        "VI",
        "GU",
        "AS",
        "MP",
    ]
)


def _state(value: str) -> str:
    if value not in US_STATES:
        raise ValueError("must be a US state or territory code such as 'TX'")
    return value


def _ssn(value: str) -> str:
    normalised = normalise_ssn(value)
    if normalised is None:
        raise ValueError("must be a valid SSN such as 123-45-6789")
    return normalised


def _birth_date(value: date) -> date:
    today = clock.today()
    if value > today:
        raise ValueError("must not be in the future")
    if today.year - value.year > 130:
        raise ValueError("must be within the last 130 years")
    return value


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
StateCode = Annotated[
    str, StringConstraints(to_upper=True, min_length=2, max_length=2), AfterValidator(_state)
]
Phone = Annotated[str, StringConstraints(pattern=r"^\+?[0-9 ().-]{7,20}$")]
Ssn = Annotated[str, AfterValidator(_ssn)]
BirthDate = Annotated[CalendarDate, AfterValidator(_birth_date)]
LicenceNumber = Annotated[
    str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Z0-9-]{4,20}$")
]


class _In(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Address(_In):
    line1: str = Field(min_length=1, max_length=200)
    line2: str | None = Field(default=None, max_length=200)
    city: str = Field(min_length=1, max_length=100)
    state: StateCode
    postal_code: str = Field(pattern=r"^\d{5}(-\d{4})?$")
    country: Literal["US"] = "US"


class PersonCreate(_In):
    kind: Literal["person"]
    first_name: Name
    last_name: Name
    email: EmailStr
    phone: Phone | None = None
    address: Address
    date_of_birth: BirthDate | None = None
    ssn: Ssn | None = Field(default=None, json_schema_extra={"writeOnly": True})
    drivers_license_number: LicenceNumber | None = None
    drivers_license_state: StateCode | None = None
    agent_id: uuid.UUID | None = Field(
        default=None, description="Servicing agent; agents always create into their own book."
    )

    @model_validator(mode="after")
    def _licence_has_state(self) -> PersonCreate:
        if (self.drivers_license_number is None) != (self.drivers_license_state is None):
            raise ValueError("drivers_license_number and drivers_license_state go together")
        return self


class OrganisationCreate(_In):
    kind: Literal["organisation"]
    organisation_name: str = Field(min_length=1, max_length=200)
    email: EmailStr
    phone: Phone | None = None
    address: Address
    agent_id: uuid.UUID | None = None


CustomerCreate = Annotated[PersonCreate | OrganisationCreate, Field(discriminator="kind")]

CUSTOMER_CREATE_EXAMPLE = {
    "kind": "person",
    "first_name": "Maria",
    "last_name": "Garcia",
    "email": "maria.garcia@example.com",
    "phone": "+1 512 555 0100",
    "address": {
        "line1": "100 Congress Ave",
        "city": "Austin",
        "state": "TX",
        "postal_code": "78701",
    },
    "date_of_birth": "1985-04-12",
    "ssn": "123-45-6789",
    "drivers_license_number": "TX12345678",
    "drivers_license_state": "TX",
}


class CustomerUpdate(_In):
    """Partial update: only the fields sent change; send null to clear an optional field."""

    first_name: Name | None = None
    last_name: Name | None = None
    organisation_name: str | None = Field(default=None, min_length=1, max_length=200)
    email: EmailStr | None = None
    phone: Phone | None = None
    address: Address | None = None
    date_of_birth: BirthDate | None = None
    ssn: Ssn | None = Field(default=None, json_schema_extra={"writeOnly": True})
    drivers_license_number: LicenceNumber | None = None
    drivers_license_state: StateCode | None = None
    agent_id: uuid.UUID | None = None

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={"example": {"phone": "+1 512 555 0199"}},
    )

    @model_validator(mode="after")
    def _required_not_cleared(self) -> CustomerUpdate:
        for name in ("first_name", "last_name", "organisation_name", "email", "address"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be cleared")
        return self


REGISTRATION_EXAMPLE: dict[str, Any] = {
    "email": "sam.rivera@example.com",
    "password": "a long passphrase of mine",
    "first_name": "Sam",
    "last_name": "Rivera",
    "address": {
        "line1": "1 Main St",
        "city": "Columbus",
        "state": "OH",
        "postal_code": "43004",
    },
}


class RegistrationCreate(_In):
    """A policyholder signing up: a login and their own customer record in one step."""

    email: EmailStr
    password: str = Field(min_length=1, max_length=256, json_schema_extra={"writeOnly": True})
    first_name: Name
    last_name: Name
    phone: Phone | None = None
    address: Address
    date_of_birth: BirthDate | None = None

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={"example": REGISTRATION_EXAMPLE},
    )


class AddressRead(BaseModel):
    model_config = ConfigDict(frozen=True)
    line1: str
    line2: str | None
    city: str
    state: str
    postal_code: str
    country: str


class CustomerRead(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: uuid.UUID
    kind: Literal["person", "organisation"]  # the values of enums.CustomerKind
    display_name: str
    first_name: str | None
    last_name: str | None
    organisation_name: str | None
    email: str
    phone: str | None
    address: AddressRead
    date_of_birth: str | None = Field(description="ISO date, or '****-**-**' when masked.")
    ssn: str | None = Field(description="Masked to the last four digits without pii:read.")
    drivers_license_number: str | None
    drivers_license_state: str | None
    agent_id: uuid.UUID | None
    user_id: uuid.UUID | None
    pii_masked: bool
    version: int
    created_at: datetime
    updated_at: datetime


class CustomerPage(BaseModel):
    model_config = ConfigDict(frozen=True)
    items: list[CustomerRead]
    next_cursor: str | None


class RegistrationAccepted(BaseModel):
    """The same answer whether or not the address already had an account (no enumeration):
    what happens next is said in the message sent to the address."""

    model_config = ConfigDict(frozen=True)
    status: Literal["check_your_email"] = "check_your_email"
    detail: str = (
        "We sent a message to this address: follow its link to finish signing up. "
        "The login works once the address is confirmed."
    )


class EmailChangeConfirmation(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    token: str = Field(min_length=20, max_length=200, description="The token of the link sent.")
