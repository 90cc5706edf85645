from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pd_prime_demo.core.crypto import (
    DecryptionError,
    FieldCipher,
    PasswordHashing,
    TokenSigner,
    generate_key_material,
)


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
