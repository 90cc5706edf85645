"""The parts of the product format that documents print and rating never reads: the forms a
policy is made of, and the descriptive schedule (a vehicle's make and VIN, a driver's name).
Re-exported by :mod:`~pd_prime_demo.rating.definition`, where the whole format is read."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from pd_prime_demo.rating.definition_base import Code
from pd_prime_demo.rating.definition_base import Def as _Def


class Form(_Def):
    """A policy form or endorsement the declarations list (and the policy is made of)."""

    number: Annotated[str, Field(min_length=1, max_length=30)] = Field(
        description="The form number as filed, e.g. 'PP 00 01'."
    )
    edition: Annotated[str, Field(min_length=1, max_length=10)] = Field(
        description="The edition date as printed, e.g. '09 18'."
    )
    title: Annotated[str, Field(min_length=1, max_length=120)]
    coverages: list[Code] = Field(
        default_factory=list,
        description="Attached when one of these coverages is on the policy; empty: always.",
    )


class ScheduleField(_Def):
    """A descriptive fact of a unit or the policy (a vehicle's make or VIN, a driver's name):
    printed on documents, never used in rating."""

    name: Code
    label: str
    required: bool = Field(default=False, description="Needed to quote and bind.")
    max_length: int = Field(default=60, ge=1, le=200)
    pattern: str | None = Field(default=None, description="A regular expression it must match.")


class Schedule(_Def):
    policy: list[ScheduleField] = Field(default_factory=list)
    driver: list[ScheduleField] = Field(default_factory=list)
    vehicle: list[ScheduleField] = Field(default_factory=list)
