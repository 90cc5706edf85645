"""Schemathesis against the real server: no request a client can send may produce a 500.

The server (uvicorn, the production app) runs on a scratch database with the demo data. The
fuzzer generates requests from the OpenAPI document, as an agent, an admin and a policyholder,
with the seeded policy's id supplied so the policy operations get past the 404 (endorse,
cancel, reinstate, pay, renew: real transactions). The claim routes get a claim each login may
see (the policyholder's and the agent's: Casey's claim just reported; the admin's: James's open
fire claim, with its exposure, so reserves, payments, recoveries and valuations are real
movements), a diary task, and a triangle with an analysis for the reserving routes. The seed is
fixed, so a failure reproduces. After the run the books must still be whole: the ledger
balances and the audit chain verifies.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import date, timedelta
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


_RAA_HEAD = (
    "origin,12,24,36\n1981,5012,8269,10907\n1982,106,4285,5396\n1983,3410,8992,\n1984,5655,,\n"
)


def _claim_parameters(base: str, token: str) -> dict[str, str]:
    """The path ids of the claims routes for one login: a claim it sees (with an exposure
    when it has one) and a diary task on it; as an admin, a triangle and an analysis too."""
    headers = {"Authorization": f"Bearer {token}"}
    claims = httpx.get(f"{base}/api/v1/claims", headers=headers).json()["items"]
    assert claims, "the demo data has a claim each login sees"
    ids: dict[str, str] = {}
    for claim in claims:
        exposures = httpx.get(f"{base}/api/v1/claims/{claim['id']}/exposures", headers=headers)
        if exposures.status_code == 200 and exposures.json()["items"]:
            ids["exposure_id"] = exposures.json()["items"][0]["id"]
            ids["claim_id"] = claim["id"]
            break
    ids.setdefault("claim_id", claims[0]["id"])
    task = httpx.post(
        f"{base}/api/v1/claims/{ids['claim_id']}/diary",
        json={"title": "Call the claimant", "due_on": (date.today() + timedelta(7)).isoformat()},
        headers=headers,
    )
    if task.status_code == 201:
        ids["task_id"] = task.json()["id"]
    triangle = httpx.post(
        f"{base}/api/v1/reserving/triangles/import",
        json={"name": "RAA, first four years", "measure": "paid", "csv": _RAA_HEAD},
        headers=headers,
    )
    if triangle.status_code == 201:
        ids["triangle_id"] = triangle.json()["id"]
        analysis = httpx.post(
            f"{base}/api/v1/reserving/triangles/{ids['triangle_id']}/analyses",
            json={"method": "chain_ladder"},
            headers=headers,
        )
        assert analysis.status_code == 201, analysis.text
        ids["analysis_id"] = analysis.json()["id"]
    return ids


def test_no_generated_request_gets_a_server_error_and_the_books_stay_whole(
    unlimited: None, served: str, tmp_path: Path
) -> None:
    agent = _token(served, "agent@demo.pdprime.example")
    policies = httpx.get(
        f"{served}/api/v1/policies", headers={"Authorization": f"Bearer {agent}"}
    ).json()["items"]
    assert policies, "the demo data has a policy"
    schemathesis = Path(sys.executable).with_name("schemathesis")
    reached: dict[str, dict[str, str]] = {}
    # A policyholder too: the routes they reach, and the many they are refused (403/404).
    for email in (
        "agent@demo.pdprime.example",
        "admin@demo.pdprime.example",
        "customer@demo.pdprime.example",
    ):
        token = _token(served, email)
        # Path parameters the fuzzer cannot guess (random ids only ever reach the 404).
        ids = {"policy_id": policies[0]["id"], **_claim_parameters(served, token)}
        reached[email] = ids
        workdir = tmp_path / email.split("@")[0]
        workdir.mkdir()
        (workdir / "schemathesis.toml").write_text(
            "[parameters]\n" + "".join(f'"path.{k}" = "{v}"\n' for k, v in ids.items())
        )
        run = subprocess.run(  # noqa: S603 - the fuzzer installed beside our interpreter
            [
                str(schemathesis),
                "run",
                f"{served}/openapi.json",
                "--header",
                f"Authorization: Bearer {token}",
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
            cwd=workdir,  # its config, and its cache kept out of the checkout
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
    admin = _token(served, "admin@demo.pdprime.example")
    handled = reached["admin@demo.pdprime.example"]
    assert "exposure_id" in handled, "the admin's claim has an exposure"
    notes = httpx.get(
        f"{served}/api/v1/claims/{handled['claim_id']}/notes",
        headers={"Authorization": f"Bearer {admin}"},
    ).json()["items"]
    assert notes, "the fuzzer reached the seeded claim's routes (it wrote a note)"
    ledger = runner.invoke(cli.app, ["ledger", "check"])
    assert ledger.exit_code == 0, ledger.output
    assert "ledger balanced" in ledger.output
    audit = runner.invoke(cli.app, ["audit", "verify"])
    assert audit.exit_code == 0, audit.output
