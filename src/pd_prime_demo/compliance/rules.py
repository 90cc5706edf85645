"""The pure rules of the controls framework: the period a frequency's run belongs to (and so
whether a control is due), the run chain's hash, and how an auditor's sample is drawn."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

GENESIS_HASH = "0" * 64


class Artefact(Protocol):
    """What the manifest reads of an artefact (``control.Evidence``)."""

    @property
    def name(self) -> str: ...
    @property
    def media_type(self) -> str: ...
    @property
    def content(self) -> bytes: ...


# An artefact's name is a file name inside the auditor's archive (evidence/<run>/<name>):
# no directories, no "..", nothing a zip tool would interpret.
_EVIDENCE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,119}$")


@dataclass(frozen=True, slots=True)
class Period:
    """A half-open interval of UTC time, ``start <= t < end``."""

    start: datetime
    end: datetime

    def __contains__(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


def _month_start(year: int, month: int) -> datetime:
    # Months past December roll into the next year, so callers can add to ``month`` freely.
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return datetime(year, month, 1, tzinfo=UTC)


def period_of(frequency: str, moment: datetime) -> Period:
    """The period of ``frequency`` that holds ``moment``: the UTC day, the ISO week (Monday to
    Monday), the calendar month, quarter or year. A control operates once per period.

    ``frequency`` is a ``control.Frequency``, a StrEnum, matched here by value: the rules and
    the control types are independent modules of one layer (.importlinter)."""
    at = moment.astimezone(UTC)
    day = datetime(at.year, at.month, at.day, tzinfo=UTC)
    match frequency:
        case "daily":
            return Period(day, day + timedelta(days=1))
        case "weekly":
            monday = day - timedelta(days=at.weekday())
            return Period(monday, monday + timedelta(days=7))
        case "monthly":
            return Period(_month_start(at.year, at.month), _month_start(at.year, at.month + 1))
        case "quarterly":
            first = (at.month - 1) // 3 * 3 + 1
            return Period(_month_start(at.year, first), _month_start(at.year, first + 3))
        case "annually":
            return Period(_month_start(at.year, 1), _month_start(at.year + 1, 1))
        case _:
            raise ValueError(f"unknown frequency {frequency!r}")


def is_due(frequency: str, last_started_at: datetime | None, now: datetime) -> bool:
    """A control is due when it has not run in its current period (the job runs hourly, so a
    missed hour or a stopped worker catches up on the next run, never runs a period twice)."""
    return last_started_at is None or last_started_at < period_of(frequency, now).start


def evidence_name_ok(name: str) -> bool:
    return _EVIDENCE_NAME.fullmatch(name) is not None and ".." not in name


def manifest_of(evidence: Sequence[Artefact]) -> list[dict[str, Any]]:
    """The run's evidence manifest: what each artefact is, its size and SHA-256."""
    return [
        {
            "name": item.name,
            "media_type": item.media_type,
            "size": len(item.content),
            "sha256": hashlib.sha256(item.content).hexdigest(),
        }
        for item in evidence
    ]


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def canonical(document: Any) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


@dataclass(frozen=True, slots=True)
class RunContent:
    """What a run's hash covers: everything recorded about it but its id and its own hash."""

    control_id: str
    criteria: tuple[str, ...]
    frequency: str
    started_at: datetime
    finished_at: datetime
    covers_from: datetime
    covers_to: datetime
    passed: bool
    reason: str
    figures: dict[str, Any]
    evidence: tuple[dict[str, Any], ...]


def run_hash(prev_hash: str, content: RunContent) -> str:
    """SHA-256 over a canonical JSON of the run and the previous run's hash (as the audit
    chain's entries): changing, removing or reordering a run breaks every later link."""
    document = {
        "prev_hash": prev_hash,
        "control_id": content.control_id,
        "criteria": list(content.criteria),
        "frequency": content.frequency,
        "started_at": _instant(content.started_at),
        "finished_at": _instant(content.finished_at),
        "covers_from": _instant(content.covers_from),
        "covers_to": _instant(content.covers_to),
        "passed": content.passed,
        "reason": content.reason,
        "figures": content.figures,
        "evidence": list(content.evidence),
    }
    return hashlib.sha256(canonical(document).encode("ascii")).hexdigest()


# --- the auditor's sample -----------------------------------------------------------------

SAMPLING_METHOD = (
    "per control: rank its runs in the period by SHA-256(seed + ':' + run hash) as lowercase "
    "hex, ascending, and take the first n (n by the control's frequency; all when n exceeds "
    "the population)"
)


def sample_rank(seed: str, run_hash_hex: str) -> str:
    return hashlib.sha256(f"{seed}:{run_hash_hex}".encode("ascii")).hexdigest()


def draw_sample(seed: str, population: Iterable[tuple[int, str]], size: int | None) -> list[int]:
    """The ids of the sample of ``population`` ((id, run hash) pairs): deterministic from the
    seed, so the auditor can redraw it from the manifest alone; None takes every run (the
    quarterly and annual controls, whose populations are tested in full)."""
    ranked = sorted(population, key=lambda item: (sample_rank(seed, item[1]), item[0]))
    chosen = ranked if size is None else ranked[:size]
    return sorted(run_id for run_id, _ in chosen)
