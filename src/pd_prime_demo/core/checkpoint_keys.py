"""The Ed25519 key that signs audit checkpoints: loaded from settings, never from the database.

The point of a checkpoint is that whoever can rewrite ``audit_log`` (a database superuser)
cannot forge one, so the private key lives in the application's settings or a file only the
application reads. Demo mode, development and the test suite generate one into
``data_dir/secrets`` once; production refuses to start without one (``secret_policy``).
Retired keys' public halves (``audit_checkpoint_public_keys``) keep old checkpoints verifiable
after a rotation.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from pd_prime_demo.core.config import Environment, Settings


class CheckpointKeyError(RuntimeError):
    """No usable checkpoint key is configured (or a configured one is not Ed25519 PEM)."""


def key_id(public: Ed25519PublicKey) -> str:
    """A short stable name for a public key: the start of the SHA-256 of its raw bytes."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "ed25519-" + hashlib.sha256(raw).hexdigest()[:16]


def generated_key_file(settings: Settings) -> Path:
    """Where demo mode, development and tests keep the checkpoint key they generated."""
    return settings.data_dir / "secrets" / "audit-checkpoint-key.pem"


def generated_key_id(settings: Settings) -> str | None:
    """The key id of the key demo mode generated into the data directory, if there is one."""
    path = generated_key_file(settings)
    try:
        return key_id(_private_from_pem(path.read_bytes(), str(path)).public_key())
    except (OSError, CheckpointKeyError):
        return None


@dataclass(frozen=True, slots=True)
class CheckpointKeys:
    signing: Ed25519PrivateKey | None
    # key id -> public key: the signing key's and every retired one's.
    trusted: dict[str, Ed25519PublicKey]

    @property
    def signing_kid(self) -> str | None:
        return key_id(self.signing.public_key()) if self.signing else None


def _private_from_pem(pem: bytes, origin: str) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise CheckpointKeyError(f"{origin} is not a PEM private key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise CheckpointKeyError(f"{origin} is not an Ed25519 key")
    return key


def generate_pem() -> str:
    """A fresh Ed25519 private key as PEM (a value for PD_PRIME_AUDIT_CHECKPOINT_KEY)."""
    return (
        Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode("ascii")
    )


def _generate_once(path: Path) -> Ed25519PrivateKey:
    if path.exists():
        return _private_from_pem(path.read_bytes(), str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = generate_pem().encode("ascii")
    # O_EXCL: two processes starting together keep whichever key was written first.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _private_from_pem(path.read_bytes(), str(path))
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
        out.flush()
        os.fsync(out.fileno())
    return _private_from_pem(pem, str(path))


def signing_key(settings: Settings, *, generate: bool = False) -> Ed25519PrivateKey | None:
    """The configured signing key; outside production, the one generated into the data
    directory (on first use when ``generate``: only a writer of checkpoints creates it, so
    verifying never writes a file)."""
    if settings.audit_checkpoint_key is not None:
        pem = settings.audit_checkpoint_key.get_secret_value().encode("ascii")
        return _private_from_pem(pem, "PD_PRIME_AUDIT_CHECKPOINT_KEY")
    if settings.audit_checkpoint_key_file is not None:
        path = settings.audit_checkpoint_key_file
        try:
            pem = path.read_bytes()
        except OSError as exc:
            raise CheckpointKeyError(f"PD_PRIME_AUDIT_CHECKPOINT_KEY_FILE {path}: {exc}") from exc
        return _private_from_pem(pem, f"PD_PRIME_AUDIT_CHECKPOINT_KEY_FILE {path}")
    if settings.env is Environment.PRODUCTION:
        return None
    path = generated_key_file(settings)
    if generate:
        return _generate_once(path)
    return _private_from_pem(path.read_bytes(), str(path)) if path.exists() else None


def load_checkpoint_keys(settings: Settings, *, for_signing: bool = False) -> CheckpointKeys:
    """The signing key (generated outside production when ``for_signing``) and every key
    whose checkpoints are trusted."""
    signing = signing_key(settings, generate=for_signing)
    trusted: dict[str, Ed25519PublicKey] = {}
    for index, pem in enumerate(settings.audit_checkpoint_public_keys):
        try:
            public = serialization.load_pem_public_key(pem.encode("ascii"))
        except (ValueError, TypeError) as exc:
            raise CheckpointKeyError(
                f"PD_PRIME_AUDIT_CHECKPOINT_PUBLIC_KEYS[{index}] is not a PEM public key"
            ) from exc
        if not isinstance(public, Ed25519PublicKey):
            raise CheckpointKeyError(
                f"PD_PRIME_AUDIT_CHECKPOINT_PUBLIC_KEYS[{index}] is not an Ed25519 key"
            )
        trusted[key_id(public)] = public
    if signing is not None:
        trusted[key_id(signing.public_key())] = signing.public_key()
    return CheckpointKeys(signing, trusted)


def public_pem(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """The public half as PEM (what ``audit_checkpoint_public_keys`` holds after a rotation)."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")
