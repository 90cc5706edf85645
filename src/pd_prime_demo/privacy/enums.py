"""The privacy domain's vocabularies: consent purposes and sources, data subject request kinds,
regimes, states and channels."""

from __future__ import annotations

import enum


class Purpose(enum.StrEnum):
    """What a person may consent to, or opt out of, beyond running their insurance contract
    (which needs no consent: GDPR Art. 6(1)(b))."""

    MARKETING_EMAIL = "marketing_email"  # ePrivacy Art. 13, GDPR Art. 6(1)(a)
    MARKETING_PHONE = "marketing_phone"  # calls and SMS (TCPA prior express consent too)
    SALE_SHARING = "sale_sharing"  # CCPA 1798.120: sale or sharing for cross-context ads
    SENSITIVE_PI_USE = "sensitive_pi_use"  # CCPA 1798.121: beyond what the service needs
    TELEMATICS = "telematics"  # driving-behaviour data for usage-based pricing
    PROFILING = "profiling"  # analytics and profiling on legitimate interests (Art. 21(1))


class Source(enum.StrEnum):
    """Where a consent record came from (Art. 7(1): the controller demonstrates how)."""

    PORTAL = "portal"  # the person, signed in
    AGENT = "agent"  # staff, on the person's instruction
    API = "api"  # a client application acting for the person
    DSR = "dsr"  # the fulfilment of a data subject request (objection, opt-out, restriction)


class RequestKind(enum.StrEnum):
    ACCESS = "access"  # GDPR Art. 15, CCPA 1798.110
    PORTABILITY = "portability"  # GDPR Art. 20
    RECTIFICATION = "rectification"  # GDPR Art. 16, CCPA 1798.106
    RESTRICTION = "restriction"  # GDPR Art. 18
    OBJECTION = "objection"  # GDPR Art. 21
    OPT_OUT = "opt_out"  # CCPA 1798.120 opt-out of sale or sharing
    ERASURE = "erasure"  # GDPR Art. 17, CCPA 1798.105


class Regime(enum.StrEnum):
    GDPR = "gdpr"
    CCPA = "ccpa"


class RequestStatus(enum.StrEnum):
    RECEIVED = "received"
    VERIFIED = "verified"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    REJECTED = "rejected"


class Channel(enum.StrEnum):
    """How a request arrived, which decides how the requester's identity is verified."""

    SELF = "self"  # a signed-in customer for themself: verified by their login
    STAFF = "staff"  # taken by staff: a code to the address on file
    INTAKE = "intake"  # the public form: a code to the address on file
