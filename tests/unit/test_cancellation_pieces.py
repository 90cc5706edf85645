"""A cancellation after a mid-term endorsement returns what each written piece leaves
unearned, each from the day it was written; no method returns more than that (the penalty is
never negative), and a term written in one piece gets the figures it always got."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from pd_prime_demo.policies import rules
from pd_prime_demo.policies.enums import CancellationReason
from pd_prime_demo.premium.cancellation import (
    CancellationMethod,
    CancellationTerms,
    ShortRate,
    earned_at_cancellation,
)
from pd_prime_demo.premium.proration import Proration, cents

START, END = date(2027, 1, 1), date(2028, 1, 1)  # 365 days
VERSION = uuid.uuid4()
SHORT_RATE = (
    ShortRate(Decimal(10), Decimal(20)),
    ShortRate(Decimal(50), Decimal(60)),
    ShortRate(Decimal(90), Decimal(95)),
)


def _priced(premium: Decimal) -> rules.Priced:
    return rules.Priced(VERSION, "r1", {"x": premium}, premium, Decimal(0), Decimal(0))


def _term(
    premium: Decimal, changes: list[tuple[date, Decimal]], basis: Proration = Proration.DAYS
) -> tuple[rules.Transition, rules.TermFigures]:
    """New business at ``premium``, then each (day, new full-term premium) endorsement."""
    last = rules.issue(
        term_start=START,
        term_end=END,
        option="x",
        coverages={},
        risk={},
        priced=_priced(premium),
        surcharge=None,
        payment_plan="annual",
        insured_id=uuid.uuid4(),
        proration=basis,
    )
    pieces = list(last.earnings)
    written = last.premium_change
    for day, new_premium in changes:
        last = rules.endorse(
            last.state, _priced(new_premium), effective_on=day, risk={}, coverages={},
            proration=basis,
        )  # fmt: skip
        pieces += last.earnings
        written += last.premium_change
    return last, rules.TermFigures(written, Decimal(0), tuple(pieces))


def _cancel(
    last: rules.Transition,
    term: rules.TermFigures,
    day: date,
    method: str,
    terms: CancellationTerms = CancellationTerms(),
    reason: CancellationReason = CancellationReason.INSURED_REQUEST,
) -> rules.Transition:
    return rules.cancel(
        last.state, term, effective_on=day, reason=reason, product_method=method, terms=terms
    )


def test_pro_rata_after_a_mid_term_increase_returns_each_pieces_unearned() -> None:
    # $1,200.00 for the year from Jan 1; on Apr 1 (day 90, 275 days left) the full-term premium
    # becomes $1,500.00: the endorsement writes 300.00 x 275/365 = 226.027... -> $226.03.
    last, term = _term(Decimal("1200.00"), [(date(2027, 4, 1), Decimal("1500.00"))])
    assert last.premium_change == Decimal("226.03")
    assert term.written == Decimal("1426.03")
    # Cancelled pro rata Jul 1 (day 181, 184 days left):
    #   new business:  1200.00 x 184/365         = 604.9315... -> 604.93
    #   endorsement:    226.03 x 184/275         = 151.2346... -> 151.23
    #   return                                    = 756.16
    # (the written premium spread over the whole term, 1426.03 x 184/365 = 718.86, returned
    # $37.30 too little; after a decrease it returned too much).
    cancelled = _cancel(last, term, date(2027, 7, 1), "pro_rata")
    assert -cancelled.premium_change == Decimal("756.16")
    assert cancelled.state.cancellation is not None
    assert cancelled.state.cancellation.return_premium == Decimal("756.16")
    unearned, penalty = cancelled.earnings
    assert (unearned.amount, penalty.amount) == (Decimal("-756.16"), Decimal(0))


def test_pro_rata_after_a_mid_term_decrease_the_reviewers_figures() -> None:
    # The reviewer's auto term: $2,580.00 from Dec 8 2026 to Jun 8 2027 (182 days); from Dec 31
    # (159 days left) the full-term premium is $1,037.04: (1037.04 - 2580) x 159/182
    # = -1347.9661... -> -1347.97, so written is $1,232.03.
    start, end = date(2026, 12, 8), date(2027, 6, 8)
    first = rules.issue(
        term_start=start, term_end=end, option="x", coverages={}, risk={},
        priced=_priced(Decimal("2580.00")), surcharge=None, payment_plan="annual",
        insured_id=uuid.uuid4(), proration=Proration.DAYS,
    )  # fmt: skip
    change = rules.endorse(
        first.state, _priced(Decimal("1037.04")), effective_on=date(2026, 12, 31), risk={},
        coverages={}, proration=Proration.DAYS,
    )  # fmt: skip
    assert change.premium_change == Decimal("-1347.97")
    term = rules.TermFigures(Decimal("1232.03"), Decimal(0), first.earnings + change.earnings)
    # Cancelled pro rata Jan 30 2027 (129 days left):
    #   new business: 2580.00 x 129/182   = 1828.6813... -> 1828.68
    #   endorsement: -1347.97 x 129/159   = -1093.6364... -> -1093.64
    #   return                             =  735.04 (earned 496.99), not 873.25
    # (the reviewer's 735.05 prorates the unrounded rates; the ledger wrote the endorsement to
    # the cent, -1347.97 for -1347.9661..., and each piece is returned from what it wrote).
    cancelled = _cancel(change, term, date(2027, 1, 30), "pro_rata")
    assert -cancelled.premium_change == Decimal("735.04")
    assert term.written + cancelled.premium_change == Decimal("496.99")
    assert cancelled.earnings[1].amount == Decimal(0)


def test_short_rate_and_percent_start_from_the_pieces_pro_rata() -> None:
    last, term = _term(Decimal("1200.00"), [(date(2027, 4, 1), Decimal("1500.00"))])
    day = date(2027, 7, 1)  # 181/365 = 49.6% of the term: the 60% row
    # Short rate keeps max(1426.03 - 756.16, 1426.03 x 60%) = max(669.87, 855.62) = 855.62.
    short = _cancel(last, term, day, "short_rate", CancellationTerms(short_rate=SHORT_RATE))
    assert -short.premium_change == Decimal("1426.03") - Decimal("855.62")
    assert short.earnings[1].amount == Decimal("756.16") - Decimal("570.41")
    # 90% of pro rata: 756.16 x 90% = 680.544 -> 680.54.
    ninety = CancellationTerms(return_percent_of_pro_rata=Decimal(90))
    assert -_cancel(last, term, day, "percent_of_pro_rata", ninety).premium_change == Decimal(
        "680.54"
    )
    # A minimum earned premium above what is earned: kept on the insured's request only.
    minimum = CancellationTerms(minimum_earned=Decimal("1000.00"))
    assert -_cancel(last, term, day, "pro_rata", minimum).premium_change == Decimal("426.03")
    by_carrier = _cancel(last, term, day, "pro_rata", minimum, CancellationReason.UNDERWRITING)
    assert -by_carrier.premium_change == Decimal("756.16")
    # From the term's first day: flat, everything back.
    assert -_cancel(last, term, START, "short_rate").premium_change == Decimal("1426.03")


_METHODS = st.sampled_from(
    [m.value for m in CancellationMethod if m is not CancellationMethod.FLAT]
)
_PREMIUM = st.decimals(min_value=Decimal("50.00"), max_value=Decimal("9000.00"), places=2)


@settings(max_examples=300, deadline=None)
@given(
    premium=_PREMIUM,
    changes=st.lists(st.tuples(st.integers(1, 363), _PREMIUM), max_size=3),
    cancel_day=st.integers(1, 364),
    method=_METHODS,
    basis=st.sampled_from(list(Proration)),
    percent=st.integers(0, 100),
    minimum=st.none() | _PREMIUM,
)
def test_no_method_returns_more_than_pro_rata_nor_less_than_nothing(
    premium: Decimal,
    changes: list[tuple[int, Decimal]],
    cancel_day: int,
    method: str,
    basis: Proration,
    percent: int,
    minimum: Decimal | None,
) -> None:
    dated = sorted((START + timedelta(days=d), p) for d, p in changes)
    last, term = _term(premium, dated, basis)
    day = START + timedelta(days=cancel_day)
    terms = CancellationTerms(
        short_rate=SHORT_RATE,
        return_percent_of_pro_rata=Decimal(percent),
        minimum_earned=minimum,
        proration=basis,
    )
    cancelled = _cancel(last, term, day, method, terms)
    pro_rata = -_cancel(last, term, day, "pro_rata").premium_change
    returned = -cancelled.premium_change
    unearned, penalty = cancelled.earnings
    assert penalty.amount >= 0
    assert Decimal(0) <= returned <= pro_rata <= term.written
    assert -unearned.amount - penalty.amount == returned
    if not dated:
        # One piece: exactly the figures of the whole term's premium prorated, as always.
        kept = earned_at_cancellation(method, premium, START, END, day, terms)
        assert returned == premium - kept
        assert pro_rata == cents(premium * (END - day).days / (END - START).days) or (
            basis is Proration.MONTHS
        )
