"""The money's pure rules: the limit net of the deductible, the per-occurrence limit, how a
payment uses the reserve, authority, and the ledger lines of every movement."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from pd_prime_demo.billing.service import Account, Line
from pd_prime_demo.claims import money as rules
from pd_prime_demo.claims.enums import CostType

D = Decimal
amounts = st.decimals(min_value=0, max_value=10**6, places=2, allow_nan=False)


def test_cap_is_the_limit_net_of_the_deductible_or_the_valuation_net_of_it() -> None:
    assert rules.payable_cap(D(10000), None, D(500)) == D(9500)
    assert rules.payable_cap(None, D(8000), D(500)) == D(7500)
    assert rules.payable_cap(None, None, D(500)) is None  # not valued yet: nothing payable
    assert rules.payable_cap(D(10000), D(6000), D(500)) == D(5500)  # never above its value
    assert rules.payable_cap(D(300), None, D(500)) == D(0)  # a deductible above the loss


def test_room_takes_the_lower_of_exposure_and_occurrence() -> None:
    room = rules.indemnity_room(
        limit_amount=D(100000),
        valuation=None,
        deductible=D(0),
        paid_on_exposure=D(20000),
        occurrence_limit=D(300000),
        paid_on_coverage=D(290000),
    )
    assert room.exposure_room == D(80000)
    assert room.occurrence_room == D(10000)
    assert room.available == D(10000)
    unvalued = rules.indemnity_room(
        limit_amount=None,
        valuation=None,
        deductible=D(500),
        paid_on_exposure=D(0),
        occurrence_limit=None,
        paid_on_coverage=D(0),
    )
    assert unvalued.available is None


def test_a_payment_above_the_reserve_raises_it_first() -> None:
    plan = rules.plan_payment(D(1000), D(1500))
    assert plan.raise_by == D(500)
    assert plan.reserve_after(D(1000)) == D(0)
    within = rules.plan_payment(D(2000), D(1500))
    assert within.raise_by == 0
    assert within.reserve_after(D(2000)) == D(500)
    none = rules.plan_payment(D(0), D(700))
    assert (none.raise_by, none.reserve_after(D(0))) == (D(700), D(0))


def test_authority() -> None:
    adjuster = rules.Authority(reserve_limit=D(25000), payment_limit=D(10000))
    assert rules.reserve_within(adjuster, D(0), D(25000))
    assert not rules.reserve_within(adjuster, D(0), D("25000.01"))
    assert rules.reserve_within(adjuster, D(90000), D(30000))  # taking down needs none
    assert not rules.reserve_within(None, D(0), D(1))  # no row: no authority
    assert rules.reserve_within(None, D(5), D(0))
    assert rules.payment_within(adjuster, D(0), D(10000))
    assert not rules.payment_within(adjuster, D(50000), D("10000.01"))
    assert not rules.payment_within(None, D(100), D(1))
    # A raise to cover the payment needs reserve authority for the raised reserve.
    payer = rules.Authority(reserve_limit=D(1000), payment_limit=D(5000))
    assert rules.payment_within(payer, D(3000), D(2000))
    assert not rules.payment_within(payer, D(0), D(2000))


def test_categories_are_a_closed_vocabulary_per_cost_type() -> None:
    assert rules.category_known(CostType.INDEMNITY, "vehicle_damage")
    assert not rules.category_known(CostType.EXPENSE, "vehicle_damage")
    assert rules.category_known(CostType.EXPENSE, "legal")
    assert not rules.category_known(CostType.INDEMNITY, "Vehicle_Damage")


def _balance(lines: list[Line]) -> dict[Account, Decimal]:
    out: dict[Account, Decimal] = {}
    for line in lines:
        out[line.account] = out.get(line.account, D(0)) + line.debit - line.credit
    return out


def test_movements_post_to_the_named_accounts() -> None:
    reserve = _balance(rules.reserve_change_lines(CostType.INDEMNITY, D(1000)))
    assert reserve == {Account.LOSS_RESERVE_CHANGE: D(1000), Account.LOSS_RESERVES: D(-1000)}
    down = _balance(rules.reserve_change_lines(CostType.EXPENSE, D(-300)))
    assert down == {Account.LAE_RESERVE_CHANGE: D(-300), Account.LAE_RESERVES: D(300)}
    paid = _balance(rules.payment_lines(CostType.INDEMNITY, D(400)))
    assert paid == {
        Account.PAID_LOSS: D(400),
        Account.CASH: D(-400),
        Account.LOSS_RESERVES: D(400),
        Account.LOSS_RESERVE_CHANGE: D(-400),
    }
    assert _balance(rules.payment_lines(CostType.EXPENSE, D(1)))[Account.PAID_LAE] == D(1)
    assert _balance(rules.recovery_lines(D(250))) == {
        Account.CASH: D(250),
        Account.RECOVERIES: D(-250),
    }


@given(st.sampled_from(list(CostType)), st.lists(amounts, min_size=1, max_size=12))
def test_a_reserve_then_payments_leave_the_case_reserve_equal_to_the_line(
    cost_type: CostType, payments: list[Decimal]
) -> None:
    """Whatever is paid, each entry balances, and the case reserve account holds exactly the
    outstanding reserve the plans leave."""
    reserve = D(0)
    books: dict[Account, Decimal] = {}
    entries = []
    for amount in payments:
        plan = rules.plan_payment(reserve, amount)
        if plan.raise_by:
            entries.append(rules.reserve_change_lines(cost_type, plan.raise_by))
        entries.append(rules.payment_lines(cost_type, amount))
        reserve = plan.reserve_after(reserve)
        assert reserve >= 0
    for entry in entries:
        assert sum((x.debit for x in entry), D(0)) == sum((x.credit for x in entry), D(0))
        for account, value in _balance(entry).items():
            books[account] = books.get(account, D(0)) + value
    reserves = Account.LOSS_RESERVES if cost_type is CostType.INDEMNITY else Account.LAE_RESERVES
    assert -books.get(reserves, D(0)) == reserve
    paid = Account.PAID_LOSS if cost_type is CostType.INDEMNITY else Account.PAID_LAE
    assert books.get(paid, D(0)) == sum(payments, D(0))
