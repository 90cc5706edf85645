"""A claim's life across features in random orders and dates, with the books checked after
every step.

Hypothesis drives a state machine through the real services on a real, committed database
(as ``test_lifecycle_stateful`` does for a policy), moving the clock forward as it goes: bind
a policy, file claims on any day (before inception, in force, after a cancellation or past the
term: inside and outside cover), open exposures per coverage and claimant, value them, set
reserves, pay (some over the limit, some over the adjuster's authority, which wait for an
approval an administrator approves or rejects), recover salvage and subrogation, move the
claim through its statuses (close, reopen), and endorse, cancel or reinstate the policy in
between. After every step:

* the ledger balances, for the whole book and each journal entry;
* each reserve line's reserve, paid and recovered equal the sums of its transactions;
* the indemnity paid on each exposure is within its limit net of the deductible (and the
  coverage's per-occurrence limit across the claim's exposures);
* the case reserves, paid loss and LAE and recoveries on the policy's ledger equal what its
  claims' reserve lines hold;
* a closed claim has no outstanding reserve and no pending approval;
* every status move is in the claim's history: a chain from ``reported`` to the claim's
  status, each link a move the workflow allows, and each move this machine made is there.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import uuid
from collections.abc import Coroutine, Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, ClassVar, TypeVar
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from pd_prime_demo.billing import service as billing
from pd_prime_demo.claims import money as money_rules
from pd_prime_demo.claims import rules as claim_rules
from pd_prime_demo.claims import service as claims
from pd_prime_demo.claims.enums import ClaimStatus, ClosedOutcome, CostType, MoneyKind
from pd_prime_demo.claims.schemas_fnol import ClaimCreate
from pd_prime_demo.claims.service import approvals as claim_approvals
from pd_prime_demo.claims.service import exposures as claim_exposures
from pd_prime_demo.claims.service import payments as claim_payments
from pd_prime_demo.core.actor import Actor, Role
from pd_prime_demo.core.clock import frozen_at
from pd_prime_demo.core.database import Database, run_migrations_async
from pd_prime_demo.core.result_types import Ok
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.customers import service as customers
from pd_prime_demo.customers.schemas import PersonCreate
from pd_prime_demo.identity import service as identity
from pd_prime_demo.identity.rules import user_actor
from pd_prime_demo.policies import service as policies
from pd_prime_demo.policies.enums import ConflictResolution
from pd_prime_demo.quotes import service as quotes
from pd_prime_demo.quotes.schemas import AUTO_EXAMPLE, QuoteCreate
from pd_prime_demo.seed import seed_products
from tests.conftest import create_scratch_database, drop_scratch_database, make_settings
from tests.factories import PASSWORD, person

T = TypeVar("T")
SYSTEM = Actor.system("claims-stateful-test")
START = date(2027, 3, 1)
ZONE = "America/Chicago"
ZERO = Decimal(0)
# Each cause with the coverage its first exposure opens under (liability twice as often: its
# limits are the policy's options, so it pays without a valuation first). The full auto
# package has them all, each rated per vehicle (bi with per-claimant and per-occurrence
# limits; collision and comprehensive on the valuation basis).
CAUSES = {
    "liability": "pd",
    "collision": "collision",
    "medical": "medpay",
    "theft": "comprehensive",
    "glass": "comprehensive",
    "uninsured_motorist": "umuim",
}
CATEGORY = {CostType.INDEMNITY: "vehicle_damage", CostType.EXPENSE: "adjusting"}


@pytest.fixture(scope="module")
def claims_book(server_url: str) -> Iterator[str]:
    """A migrated database with the shipped products, an adjuster and an administrator."""

    async def create() -> str:
        url = await create_scratch_database(server_url)
        await run_migrations_async(url)
        runtime = Runtime.create(
            make_settings(url, redis_url=None), db=Database(create_async_engine(url))
        )
        async with runtime.db.unit_of_work() as session:
            await seed_products(session)
            for role in (Role.ADJUSTER, Role.ADMIN):
                made = await identity.create_user(
                    session,
                    email=f"{role.value}-{uuid.uuid4().hex[:8]}@example.com",
                    password=PASSWORD,
                    full_name=f"Stateful {role.value}",
                    role=role,
                    passwords=runtime.passwords,
                    actor=SYSTEM,
                )
                assert isinstance(made, Ok), made
                ClaimLife.staff[role] = user_actor(made.value.id, role.value, None)
        await runtime.close()
        return url

    url = asyncio.run(create())
    yield url
    asyncio.run(drop_scratch_database(server_url, url))


def _loss_body(policy_id: uuid.UUID, loss_on: date, cause: str) -> ClaimCreate:
    return ClaimCreate.model_validate(
        {
            "policy_id": str(policy_id),
            "loss_at": datetime.combine(loss_on, time(9), tzinfo=ZoneInfo(ZONE)).isoformat(),
            "time_zone": ZONE,
            "cause_code": cause,
            "location": {
                "line1": "Congress Ave & 6th St",
                "city": "Austin",
                "state": "TX",
                "postal_code": "78701",
            },
            "description": "A loss the state machine reports.",
            "parties": [
                {"role": "driver", "name": "Pat Insured"},
                {"role": "claimant", "name": "Lee Claimant", "injured": True},
            ],
            "vehicles": [{"policy_unit": 0, "damage": "Front bumper"}],
        }
    )


class ClaimLife(RuleBasedStateMachine):
    url: ClassVar[str]
    staff: ClassVar[dict[Role, Actor]] = {}

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.runtime = Runtime.create(
            make_settings(self.url, redis_url=None),
            db=Database(create_async_engine(self.url, pool_size=2)),
        )
        self.today = START
        self.policy_id: uuid.UUID | None = None
        self.claims: list[uuid.UUID] = []
        self.exposures: list[tuple[uuid.UUID, uuid.UUID]] = []
        self.approvals: list[uuid.UUID] = []
        # Every status move this machine made: (claim, from, to), to be found in the history.
        self.moves: list[tuple[uuid.UUID, str, str]] = []

    @property
    def adjuster(self) -> Actor:
        return self.staff[Role.ADJUSTER]

    @property
    def admin(self) -> Actor:
        return self.staff[Role.ADMIN]

    def teardown(self) -> None:
        self.loop.run_until_complete(self.runtime.close())
        self.loop.close()

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        """``work`` on the machine's loop, at noon of its current day."""
        with frozen_at(datetime(self.today.year, self.today.month, self.today.day, 12, tzinfo=UTC)):
            return self.loop.run_until_complete(work)

    async def _in_unit(self, work: Any) -> Any:
        async with self.runtime.db.unit_of_work() as session:
            return await work(session)

    def unit(self, work: Any) -> Any:
        return self.run(self._in_unit(work))

    async def _in_session(self, work: Any) -> Any:
        async with self.runtime.db.sessionmaker() as session:
            return await work(session)

    @property
    def _id(self) -> uuid.UUID:
        assert self.policy_id is not None
        return self.policy_id

    # -- the policy ---------------------------------------------------------------------------

    @initialize()
    def bind(self) -> None:
        async def work(session: AsyncSession) -> uuid.UUID:
            created = await customers.create_customer(
                session,
                PersonCreate.model_validate(person()),
                actor=SYSTEM,
                cipher=self.runtime.cipher,
            )
            assert isinstance(created, Ok), created
            body = copy.deepcopy(AUTO_EXAMPLE)
            body["customer_id"] = str(created.value.id)
            body["effective_on"] = (self.today + timedelta(days=5)).isoformat()
            quote = await quotes.create_quote(
                session, QuoteCreate.model_validate(body), actor=SYSTEM
            )
            assert isinstance(quote, Ok), quote
            bound = await policies.bind_quote(
                session, quote.value.id, option="full", payment_plan="annual", actor=SYSTEM
            )
            assert isinstance(bound, Ok), bound
            return bound.value.policy.id

        self.policy_id = self.unit(work)
        self.today += timedelta(days=20)  # in force for a fortnight

    @rule(days=st.integers(1, 30))
    def time_passes(self, days: int) -> None:
        self.today += timedelta(days=days)

    @rule(
        change=st.sampled_from(["endorse", "cancel", "reinstate"]),
        offset=st.integers(-20, 30),
        collision=st.sampled_from(["250", "500", "1000"]),
        bi=st.sampled_from(["30/60", "100/300"]),
    )
    def change_policy(self, change: str, offset: int, collision: str, bi: str) -> None:
        """Endorse (the collision deductible, the bodily injury limits), cancel or reinstate,
        effective ``offset`` days from today (one rule: the claims' rules get most steps)."""
        on = self.today + timedelta(days=offset)

        async def work(session: AsyncSession) -> None:
            if change == "endorse":
                await policies.endorse(
                    session,
                    self._id,
                    effective_on=on,
                    risk=None,
                    coverages={"bi": {"limit": bi}, "collision": {"deductible": collision}},
                    on_conflict=ConflictResolution.REFUSE,
                    actor=SYSTEM,
                )
            elif change == "cancel":
                await policies.cancel(
                    session,
                    self._id,
                    effective_on=on,
                    reason_code="insured_request",
                    note=None,
                    on_conflict=ConflictResolution.REFUSE,
                    actor=SYSTEM,
                )
            else:
                await policies.reinstate(
                    session, self._id, effective_on=None, note=None, actor=SYSTEM
                )

        self.unit(work)

    # -- the claims ---------------------------------------------------------------------------

    @rule(
        # Mostly in force (the policy incepted 15 days before the first step); now and then
        # before inception or, once time has passed, after a cancellation or the term's end.
        back=st.one_of(st.integers(0, 12), st.integers(0, 12), st.integers(0, 120)),
        cause=st.sampled_from(["liability", *CAUSES]),
        exposure=st.booleans(),
    )
    def file_claim(self, back: int, cause: str, exposure: bool = False) -> None:
        """A loss ``back`` days ago: before inception, in force, or after the cover ended;
        and, as an adjuster would next, an exposure under the cause's first coverage."""

        async def work(session: AsyncSession) -> None:
            filed = await claims.file_claim(
                session,
                _loss_body(self._id, self.today - timedelta(days=back), cause),
                actor=self.adjuster,
                cipher=self.runtime.cipher,
                settings=self.runtime.settings,
            )
            if isinstance(filed, Ok):
                self.claims.append(filed.value.id)
                if filed.value.status == ClaimStatus.OPEN:
                    self.moves.append((filed.value.id, "reported", "open"))

        self.unit(work)
        if exposure and self.claims:
            self.open_exposure(len(self.claims) - 1, CAUSES[cause], 0, cause == "liability")

    @precondition(lambda self: self.claims)
    @rule(
        pick=st.integers(0, 50),
        coverage=st.sampled_from(sorted(set(CAUSES.values()) | {"bi"})),
        unit=st.sampled_from([0, 1, 0, 1, 2, None]),  # every coverage is per vehicle
        claimant=st.booleans(),
    )
    def open_exposure(self, pick: int, coverage: str, unit: int | None, claimant: bool) -> None:
        claim_id = self.claims[pick % len(self.claims)]

        async def work(session: AsyncSession) -> None:
            party = None
            if claimant:
                party = await session.scalar(
                    text(
                        "SELECT id FROM claim_parties WHERE claim_id = :c AND role = 'claimant'"
                    ).bindparams(c=claim_id)
                )
            opened = await claim_exposures.add_exposure(
                session,
                claim_id,
                coverage_code=coverage,
                policy_unit=unit,
                claimant_party_id=party,
                actor=self.adjuster,
            )
            if isinstance(opened, Ok):
                self.exposures.append((claim_id, opened.value.exposure.id))

        self.unit(work)

    def _exposure(self, pick: int) -> tuple[uuid.UUID, uuid.UUID]:
        return self.exposures[pick % len(self.exposures)]

    @precondition(lambda self: self.exposures)
    @rule(pick=st.integers(0, 50), value=st.integers(200, 30_000))
    def value_exposure(self, pick: int, value: int) -> None:
        claim_id, exposure_id = self._exposure(pick)
        self.unit(
            lambda session: claim_exposures.set_valuation(
                session,
                claim_id,
                exposure_id,
                valuation=Decimal(value),
                reason="appraisal",
                actor=self.adjuster,
            )
        )

    async def _note_approval(self, result: Any) -> None:
        if isinstance(result, Ok) and result.value.approval is not None:
            self.approvals.append(result.value.approval.id)

    @precondition(lambda self: self.exposures)
    @rule(
        pick=st.integers(0, 50),
        cost_type=st.sampled_from(list(CostType)),
        amount=st.integers(0, 40_000),  # above 25,000 (indemnity) waits for an approval
    )
    def set_reserve(self, pick: int, cost_type: CostType, amount: int) -> None:
        claim_id, exposure_id = self._exposure(pick)

        async def work(session: AsyncSession) -> None:
            result = await claim_payments.set_reserve(
                session,
                claim_id,
                exposure_id,
                cost_type=cost_type,
                category=CATEGORY[cost_type],
                amount=Decimal(amount),
                reason="estimate",
                actor=self.adjuster,
            )
            await self._note_approval(result)

        self.unit(work)

    @precondition(lambda self: self.exposures)
    @rule(
        pick=st.integers(0, 50),
        cost_type=st.sampled_from(list(CostType)),
        # Above 10,000 waits for an approval; some go over the limit net of the deductible.
        cents=st.one_of(st.integers(100, 600_000), st.integers(100, 5_000_000)),
    )
    def pay(self, pick: int, cost_type: CostType, cents: int) -> None:
        claim_id, exposure_id = self._exposure(pick)

        async def work(session: AsyncSession) -> None:
            result = await claim_payments.make_payment(
                session,
                claim_id,
                exposure_id,
                cost_type=cost_type,
                category=CATEGORY[cost_type],
                amount=Decimal(cents) / 100,
                payee="Body shop",
                reason="invoice",
                idempotency_key=None,
                actor=self.adjuster,
            )
            await self._note_approval(result)

        self.unit(work)

    @precondition(lambda self: self.approvals)
    @rule(pick=st.integers(0, 50), approve=st.booleans())
    def decide(self, pick: int, approve: bool) -> None:
        approval_id = self.approvals[pick % len(self.approvals)]
        self.unit(
            lambda session: claim_approvals.decide(
                session, approval_id, approve=approve, note="reviewed", actor=self.admin
            )
        )

    @precondition(lambda self: self.exposures)
    @rule(
        pick=st.integers(0, 50),
        kind=st.sampled_from([MoneyKind.SALVAGE, MoneyKind.SUBROGATION]),
        cost_type=st.sampled_from(list(CostType)),
        cents=st.integers(100, 500_000),
    )
    def recover(self, pick: int, kind: MoneyKind, cost_type: CostType, cents: int) -> None:
        claim_id, exposure_id = self._exposure(pick)
        self.unit(
            lambda session: claim_payments.record_recovery(
                session,
                claim_id,
                exposure_id,
                kind=kind,
                cost_type=cost_type,
                category=CATEGORY[cost_type],
                amount=Decimal(cents) / 100,
                payer="Other driver's insurer",
                reason="recovered",
                actor=self.adjuster,
            )
        )

    @precondition(lambda self: self.claims)
    @rule(
        pick=st.integers(0, 50),
        goal=st.sampled_from(
            [
                (ClaimStatus.UNDER_INVESTIGATION, None),
                (ClaimStatus.CLOSED, ClosedOutcome.PAID),
                (ClaimStatus.CLOSED, ClosedOutcome.WITHOUT_PAYMENT),
                (ClaimStatus.CLOSED, ClosedOutcome.DENIED),
                (ClaimStatus.REOPENED, None),
            ]
        ),
    )
    def move(self, pick: int, goal: tuple[ClaimStatus, ClosedOutcome | None]) -> None:
        claim_id = self.claims[pick % len(self.claims)]
        status, outcome = goal

        async def work(session: AsyncSession) -> None:
            before = await session.scalar(
                text("SELECT status FROM claims WHERE id = :c").bindparams(c=claim_id)
            )
            moved = await claims.change_status(
                session,
                claim_id,
                status,
                outcome=outcome,
                reason="the machine says so",
                expected_version=None,
                actor=self.adjuster,
            )
            if isinstance(moved, Ok):
                self.moves.append((claim_id, str(before), status.value))

        self.unit(work)

    # -- the invariants -----------------------------------------------------------------------

    @precondition(lambda self: self.policy_id is not None)
    @invariant()
    def the_books_hold(self) -> None:
        async def check(session: AsyncSession) -> None:
            trial = await billing.trial_balance(session)
            assert trial.balanced, trial
            await self._lines_equal_their_transactions(session)
            await self._indemnity_within_limits(session)
            await self._ledger_holds_the_claims(session)
            await self._closed_claims_hold_nothing(session)
            await self._every_move_in_the_history(session)

        self.run(self._in_session(check))

    async def _rows(self, session: AsyncSession, sql: str) -> list[Any]:
        ids = self.claims or [uuid.uuid4()]
        return list((await session.execute(text(sql).bindparams(ids=ids))).all())

    async def _lines_equal_their_transactions(self, session: AsyncSession) -> None:
        rows = await self._rows(
            session,
            "SELECT l.id, l.reserve, l.paid, l.recovered, "
            "COALESCE(sum(t.reserve_change), 0), "
            "COALESCE(sum(t.amount) FILTER (WHERE t.kind = 'payment'), 0), "
            "COALESCE(sum(t.amount) FILTER (WHERE t.kind IN ('salvage', 'subrogation')), 0) "
            "FROM claim_reserve_lines l LEFT JOIN claim_transactions t ON t.reserve_line_id = l.id "
            "WHERE l.claim_id = ANY(:ids) GROUP BY l.id",
        )
        for line_id, reserve, paid, recovered, changes, payments, recoveries in rows:
            assert (reserve, paid, recovered) == (changes, payments, recoveries), line_id
            assert reserve >= 0, line_id
            assert recovered <= paid, line_id

    async def _indemnity_within_limits(self, session: AsyncSession) -> None:
        rows = await self._rows(
            session,
            "SELECT e.id, e.claim_id, e.coverage_code, e.limit_amount, e.valuation, "
            "e.deductible_amount, e.occurrence_limit, COALESCE(sum(l.paid), 0) "
            "FROM claim_exposures e LEFT JOIN claim_reserve_lines l "
            "ON l.exposure_id = e.id AND l.cost_type = 'indemnity' "
            "WHERE e.claim_id = ANY(:ids) GROUP BY e.id",
        )
        by_coverage: dict[tuple[uuid.UUID, str], tuple[Decimal | None, Decimal]] = {}
        for exposure_id, claim_id, coverage, limit, valuation, deductible, occurrence, paid in rows:
            cap = money_rules.payable_cap(limit, valuation, deductible)
            assert paid <= (cap if cap is not None else ZERO), (exposure_id, paid, cap)
            key = (claim_id, coverage)
            _, before = by_coverage.get(key, (occurrence, ZERO))
            by_coverage[key] = (occurrence, before + paid)
        for key, (occurrence, paid) in by_coverage.items():
            assert occurrence is None or paid <= occurrence, (key, paid, occurrence)

    async def _ledger_holds_the_claims(self, session: AsyncSession) -> None:
        """The policy's claim accounts are what its claims' reserve lines hold (the claims of
        this policy are all this machine's)."""
        books = await billing.balances(session, policy_id=self._id)
        rows = await self._rows(
            session,
            "SELECT l.cost_type, COALESCE(sum(l.reserve), 0), COALESCE(sum(l.paid), 0), "
            "COALESCE(sum(l.recovered), 0) FROM claim_reserve_lines l "
            "WHERE l.claim_id = ANY(:ids) GROUP BY l.cost_type",
        )
        held = {CostType(c): (r, p, rec) for c, r, p, rec in rows}
        loss = held.get(CostType.INDEMNITY, (ZERO, ZERO, ZERO))
        lae = held.get(CostType.EXPENSE, (ZERO, ZERO, ZERO))
        account = billing.Account
        assert -books[account.LOSS_RESERVES] == loss[0], "case reserves (loss) on the ledger"
        assert -books[account.LAE_RESERVES] == lae[0], "case reserves (LAE) on the ledger"
        assert books[account.PAID_LOSS] == loss[1], "paid loss on the ledger"
        assert books[account.PAID_LAE] == lae[1], "paid LAE on the ledger"
        assert -books[account.RECOVERIES] == loss[2] + lae[2], "recoveries on the ledger"

    async def _closed_claims_hold_nothing(self, session: AsyncSession) -> None:
        rows = await self._rows(
            session,
            "SELECT c.id, COALESCE((SELECT sum(reserve) FROM claim_reserve_lines "
            "WHERE claim_id = c.id), 0), (SELECT count(*) FROM claim_approvals "
            "WHERE claim_id = c.id AND status = 'pending') "
            "FROM claims c WHERE c.id = ANY(:ids) AND c.status = 'closed'",
        )
        for claim_id, reserve, pending in rows:
            assert reserve == 0, ("a closed claim holds a reserve", claim_id, reserve)
            assert pending == 0, ("a closed claim has a pending approval", claim_id)

    async def _every_move_in_the_history(self, session: AsyncSession) -> None:
        history = await self._rows(
            session,
            "SELECT h.claim_id, h.from_status, h.to_status, c.status FROM claim_status_history h "
            "JOIN claims c ON c.id = h.claim_id WHERE h.claim_id = ANY(:ids) "
            "ORDER BY h.claim_id, h.at, h.id",
        )
        chains: dict[uuid.UUID, list[tuple[str | None, str]]] = {}
        current: dict[uuid.UUID, str] = {}
        for claim_id, from_status, to_status, status in history:
            chains.setdefault(claim_id, []).append((from_status, to_status))
            current[claim_id] = status
        assert set(chains) == set(self.claims), "every claim has its history"
        for claim_id, chain in chains.items():
            assert chain[0] == (None, "reported"), chain
            for (_, before), (after_from, after_to) in itertools.pairwise(chain):
                assert after_from == before, chain
                assert ClaimStatus(after_to) in claim_rules.MOVES[ClaimStatus(before)], chain
            assert chain[-1][1] == current[claim_id], (chain, current[claim_id])
        for claim_id, before, after in self.moves:
            assert (before, after) in chains[claim_id], (claim_id, before, after)


async def _reached(url: str) -> dict[str, int]:
    """What the search reached, counted in the database it wrote."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    text(
                        "SELECT (SELECT count(*) FROM claims), "
                        "(SELECT count(*) FROM claims WHERE coverage_status = 'flagged'), "
                        "(SELECT count(*) FROM claim_exposures), "
                        "(SELECT count(*) FROM claim_transactions WHERE kind = 'payment'), "
                        "(SELECT count(*) FROM claim_transactions WHERE kind IN "
                        "('salvage', 'subrogation')), "
                        "(SELECT count(*) FROM claim_approvals WHERE status = 'approved'), "
                        "(SELECT count(*) FROM claim_approvals WHERE status = 'rejected'), "
                        "(SELECT count(*) FROM claim_status_history WHERE to_status = 'closed'), "
                        "(SELECT count(*) FROM claim_status_history WHERE to_status = 'reopened')"
                    )
                )
            ).one()
    finally:
        await engine.dispose()
    names = "claims flagged exposures payments recoveries approved rejected closed reopened"
    return dict(zip(names.split(), (int(v) for v in row), strict=True))


def test_a_claim_life_in_random_orders_keeps_the_books(claims_book: str) -> None:
    ClaimLife.url = claims_book
    runner = ClaimLife.TestCase
    runner.settings = settings(
        max_examples=20,
        stateful_step_count=30,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
        derandomize=True,
    )
    runner().runTest()
    reached = asyncio.run(_reached(claims_book))
    # A search that never got past filing would check nothing of the money.
    assert reached["exposures"], reached
    assert reached["payments"], reached


def test_paths_found_by_hand_keep_the_books(claims_book: str) -> None:
    """Paths the random search is unlikely to take in a few examples, through the same checks:
    a payment over the limit net of the deductible, one over the adjuster's authority that is
    approved and one that is rejected, a recovery, a close that takes the reserves down and a
    reopening; then a loss after a cancellation (recorded, flagged)."""
    ClaimLife.url = claims_book
    machine = ClaimLife()
    try:
        machine.bind()
        machine.time_passes(40)
        machine.file_claim(3, "collision")
        assert machine.claims, "a claim in force is recorded"
        machine.open_exposure(0, "collision", 0, False)
        assert machine.exposures, "the collision exposure opens"
        machine.the_books_hold()
        machine.value_exposure(0, 8000)
        machine.set_reserve(0, CostType.INDEMNITY, 5000)
        machine.set_reserve(0, CostType.EXPENSE, 400)
        machine.the_books_hold()
        machine.pay(0, CostType.INDEMNITY, 900_000)  # 9,000 > 8,000 less the deductible
        machine.pay(0, CostType.INDEMNITY, 300_000)  # raises nothing: 5,000 reserved
        machine.the_books_hold()
        machine.open_exposure(0, "bi", 0, True)
        assert len(machine.exposures) == 2, "a bodily injury exposure for the claimant"
        machine.pay(1, CostType.INDEMNITY, 1_200_000)  # 12,000 > the adjuster's 10,000
        machine.pay(1, CostType.INDEMNITY, 1_100_000)
        assert len(machine.approvals) == 2, "both wait for an approval"
        machine.decide(0, True)
        machine.decide(1, False)
        machine.the_books_hold()
        machine.recover(0, MoneyKind.SUBROGATION, CostType.INDEMNITY, 150_000)
        machine.move(0, (ClaimStatus.CLOSED, ClosedOutcome.PAID))
        machine.the_books_hold()
        machine.move(0, (ClaimStatus.REOPENED, None))
        machine.set_reserve(0, CostType.INDEMNITY, 700)
        machine.the_books_hold()
        assert len(machine.moves) == 3, machine.moves  # open (assigned), closed, reopened
        machine.change_policy("cancel", -5, "500", "100/300")
        machine.time_passes(10)
        machine.file_claim(2, "glass")
        machine.the_books_hold()
    finally:
        machine.teardown()
