"""PKCE (RFC 7636) as the provider checks it: S256 only, a challenge required."""

from __future__ import annotations

import base64

import pytest

from pd_prime_demo.identity.oauth_rules import (
    at_hash,
    pkce_challenge_problem,
    pkce_verifies,
    redirect_uri_problem,
)

# RFC 7636 Appendix B.
OCTETS = [116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186, 22, 212]
OCTETS += [37, 77, 105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121]
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_rfc7636_appendix_b() -> None:
    assert base64.urlsafe_b64encode(bytes(OCTETS)).rstrip(b"=").decode() == VERIFIER
    assert pkce_challenge_problem(CHALLENGE, "S256") is None
    assert pkce_verifies(VERIFIER, CHALLENGE)
    assert not pkce_verifies(VERIFIER[:-1] + "Y", CHALLENGE)
    # The plain method's comparison (verifier == challenge) must never pass.
    assert not pkce_verifies(CHALLENGE, CHALLENGE)


@pytest.mark.parametrize(
    ("challenge", "method"),
    [
        (None, None),
        ("", "S256"),
        (CHALLENGE, None),  # RFC 7636 §4.3 would default to plain
        (CHALLENGE, "plain"),
        (CHALLENGE, "s256"),
        (CHALLENGE[:-1], "S256"),
        (CHALLENGE[:-1] + "!", "S256"),
        (VERIFIER + VERIFIER, "S256"),
    ],
)
def test_a_missing_or_plain_or_malformed_challenge_is_refused(
    challenge: str | None, method: str | None
) -> None:
    assert pkce_challenge_problem(challenge, method) is not None


@pytest.mark.parametrize("verifier", ["short", "x" * 129, VERIFIER[:-1] + " ", VERIFIER + "+"])
def test_a_verifier_outside_the_grammar_never_verifies(verifier: str) -> None:
    assert not pkce_verifies(verifier, CHALLENGE)


def test_at_hash_is_the_left_half_of_sha256() -> None:
    # OpenID Connect Core §3.1.3.6, checked against hashlib directly.
    import hashlib

    token = "an access token"
    half = hashlib.sha256(token.encode()).digest()[:16]
    assert at_hash(token) == base64.urlsafe_b64encode(half).rstrip(b"=").decode()


@pytest.mark.parametrize(
    ("uri", "public", "allowed"),
    [
        ("https://app.example.com/callback", False, True),
        ("http://127.0.0.1:8765/cb", False, True),
        ("http://localhost/cb", True, True),
        ("http://app.example.com/callback", False, False),
        ("https://app.example.com/cb#frag", False, False),
        ("com.example.app:/oauth", True, True),
        ("com.example.app:/oauth", False, False),
        ("javascript:alert(1)", True, False),
        ("https:///nohost", False, False),
    ],
)
def test_redirect_uris_that_may_be_registered(uri: str, public: bool, allowed: bool) -> None:
    assert (redirect_uri_problem(uri, public=public) is None) is allowed
