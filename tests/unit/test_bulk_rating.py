"""The vectorised path equals the single path to the cent, for every policy of a book."""

from __future__ import annotations

from dataclasses import replace

import pytest

from pd_prime_demo.bench import run_rating_benchmark, synthetic_book
from pd_prime_demo.products.catalog import homeowners, personal_auto
from pd_prime_demo.rating.bulk import BulkRater
from pd_prime_demo.rating.engine import compile_product


@pytest.mark.parametrize("state", ["TX", "OH", "FL"])
@pytest.mark.parametrize("build", [personal_auto, homeowners], ids=["auto", "home"])
def test_bulk_equals_single_path_for_every_policy(build: object, state: str) -> None:
    definition = build(state)  # type: ignore[operator]
    product = compile_product(definition)
    book = synthetic_book(definition, 1500, seed=hash(state) % 1000)
    result = BulkRater(product).rate(book)
    for i in range(book.size):
        single = product.rate(book.rating_input(i), explain=False)
        assert result.premium_cents[i] == int(single.premium * 100), i
        assert result.total_cents[i] == int(single.total * 100), i
    assert result.exact_fallbacks > 0, "the book should exercise the exact (Decimal) rows too"


@pytest.mark.parametrize("state", ["TX", "OH", "FL"])
@pytest.mark.parametrize("build", [personal_auto, homeowners], ids=["auto", "home"])
def test_amount_only_path_equals_the_explained_steps(build: object, state: str) -> None:
    """Quoting and re-rating run generated code; the worksheet runs the steps one by one."""
    definition = build(state)  # type: ignore[operator]
    product = compile_product(definition)
    book = synthetic_book(definition, 400, seed=hash(state) % 997)
    for i in range(book.size):
        risk = book.rating_input(i)
        explained = product.rate(risk)
        assert product.rate(risk, explain=False) == replace(explained, worksheet=()), i


def test_benchmark_reports_figures_and_no_mismatch() -> None:
    lines: list[str] = []
    results = run_rating_benchmark(policies=1500, samples=50, echo=lines.append)
    assert {r["mismatches"] for r in results.values()} == {0.0}
    text = "\n".join(lines)
    assert "single quote, engine only" in text
    assert "vectorised" in text
    assert "0 differ from the single path" in text
