"""TOTP and WebAuthn credentials, recovery codes, password-reset and e-mail verification tokens."""

from __future__ import annotations
