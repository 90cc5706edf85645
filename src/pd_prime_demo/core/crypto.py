"""Field encryption, token signing keys and password hashing.

Nothing here is a hand-rolled primitive: AES-256-GCM comes from ``cryptography``, ES256 JWS from
``joserfc``, argon2id from ``argon2-cffi``. What this module adds is key management: key rings
with key ids, so that keys can rotate while old ciphertexts and tokens stay readable.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
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
from joserfc.jwk import ECKey, KeySet

from pd_prime_demo.core import clock
from pd_prime_demo.core.config import Environment, Settings

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


class TokenSigner:
    """ES256 JWS signing with a key ring; the ``kid`` header picks the verification key.

    Rotation: a new key becomes active and signs; the previous one gets a retirement time
    (``retire_at``) at least the longest token lifetime later. Until then it is published in
    the JWKS and verifies the tokens it signed; from then on it is neither (docs/oauth.md).
    """

    algorithm = "ES256"

    def __init__(
        self,
        pem_keys: Mapping[str, str],
        active_kid: str,
        retire_at: Mapping[str, datetime] | None = None,
    ) -> None:
        if active_kid not in pem_keys:
            raise ValueError(f"active JWT key id {active_kid!r} is not in the key ring")
        self._retire_at = dict(retire_at or {})
        if active_kid in self._retire_at:
            raise ValueError(f"the active JWT key id {active_kid!r} cannot be retired")
        if unknown := sorted(set(self._retire_at) - set(pem_keys)):
            raise ValueError(f"retired JWT key ids not in the key ring: {unknown}")
        self._keys = {
            kid: ECKey.import_key(pem, {"kid": kid, "use": "sig", "alg": self.algorithm})
            for kid, pem in pem_keys.items()
        }
        self._keyset = KeySet(list(self._keys.values()))
        self.active_kid = active_kid
        # Bounded: a flood of distinct (forged) tokens only evicts, it cannot grow memory.
        self._verify_cached = lru_cache(maxsize=VERIFIED_TOKEN_CACHE_SIZE)(self._verify)

    def sign(self, claims: dict[str, Any], *, typ: str = "at+jwt") -> str:
        """Access tokens are ``at+jwt`` (RFC 9068 §2.1); ID tokens and other signed values
        carry another ``typ``, so that none of them is ever accepted as an access token."""
        header = {"alg": self.algorithm, "kid": self.active_kid, "typ": typ}
        return jwt.encode(header, claims, self._keys[self.active_kid], algorithms=[self.algorithm])

    def verify(self, token: str) -> VerifiedToken | None:
        """The token's header and claims when its signature is valid, else None.

        Claim checks (exp, aud, iss) are the caller's: they are policy, not cryptography, and
        they change with time while a signature's validity does not. That is why the outcome
        of verifying a given string is cached (an ECDSA verification is a third of a simple
        request's CPU): the key ring is fixed for the signer's life, so a cached answer can
        never disagree with a fresh one.
        """
        verified = self._verify_cached(token)
        if verified is None or self._retired(str(verified.header.get("kid"))):
            return None
        return verified

    def _retired(self, kid: str) -> bool:
        # Checked outside the cache: a key's retirement comes with time, its signatures do not.
        until = self._retire_at.get(kid)
        return until is not None and until <= clock.now()

    def _verify(self, token: str) -> VerifiedToken | None:
        try:
            decoded = jwt.decode(token, self._keyset, algorithms=[self.algorithm])
        except (JoseError, ValueError, KeyError, TypeError):
            return None
        return VerifiedToken(
            header=MappingProxyType(dict(decoded.header)),
            claims=MappingProxyType(dict(decoded.claims)),
        )

    def public_jwks(self) -> dict[str, Any]:
        """The active key and every retired key not yet past its retirement time."""
        live: list[Any] = [key for kid, key in self._keys.items() if not self._retired(kid)]
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


@dataclass(frozen=True, slots=True)
class KeyMaterial:
    jwt_keys: dict[str, str]
    jwt_active_kid: str
    pii_keys: dict[str, bytes]
    pii_active_kid: str


def generate_key_material(*, kid_prefix: str = "") -> KeyMaterial:
    """Fresh keys; demo mode's are named ``demo-...`` so that no other mode accepts them."""
    jwt_kid = f"{kid_prefix}jwt-{secrets.token_hex(4)}"
    pii_kid = f"{kid_prefix}pii-{secrets.token_hex(4)}"
    pem = ECKey.generate_key("P-256").as_pem(private=True).decode("ascii")
    return KeyMaterial({jwt_kid: pem}, jwt_kid, {pii_kid: os.urandom(32)}, pii_kid)


def _local_key_file(settings: Settings) -> Path:
    return settings.data_dir / "secrets" / "local-keys.json"


def load_key_material(settings: Settings) -> KeyMaterial:
    """Keys from settings; in demo/development, generated once into the data directory.

    Production and test refuse to run without configured keys: a key that nobody chose is a
    key nobody will back up or rotate.
    """
    if settings.jwt_keys and settings.pii_keys:
        jwt_kid = settings.jwt_active_kid or next(iter(settings.jwt_keys))
        pii_kid = settings.pii_active_kid or next(iter(settings.pii_keys))
        return KeyMaterial(
            {k: v.get_secret_value() for k, v in settings.jwt_keys.items()},
            jwt_kid,
            {k: _b64d(v.get_secret_value()) for k, v in settings.pii_keys.items()},
            pii_kid,
        )
    if settings.env not in (Environment.DEMO, Environment.DEVELOPMENT):
        raise RuntimeError(
            "PD_PRIME_JWT_KEYS and PD_PRIME_PII_KEYS must be configured outside demo mode "
            "(see docs/operations.md for how to generate them)"
        )
    path = _local_key_file(settings)
    if path.exists():
        stored = json.loads(path.read_text("utf-8"))
        material = KeyMaterial(
            stored["jwt_keys"],
            stored["jwt_active_kid"],
            {k: _b64d(v) for k, v in stored["pii_keys"].items()},
            stored["pii_active_kid"],
        )
    else:
        material = generate_key_material(kid_prefix="demo-")
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        payload = {
            "jwt_keys": material.jwt_keys,
            "jwt_active_kid": material.jwt_active_kid,
            "pii_keys": {k: _b64e(v) for k, v in material.pii_keys.items()},
            "pii_active_kid": material.pii_active_kid,
        }
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(payload, fh)
    log.warning(
        "crypto.local_demo_keys_in_use",
        path=str(path),
        message="PII and token keys were generated locally for DEMO use only; "
        "never use them for real data",
    )
    return material


def export_key_material_env(material: KeyMaterial) -> dict[str, str]:
    """Environment variables that configure ``material`` (used by tests and key generation)."""
    return {
        "PD_PRIME_JWT_KEYS": json.dumps(material.jwt_keys),
        "PD_PRIME_JWT_ACTIVE_KID": material.jwt_active_kid,
        "PD_PRIME_PII_KEYS": json.dumps({k: _b64e(v) for k, v in material.pii_keys.items()}),
        "PD_PRIME_PII_ACTIVE_KID": material.pii_active_kid,
    }
