"""TOTP: RFC 6238 Appendix B's test vectors, and a code never good twice."""

from __future__ import annotations

import base64

import pytest

from pd_prime_demo.identity import mfa

# RFC 6238 Appendix B: the seeds are ASCII "1234567890" repeated to the hash's key length.
SEEDS = {
    "sha1": b"12345678901234567890",
    "sha256": b"12345678901234567890123456789012",
    "sha512": b"1234567890123456789012345678901234567890123456789012345678901234",
}
VECTORS = [
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
]


@pytest.mark.parametrize(("at", "sha1", "sha256", "sha512"), VECTORS)
def test_rfc6238_appendix_b(at: int, sha1: str, sha256: str, sha512: str) -> None:
    for algorithm, expected in (("sha1", sha1), ("sha256", sha256), ("sha512", sha512)):
        secret = base64.b32encode(SEEDS[algorithm]).decode()
        assert mfa.totp_code(secret, at=at, digits=8, algorithm=algorithm) == expected


SECRET = base64.b32encode(SEEDS["sha1"]).decode()


def test_a_code_is_accepted_within_one_step_of_drift_and_not_beyond() -> None:
    now = 1_700_000_000.0
    step = int(now) // 30
    for offset in (-1, 0, 1):
        code = mfa.totp_code(SECRET, at=now + 30 * offset)
        assert mfa.matching_step(SECRET, code, at=now, after=None) == step + offset
    for offset in (-3, 2):
        code = mfa.totp_code(SECRET, at=now + 30 * offset)
        assert mfa.matching_step(SECRET, code, at=now, after=None) is None


def test_a_code_of_a_step_already_used_is_refused() -> None:
    now = 1_700_000_000.0
    step = int(now) // 30
    code = mfa.totp_code(SECRET, at=now)
    assert mfa.matching_step(SECRET, code, at=now, after=step - 1) == step
    assert mfa.matching_step(SECRET, code, at=now, after=step) is None, "replay in its window"
    earlier = mfa.totp_code(SECRET, at=now - 30)
    assert mfa.matching_step(SECRET, earlier, at=now, after=step) is None


def test_malformed_codes_are_refused() -> None:
    for code in ("", "12345", "1234567", "abcdef", "12 34 5x"):
        assert mfa.matching_step(SECRET, code, at=1_700_000_000.0, after=None) is None


def test_provisioning_uri_and_qr_code() -> None:
    from pd_prime_demo.core.config import Settings

    settings = Settings.model_validate({"mfa_issuer": "PD Prime"})
    uri = mfa.provisioning_uri(settings, SECRET, "ada@example.com")
    assert uri.startswith("otpauth://totp/PD%20Prime:ada%40example.com?secret=")
    assert "issuer=PD%20Prime" in uri
    qr = mfa.qr_svg_data_uri(uri)
    assert qr.startswith("data:image/svg+xml")


def test_recovery_codes_are_random_and_80_bits() -> None:
    codes = {mfa.new_recovery_code() for _ in range(50)}
    assert len(codes) == 50
    for code in codes:
        assert len(code.replace("-", "")) == 16
        assert len(base64.b32decode(code.replace("-", ""))) == 10
