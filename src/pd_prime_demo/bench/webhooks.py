"""``pd-prime bench webhooks``: webhooks delivered to a local receiver by one and then two
worker processes, on a throwaway database.

An underwriter's API client holds N subscriptions to ``bench.*``, all to one receiver on
127.0.0.1 (a thread of this process that answers 204 at once and checks the Standard Webhooks
signature of every tenth request). E events are committed to the outbox first; then the
workers (processes started beforehand and idle, each to run what ``pd-prime worker`` runs:
the relay, the queue, the sweeps) are set to work, and the clock runs until the receiver has
had E x N distinct deliveries. So a delivery costs its whole path: its share of the relay and
the fan-out, the claim, the visibility check, decrypting the secret and signing, a new HTTP
client and connection, and recording the attempt (its CPU time counted, though it follows the
receipt). The receiver shares the machine with the workers and PostgreSQL; its own CPU time
per request is printed.

Latency (an event's commit to a delivery's receipt) is measured apart, by one worker, with
events committed one at a time at half the rate that worker sustained: behind a backlog
committed before the start it would only say how long the backlog took.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import text

from pd_prime_demo import bootstrap
from pd_prime_demo.bench.load import percentile
from pd_prime_demo.bench.receiver import Receiver
from pd_prime_demo.bench.workers import Workers
from pd_prime_demo.core.actor import Actor, Permission, Role
from pd_prime_demo.core.config import Settings
from pd_prime_demo.core.database import Database, create_database, drop_database
from pd_prime_demo.core.outbox import emit
from pd_prime_demo.core.result_types import Err

if TYPE_CHECKING:
    pass

TOPIC = "bench.delivered"
SYSTEM = Actor.system("bench")


async def _setup(settings: Settings, receiver: Receiver, subscriptions: int) -> None:
    """An underwriter (who sees the whole company, so its client may receive events about no
    customer), an API client of theirs, and its subscriptions, one path of the receiver each."""
    from pd_prime_demo.core.runtime import Runtime
    from pd_prime_demo.identity import clients
    from pd_prime_demo.identity import service as identity
    from pd_prime_demo.webhooks import service as webhooks
    from pd_prime_demo.webhooks.rules import NetworkPolicy
    from pd_prime_demo.webhooks.schemas import SubscriptionCreate

    runtime = Runtime.create(settings)
    try:
        async with runtime.db.unit_of_work() as session:
            user = await identity.create_user(
                session,
                email=f"bench-{os.getpid()}@example.com",
                password=secrets.token_urlsafe(24),
                full_name="Bench Underwriter",
                role=Role.UNDERWRITER,
                passwords=runtime.passwords,
                actor=SYSTEM,
            )
            if isinstance(user, Err):
                raise RuntimeError(user.error.detail)
            client = await clients.register_client(
                session,
                name="Bench receiver",
                owner_id=user.value.id,
                scopes=[Permission.EVENTS_READ, Permission.WEBHOOKS_MANAGE],
                actor=SYSTEM,
            )
            if isinstance(client, Err):
                raise RuntimeError(client.error.detail)
        network = NetworkPolicy.for_env(settings.env)
        async with runtime.db.unit_of_work() as session:
            for n in range(subscriptions):
                path = f"/hooks/{n}"
                body = SubscriptionCreate(
                    url=receiver.url(path),
                    event_types=["bench.*"],
                    client_id=client.value.client.id,
                )
                made = await webhooks.create_subscription(
                    session, body, actor=SYSTEM, cipher=runtime.cipher, network=network
                )
                if isinstance(made, Err):
                    raise RuntimeError(made.error.detail)
                receiver.secrets[path] = made.value.secret
    finally:
        await runtime.close()


async def _commit_events(url: str, events: int, label: str) -> None:
    db = Database.connect(url, pool_size=1, max_overflow=0)
    try:
        for start in range(0, events, 1000):
            async with db.unit_of_work() as session:
                for n in range(start, min(events, start + 1000)):
                    emit(session, TOPIC, "bench", f"{label}-{n}", {"n": n})
    finally:
        await db.dispose()


async def _succeeded(url: str, deliveries: int, *, within: float = 60) -> None:
    """Wait until the database records ``deliveries`` succeeded ones."""
    db = Database.connect(url, pool_size=1, max_overflow=0)
    query = text("SELECT status, count(*) FROM webhook_deliveries GROUP BY status")
    counts: dict[str, int] = {}
    try:
        async with asyncio.timeout(within):
            while counts.get("succeeded", 0) < deliveries:
                await asyncio.sleep(0.05)
                async with db.sessionmaker() as session:
                    counts = {str(s): int(n) for s, n in (await session.execute(query)).all()}
    except TimeoutError:
        raise RuntimeError(f"deliveries not all recorded as succeeded: {counts}") from None
    finally:
        await db.dispose()


@dataclass(frozen=True, slots=True)
class DeliveryRun:
    workers: int
    deliveries: int
    seconds: float
    cpu_seconds: float

    @property
    def rate(self) -> float:
        return self.deliveries / self.seconds

    @property
    def cpu_ms_per_delivery(self) -> float:
        return self.cpu_seconds * 1000 / self.deliveries


class Bench:
    """The phases of the benchmark, on one database, receiver and pool of workers."""

    def __init__(self, url: str, receiver: Receiver, workers: Workers, subscriptions: int) -> None:
        self.url = url
        self.receiver = receiver
        self.workers = workers
        self.subscriptions = subscriptions
        self.delivered = 0  # distinct deliveries so far, every phase

    def _expect(self, events: int) -> int:
        deliveries = events * self.subscriptions
        self.receiver.expect(deliveries)
        self.delivered += deliveries
        return deliveries

    def _received(self, deliveries: int) -> None:
        if not self.receiver.wait(timeout=60 + deliveries / 10):
            raise RuntimeError(
                f"{len(self.receiver.first)} of {self.delivered} deliveries received in time"
            )

    def backlog(self, *, workers: int, events: int, label: str) -> DeliveryRun:
        """E events committed, then ``workers`` started: until every delivery is received."""
        asyncio.run(_commit_events(self.url, events, label))
        deliveries = self._expect(events)
        with self.workers.working(workers) as stop:
            started = time.perf_counter()
            self._received(deliveries)
            elapsed = time.perf_counter() - started
            # A delivery is received before its attempt is recorded: that is its cost too.
            asyncio.run(_succeeded(self.url, self.delivered))
            cpu = stop()
        return DeliveryRun(workers, deliveries, elapsed, cpu)

    def latency(self, *, events: int, per_second: float) -> list[float]:
        """Seconds from each event's commit to each of its deliveries' receipt, events
        committed one at a time ``per_second`` while one worker runs."""
        deliveries = self._expect(events)
        committed: dict[str, float] = {}
        with self.workers.working(1):
            time.sleep(0.5)  # the worker's first fetch and the relay's LISTEN
            asyncio.run(self._paced(events, per_second, committed))
            self._received(deliveries)
            asyncio.run(_succeeded(self.url, self.delivered))
        ids = asyncio.run(self._event_ids())
        return [
            received - committed[ids[msg_id]]
            for (_, msg_id), received in self.receiver.first.items()
            if ids.get(msg_id) in committed
        ]

    async def _paced(self, events: int, per_second: float, committed: dict[str, float]) -> None:
        db = Database.connect(self.url, pool_size=1, max_overflow=0)
        try:
            start = time.perf_counter()
            for n in range(events):
                await asyncio.sleep(max(0.0, start + n / per_second - time.perf_counter()))
                key = f"latency-{n}"
                async with db.unit_of_work() as session:
                    emit(session, TOPIC, "bench", key, {"n": n})
                committed[key] = time.perf_counter()
        finally:
            await db.dispose()

    async def _event_ids(self) -> dict[str, str]:
        """``webhook-id`` -> the event's aggregate id (its key in this benchmark)."""
        db = Database.connect(self.url, pool_size=1, max_overflow=0)
        try:
            async with db.sessionmaker() as session:
                found = await session.execute(
                    text("SELECT id, aggregate_id FROM outbox_events WHERE topic = :t"),
                    {"t": TOPIC},
                )
                return {f"evt_{event_id}": key for event_id, key in found.all()}
        finally:
            await db.dispose()


async def _client_cpu_ms(samples: int = 20) -> float:
    """CPU time to open and close the HTTP client ``webhooks.service.network.post`` makes for
    every attempt (httpx builds an SSL context for each, even for http)."""
    import httpx

    def client() -> httpx.AsyncClient:
        return httpx.AsyncClient(
            timeout=httpx.Timeout(10.0), follow_redirects=False, trust_env=False
        )

    async with client():  # the first one also reads the CA bundle's module in
        pass
    started = time.process_time()
    for _ in range(samples):
        async with client():
            pass
    return (time.process_time() - started) * 1000 / samples


def run_webhooks_benchmark(
    *, events: int = 40, subscriptions: int = 10, echo: Callable[[str], None] = print
) -> dict[str, float]:
    base = bootstrap.settings(demo=True)
    assert base.database_url is not None
    scratch = asyncio.run(
        create_database(base.database_url, f"pd_prime_bench_webhooks_{os.getpid()}")
    )
    settings = base.model_copy(update={"database_url": scratch})
    try:
        bootstrap.migrate(settings)
        with Receiver() as receiver, Workers(scratch, 2) as workers:
            asyncio.run(_setup(settings, receiver, subscriptions))
            bench = Bench(scratch, receiver, workers, subscriptions)
            # Untimed: the first run defers and runs the periodic sweeps, and warms each
            # process's caches.
            bench.backlog(workers=2, events=2, label="warm-up")
            per_run = events * subscriptions
            concurrency = settings.worker_concurrency
            echo(
                f"webhooks: {events} events x {subscriptions} subscriptions = {per_run} "
                f"deliveries per run to one receiver on 127.0.0.1 (204 at once); "
                f"{concurrency} jobs at a time per worker process"
            )
            runs = [
                bench.backlog(workers=workers, events=events, label=f"run-{workers}")
                for workers in (1, 2)
            ]
            for run in runs:
                echo(
                    f"  {run.workers} worker{'s' if run.workers > 1 else ' '}: "
                    f"{run.rate:8.0f} deliveries/s ({run.seconds:.2f} s; "
                    f"{run.cpu_ms_per_delivery:.2f} ms worker CPU per delivery)"
                )
            ratio = runs[1].rate / runs[0].rate
            echo(f"  2 workers / 1 worker throughput: {ratio:.2f}x")
            client_ms = asyncio.run(_client_cpu_ms())
            echo(
                f"  baseline: a new httpx.AsyncClient, as each attempt opens one, costs "
                f"{client_ms:.2f} ms CPU ({client_ms / runs[0].cpu_ms_per_delivery:.0%} of a "
                f"delivery's worker CPU)"
            )
            # Half the rate one worker sustained, in events a second (each makes N deliveries).
            latency_events = max(5, events // 4)
            per_second = runs[0].rate / 2 / subscriptions
            latencies = bench.latency(events=latency_events, per_second=per_second)
            assert len(latencies) == latency_events * subscriptions
            p50, p99 = percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000
            echo(
                f"  commit -> received, 1 worker at half its rate ({latency_events} events, "
                f"{per_second * subscriptions:.0f} deliveries/s): p50 {p50:.0f} ms, "
                f"p99 {p99:.0f} ms"
            )
            repeats = receiver.requests - len(receiver.first)
            echo(
                f"  receiver: {receiver.requests} requests ({repeats} repeated), "
                f"{receiver.verified} signatures verified, {receiver.forged} forged; "
                f"{receiver.cpu_seconds * 1000 / receiver.requests:.2f} ms CPU per request"
            )
            if receiver.forged or not receiver.verified:
                raise RuntimeError("the receiver could not verify the deliveries' signatures")
            return {
                "1 worker": runs[0].rate,
                "2 workers": runs[1].rate,
                "latency p50 ms": p50,
                "latency p99 ms": p99,
                "client ms": client_ms,
                "delivered": len(receiver.first),
                "expected": bench.delivered,
                "verified": receiver.verified,
            }
    finally:
        asyncio.run(drop_database(base.database_url, scratch))
