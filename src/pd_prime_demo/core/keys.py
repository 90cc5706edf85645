"""Key material: generating it, loading it from settings (or, in demo mode, from the data
directory where it was generated once), and writing it out as environment variables."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import structlog
from joserfc.jwk import ECKey, RSAKey

from pd_prime_demo.core.config import Environment, Settings
from pd_prime_demo.core.crypto import RSA_GENERATED_BITS, _b64d, _b64e

log = structlog.get_logger("pd_prime_demo.core.crypto")


@dataclass(frozen=True, slots=True)
class KeyMaterial:
    jwt_keys: dict[str, str]
    jwt_active_kid: str
    pii_keys: dict[str, bytes]
    pii_active_kid: str
    # The RS256 ID token ring (OpenID Connect Core §15.1); empty: ID tokens are ES256 only.
    rsa_keys: dict[str, str] = field(default_factory=dict)
    rsa_active_kid: str | None = None


def _rsa_pem() -> str:
    return RSAKey.generate_key(RSA_GENERATED_BITS).as_pem(private=True).decode("ascii")


def generate_key_material(*, kid_prefix: str = "") -> KeyMaterial:
    """Fresh keys; demo mode's are named ``demo-...`` so that no other mode accepts them."""
    jwt_kid = f"{kid_prefix}jwt-{secrets.token_hex(4)}"
    pii_kid = f"{kid_prefix}pii-{secrets.token_hex(4)}"
    rsa_kid = f"{kid_prefix}oidc-rs-{secrets.token_hex(4)}"
    pem = ECKey.generate_key("P-256").as_pem(private=True).decode("ascii")
    return KeyMaterial(
        {jwt_kid: pem}, jwt_kid, {pii_kid: os.urandom(32)}, pii_kid, {rsa_kid: _rsa_pem()}, rsa_kid
    )


def _local_key_file(settings: Settings) -> Path:
    return settings.data_dir / "secrets" / "local-keys.json"


def _key_file_payload(material: KeyMaterial) -> dict[str, Any]:
    return {
        "jwt_keys": material.jwt_keys,
        "jwt_active_kid": material.jwt_active_kid,
        "pii_keys": {k: _b64e(v) for k, v in material.pii_keys.items()},
        "pii_active_kid": material.pii_active_kid,
        "oidc_rsa_keys": material.rsa_keys,
        "oidc_rsa_active_kid": material.rsa_active_kid,
    }


def _write_key_file(path: Path, material: KeyMaterial, *, replace: bool = False) -> None:
    """Owner-only and never over another process's keys; ``replace`` renames a whole new file
    over one written before the RSA ring existed."""
    target = path.with_suffix(".tmp") if replace else path
    if replace:
        target.unlink(missing_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(_key_file_payload(material), fh)
    if replace:
        os.replace(target, path)


def load_key_material(settings: Settings) -> KeyMaterial:
    """Keys from settings; in demo/development, generated once into the data directory.

    Production and test refuse to run without configured keys: a key that nobody chose is a
    key nobody will back up or rotate. The RSA ring is optional there: without it ID tokens
    are ES256 only and discovery says so (docs/oauth.md asks production to configure one).
    """
    if settings.jwt_keys and settings.pii_keys:
        jwt_kid = settings.jwt_active_kid or next(iter(settings.jwt_keys))
        pii_kid = settings.pii_active_kid or next(iter(settings.pii_keys))
        rsa_keys = {k: v.get_secret_value() for k, v in settings.oidc_rsa_keys.items()}
        if not rsa_keys:
            log.warning(
                "crypto.no_rsa_id_token_key",
                message="PD_PRIME_OIDC_RSA_KEYS is not set: ID tokens are ES256 only, and "
                "relying parties that expect RS256 (the OpenID Connect default) will fail",
            )
        return KeyMaterial(
            {k: v.get_secret_value() for k, v in settings.jwt_keys.items()},
            jwt_kid,
            {k: _b64d(v.get_secret_value()) for k, v in settings.pii_keys.items()},
            pii_kid,
            rsa_keys,
            (settings.oidc_rsa_active_kid or next(iter(rsa_keys))) if rsa_keys else None,
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
            stored.get("oidc_rsa_keys") or {},
            stored.get("oidc_rsa_active_kid"),
        )
        if not material.rsa_keys:  # generated before RS256 ID tokens: add the RSA ring
            rsa_kid = f"demo-oidc-rs-{secrets.token_hex(4)}"
            material = replace(material, rsa_keys={rsa_kid: _rsa_pem()}, rsa_active_kid=rsa_kid)
            _write_key_file(path, material, replace=True)
    else:
        material = generate_key_material(kid_prefix="demo-")
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        _write_key_file(path, material)
    log.warning(
        "crypto.local_demo_keys_in_use",
        path=str(path),
        message="PII and token keys were generated locally for DEMO use only; "
        "never use them for real data",
    )
    return material


def export_key_material_env(material: KeyMaterial) -> dict[str, str]:
    """Environment variables that configure ``material`` (used by tests and key generation)."""
    env = {
        "PD_PRIME_JWT_KEYS": json.dumps(material.jwt_keys),
        "PD_PRIME_JWT_ACTIVE_KID": material.jwt_active_kid,
        "PD_PRIME_PII_KEYS": json.dumps({k: _b64e(v) for k, v in material.pii_keys.items()}),
        "PD_PRIME_PII_ACTIVE_KID": material.pii_active_kid,
    }
    if material.rsa_keys and material.rsa_active_kid:
        env["PD_PRIME_OIDC_RSA_KEYS"] = json.dumps(material.rsa_keys)
        env["PD_PRIME_OIDC_RSA_ACTIVE_KID"] = material.rsa_active_kid
    return env
