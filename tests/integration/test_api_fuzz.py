"""Schemathesis against the real server: no request a client can send may produce a 500.

The server (uvicorn, the production app) runs on a scratch database with the demo data. The
fuzzer generates requests from the OpenAPI document, as an agent, an admin and a policyholder,
with the seeded policy's id supplied so the policy operations get past the 404 (endorse,
cancel, reinstate, pay, renew: real transactions). The seed is fixed, so a failure reproduces. After
the run the books must still be whole: the ledger balances and the audit chain verifies.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from pd_prime_demo import cli
from pd_prime_demo.seed import DEMO_PASSWORD

runner = CliRunner()

# Ending the run's own login would leave the rest of the run unauthenticated (a session the
# fuzzer lists, it can also end).
_EXCLUDED = "logout|revoke|deactivation|/account/sessions/"


def _token(base: str, email: str) -> str:
    response = httpx.post(
        f"{base}/api/v1/auth/token",
        data={"grant_type": "password", "username": email, "password": DEMO_PASSWORD},
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


@pytest.fixture
def unlimited(cli_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Thousands of requests from one address: rate limits (tested on their own) would answer
    most with 429 and keep the fuzzer from the operations it is here to reach."""
    monkeypatch.setenv("PD_PRIME_RATE_LIMITS_ENABLED", "false")


def test_no_generated_request_gets_a_server_error_and_the_books_stay_whole(
    unlimited: None, served: str, tmp_path: Path
) -> None:
    agent = _token(served, "agent@demo.pdprime.example")
    policies = httpx.get(
        f"{served}/api/v1/policies", headers={"Authorization": f"Bearer {agent}"}
    ).json()["items"]
    assert policies, "the demo data has a policy"
    # Path parameters the fuzzer cannot guess (random ids only ever reach the 404).
    (tmp_path / "schemathesis.toml").write_text(
        f'[parameters]\n"path.policy_id" = "{policies[0]["id"]}"\n'
    )
    schemathesis = Path(sys.executable).with_name("schemathesis")
    # A policyholder too: the routes they reach, and the many they are refused (403/404).
    for email in (
        "agent@demo.pdprime.example",
        "admin@demo.pdprime.example",
        "customer@demo.pdprime.example",
    ):
        run = subprocess.run(  # noqa: S603 - the fuzzer installed beside our interpreter
            [
                str(schemathesis),
                "run",
                f"{served}/openapi.json",
                "--header",
                f"Authorization: Bearer {_token(served, email)}",
                # Any version: the fuzzer cannot follow ETags, and the changes must get through.
                "--header",
                "If-Match: *",
                "--checks",
                "not_a_server_error",
                "--max-examples",
                "25",
                "--seed",
                "20261126",
                "--exclude-path-regex",
                _EXCLUDED,
            ],
            cwd=tmp_path,  # its config, and its cache kept out of the checkout
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert run.returncode == 0, f"as {email}:\n{run.stdout[-6000:]}\n{run.stderr[-2000:]}"
        assert " passed" in run.stdout
    history = httpx.get(
        f"{served}/api/v1/policies/{policies[0]['id']}/transactions",
        headers={"Authorization": f"Bearer {_token(served, 'agent@demo.pdprime.example')}"},
    ).json()["items"]
    assert len(history) > 1, "the fuzzer reached the policy's lifecycle operations"
    ledger = runner.invoke(cli.app, ["ledger", "check"])
    assert ledger.exit_code == 0, ledger.output
    assert "ledger balanced" in ledger.output
    audit = runner.invoke(cli.app, ["audit", "verify"])
    assert audit.exit_code == 0, audit.output
