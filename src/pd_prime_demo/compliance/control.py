"""What a control is: the types the control catalogue (``compliance.controls``) is written in
and the runner (``compliance.service``) executes. Pure: no queries, no I/O of its own."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.core.config import Settings


class Frequency(enum.StrEnum):
    """How often a control operates, which is also how an auditor samples it."""

    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    ANNUALLY = "annually"


@dataclass(frozen=True, slots=True)
class Evidence:
    """One artefact a control run produced (its SHA-256 is taken by the runner)."""

    name: str  # a file name within the run's evidence ("routes.json")
    media_type: str  # "application/json", "text/csv", "text/plain"
    content: bytes


@dataclass(frozen=True, slots=True)
class Outcome:
    """A control's verdict on the period it examined.

    ``covers_from``/``covers_to`` is the time the evidence describes (the last day of backups,
    the week of security events), not when it was collected; ``reason`` says why it failed,
    or what it found when it passed, in words an auditor reads.
    """

    passed: bool
    reason: str
    covers_from: datetime
    covers_to: datetime
    evidence: tuple[Evidence, ...] = ()
    figures: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ControlContext:
    """What a control's test may use: the database (one transaction), the settings, the time
    of the run, and the application's routes (for the logical-access control)."""

    session: AsyncSession
    settings: Settings
    now: datetime
    routes: Sequence[Any] = ()


@dataclass(frozen=True, slots=True)
class Control:
    """A control as code: its Trust Services Criteria id (``CC6.1``), a description, a
    frequency, and the automated test that produces its outcome and evidence."""

    id: str  # a stable id, e.g. "CC6.1-logical-access"
    criteria: tuple[str, ...]  # Trust Services Criteria ids, e.g. ("CC6.1",)
    title: str
    description: str
    frequency: Frequency
    test: Callable[[ControlContext], Awaitable[Outcome]]
