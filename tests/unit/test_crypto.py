from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from hypothesis import given
from hypothesis import strategies as st
from joserfc import jws, jwt
from joserfc.jwk import KeySet, RSAKey

from pd_prime_demo.core import clock
from pd_prime_demo.core.checkpoint_keys import generate_pem
from pd_prime_demo.core.config import Environment, Settings
from pd_prime_demo.core.crypto import (
    DecryptionError,
    FieldCipher,
    PasswordHashing,
    TokenSigner,
)
from pd_prime_demo.core.keys import (
    export_key_material_env,
    generate_key_material,
    load_key_material,
)
from pd_prime_demo.core.secret_policy import local_key_file, secret_problems


def _cipher(**keys: bytes) -> FieldCipher:
    return FieldCipher(keys, next(iter(keys)))


@given(st.text(max_size=200))
def test_round_trip_any_text(plaintext: str) -> None:
    cipher = _cipher(k1=bytes(32))
    envelope = cipher.encrypt(plaintext, context="customers.ssn:1")
    assert cipher.decrypt(envelope, context="customers.ssn:1") == plaintext


def test_ciphertext_is_randomised_and_hides_plaintext() -> None:
    cipher = _cipher(k1=os.urandom(32))
    a = cipher.encrypt("123-45-6789", context="c")
    b = cipher.encrypt("123-45-6789", context="c")
    assert a != b
    assert "6789" not in a


def test_moved_or_tampered_ciphertext_does_not_open() -> None:
    cipher = _cipher(k1=os.urandom(32))
    envelope = cipher.encrypt("123-45-6789", context="customers.ssn:A")
    with pytest.raises(DecryptionError):
        cipher.decrypt(envelope, context="customers.ssn:B")
    flipped = envelope[:-2] + ("A" if envelope[-2] != "A" else "B") + envelope[-1]
    with pytest.raises(DecryptionError):
        cipher.decrypt(flipped, context="customers.ssn:A")
    with pytest.raises(DecryptionError):
        cipher.decrypt("garbage", context="customers.ssn:A")
    with pytest.raises(DecryptionError):
        cipher.decrypt("v1.unknown.AAAA", context="customers.ssn:A")


def test_rotation_keeps_old_ciphertexts_readable() -> None:
    old_key, new_key = os.urandom(32), os.urandom(32)
    old = FieldCipher({"old": old_key}, "old")
    envelope = old.encrypt("secret", context="c")
    rotated = FieldCipher({"old": old_key, "new": new_key}, "new")
    assert rotated.decrypt(envelope, context="c") == "secret"
    assert rotated.needs_rotation(envelope)
    assert not rotated.needs_rotation(rotated.encrypt("secret", context="c"))


def test_key_ring_is_validated() -> None:
    with pytest.raises(ValueError, match="not in the key ring"):
        FieldCipher({"a": os.urandom(32)}, "b")
    with pytest.raises(ValueError, match="256 bits"):
        FieldCipher({"a": b"short"}, "a")
    with pytest.raises(ValueError, match="may not contain"):
        FieldCipher({"a.b": os.urandom(32)}, "a.b")


def test_fingerprint_is_keyed() -> None:
    a, b = _cipher(k=os.urandom(32)), _cipher(k=os.urandom(32))
    assert a.fingerprint(b"x") == a.fingerprint(b"x") != b.fingerprint(b"x")


def test_token_signer_rotation_and_forgery() -> None:
    first = generate_key_material()
    second = generate_key_material()
    signer = TokenSigner(first.jwt_keys, first.jwt_active_kid)
    token = signer.sign({"sub": "u"})
    both = TokenSigner(first.jwt_keys | second.jwt_keys, second.jwt_active_kid)
    verified = both.verify(token)
    assert verified is not None
    assert verified.claims["sub"] == "u"
    assert verified.header["kid"] == first.jwt_active_kid
    stranger = TokenSigner(second.jwt_keys, second.jwt_active_kid)
    assert stranger.verify(token) is None
    assert signer.verify(token[:-4] + "AAAA") is None
    # Verification outcomes are cached per token string; the answers stay the same.
    assert both.verify(token) == verified
    assert stranger.verify(token) is None
    with pytest.raises(TypeError):
        verified.claims["sub"] = "someone-else"  # type: ignore[index]
    with pytest.raises(ValueError, match="not in the key ring"):
        TokenSigner(first.jwt_keys, "missing")


def test_password_hashing() -> None:
    hasher = PasswordHashing(time_cost=1, memory_cost_kib=64, parallelism=1)
    stored = hasher.hash("correct horse battery staple")
    assert stored.startswith("$argon2id$")
    assert hasher.verify(stored, "correct horse battery staple")
    assert not hasher.verify(stored, "wrong")
    assert not hasher.verify(None, "anything")
    assert not hasher.verify("not-a-hash", "anything")
    stronger = PasswordHashing(time_cost=2, memory_cost_kib=128, parallelism=1)
    assert stronger.needs_rehash(stored)


# --- RS256 ID tokens (OpenID Connect Core §15.1) beside the ES256 access tokens ---

RSA = generate_key_material()
RSA_KID = RSA.rsa_active_kid or ""


def _signer(
    rsa_keys: dict[str, str] | None = None,
    rsa_active_kid: str | None = None,
    rsa_retire_at: dict[str, datetime] | None = None,
) -> TokenSigner:
    return TokenSigner(
        RSA.jwt_keys,
        RSA.jwt_active_kid,
        rsa_keys=RSA.rsa_keys if rsa_keys is None else rsa_keys,
        rsa_active_kid=rsa_active_kid,
        rsa_retire_at=rsa_retire_at,
    )


def test_id_tokens_are_signed_as_asked_and_access_token_verification_knows_es256_only() -> None:
    signer = _signer()
    assert signer.id_token_algorithms == ("RS256", "ES256")
    keys = KeySet.import_key_set(json.loads(json.dumps(signer.public_jwks())))
    rs = signer.sign_id_token({"sub": "u"}, algorithm="RS256")
    decoded = jwt.decode(rs, keys, algorithms=["RS256"])
    assert decoded.header == {"alg": "RS256", "kid": RSA_KID, "typ": "JWT"}
    es = signer.sign_id_token({"sub": "u"}, algorithm="ES256")
    assert jwt.decode(es, keys, algorithms=["ES256"]).header["kid"] == RSA.jwt_active_kid
    assert signer.verify(rs) is None  # the RSA key verifies nothing here
    assert signer.verify(es) is not None  # (an ES256 ID token is refused by its typ, later)
    with pytest.raises(ValueError, match="no key signs"):
        signer.sign_id_token({"sub": "u"}, algorithm="HS256")
    ec_only = TokenSigner(RSA.jwt_keys, RSA.jwt_active_kid)
    assert ec_only.id_token_algorithms == ("ES256",)
    with pytest.raises(ValueError, match="no key signs"):
        ec_only.sign_id_token({"sub": "u"}, algorithm="RS256")
    assert [k["kty"] for k in ec_only.public_jwks()["keys"]] == ["EC"]


def test_the_rsa_ring_rotates_like_the_ec_one() -> None:
    newer = RSAKey.generate_key(3072).as_pem(private=True).decode()
    until = clock.now() + timedelta(hours=1)
    signer = _signer(
        rsa_keys={**RSA.rsa_keys, "rs-2": newer},
        rsa_active_kid="rs-2",
        rsa_retire_at={RSA_KID: until},
    )
    assert signer.rsa_active_kid == "rs-2"
    token = signer.sign_id_token({"sub": "u"}, algorithm="RS256")
    assert jws.extract_compact(token.encode()).headers()["kid"] == "rs-2"
    kids = [k["kid"] for k in signer.public_jwks()["keys"]]
    assert kids == [RSA.jwt_active_kid, RSA_KID, "rs-2"]
    with clock.frozen_at(until):
        assert [k["kid"] for k in signer.public_jwks()["keys"]] == [RSA.jwt_active_kid, "rs-2"]


def test_rsa_key_rings_are_validated() -> None:
    small = (
        rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 (refused)
        .private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
        .decode()
    )
    with pytest.raises(ValueError, match="under 2048 bits"):
        _signer(rsa_keys={"small": small})
    with pytest.raises(ValueError, match="cannot be retired"):
        _signer(rsa_active_kid=RSA_KID, rsa_retire_at={RSA_KID: clock.now()})
    with pytest.raises(ValueError, match="not in the key ring"):
        _signer(rsa_active_kid="missing")
    shared = {RSA.jwt_active_kid: next(iter(RSA.rsa_keys.values()))}
    with pytest.raises(ValueError, match="in both the EC and the RSA key ring"):
        _signer(rsa_keys=shared)
    with pytest.raises(ValueError, match="without an RSA key ring"):
        TokenSigner(RSA.jwt_keys, RSA.jwt_active_kid, rsa_retire_at={"x": clock.now()})
    ec_pem = next(iter(RSA.jwt_keys.values()))
    with pytest.raises(ValueError, match="is not a RS256 private key"):
        _signer(rsa_keys={"ec-as-rsa": ec_pem})
    with pytest.raises(ValueError, match="is not a ES256 private key"):
        TokenSigner({"rsa-as-ec": next(iter(RSA.rsa_keys.values()))}, "rsa-as-ec")
    assert RSAKey.import_key(next(iter(RSA.rsa_keys.values()))).raw_value.key_size == 3072


def _demo_settings(tmp_path: Path) -> Settings:
    return Settings(env=Environment.DEMO, data_dir=tmp_path)


def test_a_demo_key_file_from_before_rs256_gains_an_rsa_ring_once(tmp_path: Path) -> None:
    settings = _demo_settings(tmp_path)
    old = generate_key_material(kid_prefix="demo-")
    key_file = tmp_path / "secrets" / "local-keys.json"
    key_file.parent.mkdir(parents=True)
    env = export_key_material_env(old)
    key_file.write_text(
        json.dumps(
            {
                "jwt_keys": old.jwt_keys,
                "jwt_active_kid": old.jwt_active_kid,
                "pii_keys": json.loads(env["PD_PRIME_PII_KEYS"]),
                "pii_active_kid": old.pii_active_kid,
            }
        )
    )
    key_file.chmod(0o600)
    upgraded = load_key_material(settings)
    assert (upgraded.jwt_keys, upgraded.pii_keys) == (old.jwt_keys, old.pii_keys)
    assert upgraded.rsa_active_kid is not None
    assert upgraded.rsa_active_kid.startswith("demo-oidc-rs-")
    assert set(upgraded.rsa_keys) == {upgraded.rsa_active_kid}
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert load_key_material(settings) == upgraded  # kept, not generated again
    assert not (tmp_path / "secrets" / "local-keys.tmp").exists()


def test_outside_demo_mode_the_demo_rsa_key_is_refused_by_id_and_by_value(
    tmp_path: Path,
) -> None:
    demo = load_key_material(_demo_settings(tmp_path))
    fresh = export_key_material_env(generate_key_material())
    production = {
        "env": Environment.PRODUCTION,
        "data_dir": tmp_path,
        "jwt_keys": fresh["PD_PRIME_JWT_KEYS"],
        "pii_keys": fresh["PD_PRIME_PII_KEYS"],
        "audit_checkpoint_key": generate_pem(),
    }
    own = Settings.model_validate(production | {"oidc_rsa_keys": fresh["PD_PRIME_OIDC_RSA_KEYS"]})
    assert secret_problems(own, load_key_material(own)) == []
    as_generated = Settings.model_validate(production | {"oidc_rsa_keys": demo.rsa_keys})
    problems = secret_problems(as_generated, load_key_material(as_generated))
    assert any("names key material generated by demo mode" in p for p in problems), problems
    renamed = {"prod-rs": next(iter(demo.rsa_keys.values()))}
    disguised = Settings.model_validate(production | {"oidc_rsa_keys": json.dumps(renamed)})
    problems = secret_problems(disguised, load_key_material(disguised))
    assert problems == [
        f"PD_PRIME_OIDC_RSA_KEYS[prod-rs] is demo key material (from {local_key_file(disguised)})"
    ]
