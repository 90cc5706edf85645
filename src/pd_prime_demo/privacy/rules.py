"""Pure rules of data subject requests: deadlines, the state machine, what each kind does to the
consent ledger. No I/O."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

from pd_prime_demo.privacy.enums import Purpose, Regime, RequestKind, RequestStatus

# CCPA 1798.130(a)(2): 45 calendar days from receipt, extendable once by 45 more when
# reasonably necessary, with notice to the consumer within the first 45 days.
CCPA_DAYS = 45
CCPA_EXTENSION_DAYS = 45
# GDPR Art. 12(3): one month from receipt, extendable by two further months where necessary,
# taking into account the complexity and number of requests.
GDPR_MONTHS = 1
GDPR_EXTENSION_MONTHS = 2

OPEN_STATUSES = frozenset(
    {RequestStatus.RECEIVED, RequestStatus.VERIFIED, RequestStatus.IN_PROGRESS}
)
CLOSED_STATUSES = frozenset({RequestStatus.COMPLETED, RequestStatus.REJECTED})

_TRANSITIONS: dict[RequestStatus, frozenset[RequestStatus]] = {
    RequestStatus.RECEIVED: frozenset({RequestStatus.VERIFIED, RequestStatus.REJECTED}),
    RequestStatus.VERIFIED: frozenset({RequestStatus.IN_PROGRESS, RequestStatus.REJECTED}),
    RequestStatus.IN_PROGRESS: frozenset({RequestStatus.COMPLETED, RequestStatus.REJECTED}),
    RequestStatus.COMPLETED: frozenset(),
    RequestStatus.REJECTED: frozenset(),
}

# What objection, opt-out and restriction withdraw in the consent ledger.
# Art. 21(2)-(3): an objection to direct marketing is absolute; Art. 21(1) covers processing on
# legitimate interests (profiling). CCPA 1798.120 is sale/sharing, and a request to limit
# sensitive PI (1798.121) travels with it on our form. Art. 18: while restricted, nothing but
# storage (and legal claims) happens, so every optional purpose stops.
WITHDRAWN_BY: dict[RequestKind, tuple[Purpose, ...]] = {
    RequestKind.OBJECTION: (Purpose.MARKETING_EMAIL, Purpose.MARKETING_PHONE, Purpose.PROFILING),
    RequestKind.OPT_OUT: (Purpose.SALE_SHARING, Purpose.SENSITIVE_PI_USE),
    RequestKind.RESTRICTION: tuple(Purpose),
}

# Which kinds each regime knows: portability, restriction and objection are GDPR rights;
# opt-out of sale/sharing is CCPA's.
KINDS_BY_REGIME: dict[Regime, frozenset[RequestKind]] = {
    Regime.GDPR: frozenset(RequestKind) - {RequestKind.OPT_OUT},
    Regime.CCPA: frozenset(
        {
            RequestKind.ACCESS,
            RequestKind.PORTABILITY,  # 1798.130(a)(2)(B): a portable, readily usable format
            RequestKind.RECTIFICATION,
            RequestKind.OPT_OUT,
            RequestKind.ERASURE,
        }
    ),
}


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, or that month's last day when it has no such day
    (Regulation 1182/71 Art. 3(2)(c): a period in months ends on the last day of the month when
    the corresponding day does not exist): 31 Jan + 1 month = 28 Feb (29 in a leap year)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def due_on(regime: Regime, received_on: date, *, extended: bool = False) -> date:
    """The last day to answer a request received on ``received_on``."""
    if regime is Regime.GDPR:
        months = GDPR_MONTHS + (GDPR_EXTENSION_MONTHS if extended else 0)
        return add_months(received_on, months)
    return received_on + timedelta(days=CCPA_DAYS + (CCPA_EXTENSION_DAYS if extended else 0))


def may_transition(current: RequestStatus, target: RequestStatus) -> bool:
    return target in _TRANSITIONS[current]


@dataclass(frozen=True, slots=True)
class ExtensionRefusal:
    code: str
    detail: str


def extension_refusal(
    *, status: RequestStatus, already_extended: bool, original_due_on: date, today: date
) -> ExtensionRefusal | None:
    """Why a request may not be extended now, or None: once only, while open, and before the
    first period ends (Art. 12(3): the person is told within one month; CCPA: within 45 days)."""
    if status in CLOSED_STATUSES:
        return ExtensionRefusal("privacy.request_closed", "the request is already closed")
    if already_extended:
        return ExtensionRefusal("privacy.already_extended", "a request is extended once only")
    if today > original_due_on:
        return ExtensionRefusal(
            "privacy.extension_too_late",
            "an extension must be notified before the first deadline passes",
        )
    return None
