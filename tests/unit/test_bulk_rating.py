"""The vectorised path equals the single path to the cent, for every policy of a book."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import replace
from functools import partial

import pytest

from pd_prime_demo.bench.rating import run_rating_benchmark, synthetic_book
from pd_prime_demo.products.shipped import shipped
from pd_prime_demo.rating.bulk import Book, BulkRater
from pd_prime_demo.rating.definition import ProductVersionDefinition
from pd_prime_demo.rating.engine import CompiledProduct, compile_product

SHIPPED = [
    pytest.param(partial(shipped, code), state, id=f"{name}-{state}")
    for name, code in (("auto", "personal_auto"), ("home", "homeowners_ho3"))
    for state in ("TX", "OH", "FL")
]


def _product_and_book(
    build: Callable[[str], ProductVersionDefinition], state: str, size: int
) -> tuple[CompiledProduct, Book]:
    definition = build(state)
    seed = zlib.crc32(state.encode()) % 1000  # stable across runs, unlike hash()
    return compile_product(definition), synthetic_book(definition, size, seed=seed)


@pytest.mark.parametrize(("build", "state"), SHIPPED)
def test_bulk_equals_single_path_for_every_policy(
    build: Callable[[str], ProductVersionDefinition], state: str
) -> None:
    product, book = _product_and_book(build, state, 1500)
    whole = BulkRater(product).rate(book)  # one chunk
    # Chunks that do not divide the book: every boundary must carry the vehicles over exactly.
    chunked = BulkRater(product, chunk=233).rate(book)
    for i in range(book.size):
        single = product.rate(book.rating_input(i), explain=False)
        for result in (whole, chunked):
            assert result.premium_cents[i] == int(single.premium * 100), i
            assert result.total_cents[i] == int(single.total * 100), i
    assert whole.exact_fallbacks > 0, "the book should exercise the exact (Decimal) rows too"
    assert chunked.exact_fallbacks == whole.exact_fallbacks


def test_a_chunk_holds_at_least_one_policy() -> None:
    with pytest.raises(ValueError, match="at least one policy"):
        BulkRater(compile_product(shipped("personal_auto", "TX")), chunk=0)


@pytest.mark.parametrize(("build", "state"), SHIPPED)
def test_amount_only_path_equals_the_explained_steps(
    build: Callable[[str], ProductVersionDefinition], state: str
) -> None:
    """Quoting and re-rating run generated code; the worksheet runs the steps one by one."""
    product, book = _product_and_book(build, state, 400)
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
