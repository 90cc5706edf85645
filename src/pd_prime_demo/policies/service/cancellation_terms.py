"""A product's cancellation rules and a term's written premium, as the cancellation rule
(``policies.rules.cancel``) takes them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from pd_prime_demo.policies import rules
from pd_prime_demo.premium.cancellation import CancellationTerms, ShortRate, ShortRateBasis
from pd_prime_demo.premium.proration import ZERO, Proration
from pd_prime_demo.products import service as products


def _bound(percent: Decimal | None, days: int | None, basis: ShortRateBasis) -> Decimal:
    value = percent if basis is ShortRateBasis.PERCENT_OF_TERM else days
    assert value is not None, "a product's short-rate rows carry their basis' key (validated)"
    return Decimal(value)


def cancellation_terms(version: products.CompiledVersion) -> CancellationTerms:
    """The product's cancellation rules, as the arithmetic takes them."""
    cancellation = version.definition.cancellation
    basis = ShortRateBasis(cancellation.short_rate_basis)
    return CancellationTerms(
        short_rate=tuple(
            ShortRate(_bound(r.up_to_percent, r.up_to_days, basis), r.earned_percent)
            for r in cancellation.short_rate_table
        ),
        short_rate_basis=basis,
        return_percent_of_pro_rata=cancellation.return_percent_of_pro_rata,
        minimum_earned=cancellation.minimum_earned_premium,
        proration=Proration(version.definition.proration),
    )


def term_figures(transitions: Iterable[rules.Transition], term_start: date) -> rules.TermFigures:
    """What the transitions in effect within the term starting ``term_start`` wrote."""
    term = [t for t in transitions if t.state.term_start == term_start]
    return rules.TermFigures(
        written=sum((t.premium_change for t in term), ZERO),
        taxes_written=sum((t.taxes_change for t in term), ZERO),
        earnings=tuple(e for t in term for e in t.earnings),
    )
