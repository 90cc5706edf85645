"""API models of a user's own account: password, e-mail, MFA and sessions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field
from pydantic.config import JsonDict


class _In(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)


_SECRET: JsonDict = {"writeOnly": True}


class PasswordChange(_In):
    current_password: str = Field(min_length=1, max_length=256, json_schema_extra=_SECRET)
    new_password: str = Field(min_length=1, max_length=256, json_schema_extra=_SECRET)


class PasswordChanged(_Out):
    other_sessions_ended: int


class PasswordResetRequest(_In):
    email: EmailStr


class PasswordReset(_In):
    token: str = Field(min_length=20, max_length=200)
    new_password: str = Field(min_length=1, max_length=256, json_schema_extra=_SECRET)


class LinkToken(_In):
    token: str = Field(min_length=20, max_length=200)


class EmailChange(_In):
    new_email: EmailStr
    current_password: str = Field(min_length=1, max_length=256, json_schema_extra=_SECRET)


class Accepted(_Out):
    status: Literal["accepted"] = "accepted"
    detail: str


class SessionRead(_Out):
    id: uuid.UUID
    created_at: datetime
    expires_at: datetime
    last_active_at: datetime | None
    method: str
    current: bool = False


class SessionList(_Out):
    items: list[SessionRead]
    next_cursor: str | None = None


class MfaTokenBody(_In):
    mfa_token: str = Field(min_length=20, max_length=200)


class TotpCode(_In):
    otp: str = Field(min_length=6, max_length=10, pattern=r"^[0-9 ]+$")


class MfaEnrolmentConfirmation(_In):
    mfa_token: str = Field(min_length=20, max_length=200)
    otp: str = Field(min_length=6, max_length=10, pattern=r"^[0-9 ]+$")


class TotpEnrolmentRead(_Out):
    secret: str = Field(description="Base32, for typing into an authenticator app.")
    otpauth_uri: str = Field(description="The provisioning URI (Key Uri Format).")
    qr_svg: str = Field(description="The URI as a QR code: an SVG data: URI.")


class RecoveryCodes(_Out):
    recovery_codes: list[str] = Field(description="Shown only here: each works once.")


class EnrolledAndSignedIn(RecoveryCodes):
    """Enrolment through an ``mfa_token``: the recovery codes and the login's tokens."""

    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105
    expires_in: int
    refresh_token: str


class MfaStatus(_Out):
    methods: list[str]
    required: bool


class MfaReset(_Out):
    user_id: uuid.UUID
    credentials_removed: int
    sessions_ended: int


class WebauthnOptions(_Out):
    """For ``navigator.credentials.create/get({publicKey: options})`` (its JSON form: byte
    strings are base64url, as ``PublicKeyCredential.parseCreationOptionsFromJSON`` reads)."""

    options: dict[str, Any]


class PasskeyRegistration(_In):
    name: str = Field(default="passkey", min_length=1, max_length=100)
    credential: dict[str, Any] = Field(
        description="The authenticator's answer: PublicKeyCredential.toJSON() of create()."
    )


class PasskeyRegistered(_Out):
    id: uuid.UUID
    name: str
    created_at: datetime
    recovery_codes: list[str] = Field(
        description="New one-time codes when this is your first second factor (else empty)."
    )


class MfaTokenOnly(_In):
    mfa_token: str = Field(min_length=20, max_length=200)


class PasskeyAssertion(_In):
    mfa_token: str = Field(min_length=20, max_length=200)
    credential: dict[str, Any] = Field(
        description="The authenticator's answer: PublicKeyCredential.toJSON() of get()."
    )


class SignedIn(_Out):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105
    expires_in: int
    refresh_token: str
