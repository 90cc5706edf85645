"""Field encryption, token signing keys and password hashing.

Nothing here is a hand-rolled primitive: AES-256-GCM comes from ``cryptography``, ES256 and
RS256 JWS from ``joserfc``, argon2id from ``argon2-cffi``. What this module adds is key
management: key rings with key ids, so that keys can rotate while old ciphertexts and tokens
stay readable.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from types import MappingProxyType
from typing import Any

import structlog
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, Key, KeyParameters, KeySet, RSAKey

from pd_prime_demo.core import clock

log = structlog.get_logger(__name__)

_ENVELOPE_VERSION = "v1"
_NONCE_BYTES = 12


class DecryptionError(Exception):
    """A ciphertext could not be opened: wrong key, wrong context, or tampered."""


def _b64e(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class FieldCipher:
    """AES-256-GCM per-field encryption with a rotating key ring.

    Envelope: ``v1.<kid>.<base64url(nonce || ciphertext+tag)>``. The *context* (for example
    ``customers.ssn:<id>``) is bound as associated data, so a ciphertext copied into another
    column or row fails to decrypt instead of silently revealing the wrong value.
    """

    def __init__(self, keys: Mapping[str, bytes], active_kid: str) -> None:
        if active_kid not in keys:
            raise ValueError(f"active PII key id {active_kid!r} is not in the key ring")
        for kid, key in keys.items():
            if len(key) != 32:
                raise ValueError(f"PII key {kid!r} must be 256 bits")
            if "." in kid:
                raise ValueError("key ids may not contain '.'")
        self._aead = {kid: AESGCM(key) for kid, key in keys.items()}
        self.active_kid = active_kid
        # A separate subkey for keyed fingerprints, so that no key serves two purposes.
        self._fingerprint_key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"pd-prime fingerprint v1"
        ).derive(keys[active_kid])

    def encrypt(self, plaintext: str, *, context: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead[self.active_kid].encrypt(
            nonce, plaintext.encode("utf-8"), context.encode("utf-8")
        )
        return f"{_ENVELOPE_VERSION}.{self.active_kid}.{_b64e(nonce + sealed)}"

    def decrypt(self, envelope: str, *, context: str) -> str:
        try:
            version, kid, payload = envelope.split(".", 2)
        except ValueError as exc:
            raise DecryptionError("malformed envelope") from exc
        if version != _ENVELOPE_VERSION or kid not in self._aead:
            raise DecryptionError(f"unknown envelope version or key id {kid!r}")
        raw = _b64d(payload)
        try:
            plain = self._aead[kid].decrypt(
                raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context.encode("utf-8")
            )
        except InvalidTag as exc:
            raise DecryptionError("ciphertext failed authentication") from exc
        return plain.decode("utf-8")

    def fingerprint(self, data: bytes) -> str:
        """HMAC-SHA256 of ``data``: comparable, but not brute-forceable without the key."""
        return hmac.new(self._fingerprint_key, data, hashlib.sha256).hexdigest()

    def key_id_of(self, envelope: str) -> str:
        return envelope.split(".", 2)[1]

    def needs_rotation(self, envelope: str) -> bool:
        return self.key_id_of(envelope) != self.active_kid


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    header: Mapping[str, Any]
    claims: Mapping[str, Any]


VERIFIED_TOKEN_CACHE_SIZE = 8192


ES256 = "ES256"
RS256 = "RS256"
# RSA keys below this size are refused (NIST SP 800-57: 2048 bits until 2030; 3072 generated).
RSA_MIN_BITS = 2048
RSA_GENERATED_BITS = 3072


class _KeyRing:
    """One algorithm's keys: the active one signs; it and the retired ones not yet past their
    retirement time are published and verify (docs/oauth.md, "Signing keys and rotation")."""

    def __init__(
        self,
        algorithm: str,
        pem_keys: Mapping[str, str],
        active_kid: str,
        retire_at: Mapping[str, datetime] | None,
        *,
        label: str,
    ) -> None:
        if active_kid not in pem_keys:
            raise ValueError(f"active {label} key id {active_kid!r} is not in the key ring")
        self.retire_at = dict(retire_at or {})
        if active_kid in self.retire_at:
            raise ValueError(f"the active {label} key id {active_kid!r} cannot be retired")
        if unknown := sorted(set(self.retire_at) - set(pem_keys)):
            raise ValueError(f"retired {label} key ids not in the key ring: {unknown}")
        self.keys = {kid: self._import(algorithm, kid, pem, label) for kid, pem in pem_keys.items()}
        self.algorithm = algorithm
        self.active_kid = active_kid
        self.keyset = KeySet(list(self.keys.values()))

    @staticmethod
    def _import(algorithm: str, kid: str, pem: str, label: str) -> Key:
        params: KeyParameters = {"kid": kid, "use": "sig", "alg": algorithm}
        try:
            key: Key = (RSAKey if algorithm == RS256 else ECKey).import_key(pem, params)
        except (JoseError, ValueError) as exc:
            raise ValueError(f"{label} key {kid!r} is not a {algorithm} private key") from exc
        if isinstance(key, RSAKey) and key.raw_value.key_size < RSA_MIN_BITS:
            raise ValueError(f"{label} key {kid!r} is under {RSA_MIN_BITS} bits")
        return key

    def sign(self, claims: dict[str, Any], typ: str) -> str:
        header = {"alg": self.algorithm, "kid": self.active_kid, "typ": typ}
        key = self.keys[self.active_kid]
        return jwt.encode(header, claims, key, algorithms=[self.algorithm])

    def retired(self, kid: str) -> bool:
        until = self.retire_at.get(kid)
        return until is not None and until <= clock.now()

    def live_keys(self) -> list[Key]:
        return [key for kid, key in self.keys.items() if not self.retired(kid)]


class TokenSigner:
    """ES256 JWS signing with a key ring; the ``kid`` header picks the verification key.

    Rotation: a new key becomes active and signs; the previous one gets a retirement time
    (``retire_at``) at least the longest token lifetime later. Until then it is published in
    the JWKS and verifies the tokens it signed; from then on it is neither (docs/oauth.md).

    An optional RSA ring (``rsa_keys``, rotated the same way) signs RS256 ID tokens and
    nothing else: OpenID Connect Core §15.1 asks a provider for RS256. Its keys are published
    beside the EC ones but never verify anything here: ``verify`` knows only the EC ring and
    only ES256, so no RS256 token, nor an HS256 one keyed with an RSA public key, can ever
    pass as an access token (no algorithm confusion).
    """

    algorithm = ES256

    def __init__(
        self,
        pem_keys: Mapping[str, str],
        active_kid: str,
        retire_at: Mapping[str, datetime] | None = None,
        *,
        rsa_keys: Mapping[str, str] | None = None,
        rsa_active_kid: str | None = None,
        rsa_retire_at: Mapping[str, datetime] | None = None,
    ) -> None:
        self._ec = _KeyRing(ES256, pem_keys, active_kid, retire_at, label="JWT")
        self._rsa: _KeyRing | None = None
        if rsa_keys:
            rsa_kid = rsa_active_kid or next(iter(rsa_keys))
            self._rsa = _KeyRing(RS256, rsa_keys, rsa_kid, rsa_retire_at, label="OIDC RSA")
            if shared := sorted(set(rsa_keys) & set(pem_keys)):
                raise ValueError(f"key ids in both the EC and the RSA key ring: {shared}")
        elif rsa_retire_at:
            raise ValueError("RSA key retirement times without an RSA key ring")
        self._keyset = self._ec.keyset
        self.active_kid = active_kid
        # Bounded: a flood of distinct (forged) tokens only evicts, it cannot grow memory.
        self._verify_cached = lru_cache(maxsize=VERIFIED_TOKEN_CACHE_SIZE)(self._verify)

    @property
    def id_token_algorithms(self) -> tuple[str, ...]:
        """What ID tokens can be signed with: RS256 (first) only with an RSA key ring."""
        return (RS256, ES256) if self._rsa is not None else (ES256,)

    @property
    def rsa_active_kid(self) -> str | None:
        return self._rsa.active_kid if self._rsa is not None else None

    def sign(self, claims: dict[str, Any], *, typ: str = "at+jwt") -> str:
        """Access tokens are ``at+jwt`` (RFC 9068 §2.1); ID tokens and other signed values
        carry another ``typ``, so that none of them is ever accepted as an access token."""
        return self._ec.sign(claims, typ)

    def sign_id_token(self, claims: dict[str, Any], *, algorithm: str) -> str:
        """An ID token (``typ`` JWT) signed with ``algorithm``, one of ``id_token_algorithms``."""
        if algorithm == RS256 and self._rsa is not None:
            return self._rsa.sign(claims, "JWT")
        if algorithm == ES256:
            return self._ec.sign(claims, "JWT")
        raise ValueError(f"no key signs ID tokens with {algorithm!r}")

    def verify(self, token: str) -> VerifiedToken | None:
        """The token's header and claims when its ES256 signature by the EC ring is valid.

        Claim checks (exp, aud, iss) are the caller's: they are policy, not cryptography, and
        they change with time while a signature's validity does not. That is why the outcome
        of verifying a given string is cached (an ECDSA verification is a third of a simple
        request's CPU): the key ring is fixed for the signer's life, so a cached answer can
        never disagree with a fresh one.
        """
        verified = self._verify_cached(token)
        if verified is None or self._ec.retired(str(verified.header.get("kid"))):
            return None
        return verified

    def _verify(self, token: str) -> VerifiedToken | None:
        try:
            decoded = jwt.decode(token, self._keyset, algorithms=[ES256])
        except (JoseError, ValueError, KeyError, TypeError):
            return None
        return VerifiedToken(
            header=MappingProxyType(dict(decoded.header)),
            claims=MappingProxyType(dict(decoded.claims)),
        )

    def public_jwks(self) -> dict[str, Any]:
        """Every live key (active, or retired but not yet past it): EC first, then RSA."""
        live = self._ec.live_keys() + (self._rsa.live_keys() if self._rsa is not None else [])
        return dict(KeySet(live).as_dict(private=False))


class PasswordHashing:
    """argon2id with configurable cost; verification never raises on a bad hash."""

    def __init__(self, *, time_cost: int, memory_cost_kib: int, parallelism: int) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_cost_kib,
            parallelism=parallelism,
            type=Type.ID,
        )
        # Verified against when the account does not exist, so that response time does not
        # reveal which e-mail addresses are registered.
        self._dummy = self._hasher.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(stored_hash or self._dummy, password) and bool(stored_hash)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        return self._hasher.check_needs_rehash(stored_hash)
