"""``pd-prime bench fnol``: first notice of loss through the real server beside a bare endpoint
doing the same writes, as ``bench api`` does for quotes and binds.

Starts uvicorn on a throwaway database with the demo data and drives, for the same duration and
concurrency, in alternating rounds (``bench.load.compare``):

* ``POST /api/v1/claims`` as the demo agent on a policy of their book in force (validate,
  authenticate, find the policy the agent may see, read its history on the loss date and the
  product's causes of loss, check cover, the fraud indicators' queries, encrypt the parties'
  contacts, write the claim, its parties, vehicles and first status row, assign the adjuster with
  the fewest open claims, the audit entries and outbox events; through the ORM);
* ``/bench/bare/claims``: FastAPI validates the same body, the token is verified and its login
  session checked, and one asyncpg transaction writes the same rows: the claim (numbered from
  the same sequence), the encrypted parties, the vehicles, the two status rows (reported, then
  open), the assignment to the least loaded adjuster, three chained audit entries and three
  outbox events. No ORM, no policy history, no coverage check, no fraud indicators;
* an echo of the same body (validation alone), for the client and framework floor.

It prints requests per second, the server's CPU time per request and the ratios; with
``--callgrind`` the server's instructions per request too (see ``bench.load``).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from pd_prime_demo.bench.api import (
    Launch,
    Meters,
    _always,
    _client,
    _ready,
    free_port,
    server_command,
)
from pd_prime_demo.bench.fnol_bare import FNOL_APP, ZONE
from pd_prime_demo.bench.load import (
    Comparison,
    Request,
    Run,
    ServerCpu,
    ServerInstructions,
    compare,
    describe,
    describe_ratio,
    drive,
)


def claim_request(policy_id: str, loss_on: date) -> dict[str, Any]:
    """A liability claim on the policy's first vehicle with a third party's car: what the
    benchmark files (valid for ``ClaimCreate``)."""
    return {
        "policy_id": policy_id,
        "loss_at": datetime.combine(loss_on, time(17), tzinfo=ZoneInfo(ZONE)).isoformat(),
        "time_zone": ZONE,
        "cause_code": "liability",
        "location": {
            "line1": "Easton Town Center, garage B",
            "city": "Columbus",
            "state": "OH",
            "postal_code": "43219",
        },
        "description": "Reversing out of a parking space, backed into a parked car.",
        "parties": [
            {"role": "driver", "name": "Casey Customer"},
            {
                "role": "claimant",
                "name": "Robin Patel",
                "contact": {"phone": "+1 614 555 0188", "email": "robin@example.com"},
            },
        ],
        "vehicles": [
            {"policy_unit": 0, "damage": "Rear bumper scuffed"},
            {"description": "Grey 2021 Toyota RAV4", "owner_party": 1, "damage": "Door dented"},
        ],
    }


def report(compared: Comparison, echoed: Run) -> list[str]:
    """The lines the benchmark prints: each endpoint, then the ratios."""
    lines = [
        describe("echo (validate + echo)", echoed),
        describe("POST /api/v1/claims", compared.real),
        describe("bare (raw SQL, same rows)", compared.baseline),
        describe_ratio("FNOL / bare throughput", compared),
    ]
    if compared.real.server_cpu_ms and compared.baseline.server_cpu_ms:
        cpu = compared.real.server_cpu_ms / compared.baseline.server_cpu_ms
        lines.append(f"  FNOL / bare server CPU per request: {cpu:.1f}x")
    if echoed.rate:
        lines.append(f"  FNOL / echo throughput: {compared.real.rate / echoed.rate:.0%}")
    return lines


async def _agent_and_policy(client: httpx.AsyncClient) -> tuple[dict[str, str], str]:
    """The demo agent's bearer headers and a policy of their book in force today."""
    from pd_prime_demo.seed import DEMO_PASSWORD

    tokens = (
        await client.post(
            "/api/v1/auth/token",
            data={
                "grant_type": "password",
                "username": "agent@demo.pdprime.example",
                "password": DEMO_PASSWORD,
            },
        )
    ).json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    listed = (await client.get("/api/v1/policies", headers=headers)).json()["items"]
    today = date.today().isoformat()
    for policy in listed:
        if policy["inception_on"] < today and policy["status"] == "in_force":
            return headers, str(policy["id"])
    raise RuntimeError("the demo agent has no policy in force")


async def _run(
    base: str, seconds: float, concurrency: int, echo: Callable[[str], object], meters: Meters
) -> dict[str, float]:
    cpu, instructions = meters
    async with _client(base, concurrency, slow=instructions is not None) as client:
        await _ready(client, patient=instructions is not None)
        headers, policy_id = await _agent_and_policy(client)
        body = claim_request(policy_id, date.today() - timedelta(days=1))
        probe = await client.post("/api/v1/claims", json=body, headers=headers)
        if probe.status_code != 201:
            raise RuntimeError(f"the probe claim failed: {probe.status_code} {probe.text}")
        real: Request = ("POST", "/api/v1/claims", body, headers)
        bare: Request = ("POST", "/bench/bare/claims", body, headers)
        echoed: Request = ("POST", "/bench/echo-claim", body, headers)
        for request in (real, bare, echoed):  # warm up
            await drive(client, _always(request), seconds=0.5, concurrency=concurrency)
        compared = await compare(
            client,
            _always(real),
            _always(bare),
            seconds=seconds,
            concurrency=concurrency,
            cpu=cpu,
            instructions=instructions,
        )
        echo_run = await drive(
            client,
            _always(echoed),
            seconds=seconds / 2,
            concurrency=concurrency,
            cpu=cpu,
            instructions=instructions,
        )
        for line in report(compared, echo_run):
            echo(line)
        return {
            "POST /api/v1/claims": compared.real.rate,
            "bare": compared.baseline.rate,
            "echo": echo_run.rate,
            "ratio": compared.ratio,
        }


def run_fnol_benchmark(
    *,
    seconds: float = 10,
    concurrency: int = 16,
    workers: int = 1,
    callgrind: bool = False,
    echo: Callable[[str], object] = print,
) -> dict[str, float]:
    """On a throwaway database created on the configured (or embedded) server, with the demo
    data (the agent's book, the demo adjuster)."""
    launch = server_command(free_port(), workers=workers, callgrind=callgrind, factory=FNOL_APP)
    from pd_prime_demo import bootstrap
    from pd_prime_demo.core.database import create_database, drop_database

    base = bootstrap.settings(demo=True)
    assert base.database_url is not None
    scratch = asyncio.run(create_database(base.database_url, f"pd_prime_bench_fnol_{os.getpid()}"))
    settings = base.model_copy(update={"database_url": scratch})
    env = {
        **os.environ,
        "DATABASE_URL": scratch,
        "PD_PRIME_ENV": "demo",
        "PD_PRIME_LOG_LEVEL": "WARNING",
        "PD_PRIME_DATA_DIR": str(settings.data_dir),
        "PD_PRIME_RATE_LIMITS_ENABLED": "false",
    }
    try:
        bootstrap.migrate(settings)
        asyncio.run(bootstrap.seed(settings))
        return _serve(env, launch, seconds, concurrency, echo)
    finally:
        asyncio.run(drop_database(base.database_url, scratch))


def _serve(
    env: dict[str, str],
    launch: Launch,
    seconds: float,
    concurrency: int,
    echo: Callable[[str], object],
) -> dict[str, float]:
    server = subprocess.Popen(launch.argv, env=env)  # noqa: S603 - our interpreter and module
    try:
        workers = f"{launch.workers} worker{'s' if launch.workers > 1 else ''}"
        echo(
            f"FNOL benchmark: uvicorn ({workers}{', under callgrind' if launch.callgrind else ''})"
            f" on :{launch.port}, {concurrency} concurrent clients, {seconds:.0f} s per endpoint"
        )
        meters: Meters = (
            ServerCpu(server.pid),
            ServerInstructions(server.pid) if launch.callgrind else None,
        )
        base_url = f"http://127.0.0.1:{launch.port}"
        return asyncio.run(_run(base_url, seconds, concurrency, echo, meters))
    finally:
        server.terminate()
        server.wait(timeout=300)
