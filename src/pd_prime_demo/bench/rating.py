"""``pd-prime bench rating``: figures for the rating engine (printed, never asserted in tests).

For each shipped product: single-quote latency through the engine alone (p50/p99, with and
without the worksheet), the single path's throughput on a sample, and the vectorised bulk
re-rating of a synthetic book, with a sample checked against the single path to the cent.
"""

from __future__ import annotations

import gc
import random
import statistics
import time
from collections.abc import Callable
from typing import Literal

import numpy as np

from pd_prime_demo.products.shipped import shipped
from pd_prime_demo.quotes.schemas import AUTO_EXAMPLE
from pd_prime_demo.rating.bulk import Book, BulkRater, Column
from pd_prime_demo.rating.definition import ProductVersionDefinition, Variable, VariableType
from pd_prime_demo.rating.engine import CompiledProduct, RatingInput, Selection, compile_product


def _column(var: Variable, rows: int, rng: np.random.Generator) -> Column:
    if var.type is VariableType.ENUM:
        values = var.values or []
        return Column("enum", rng.integers(0, len(values), rows), tuple(values))
    if var.type is VariableType.BOOLEAN:
        return Column("bool", rng.integers(0, 2, rows))
    assert var.minimum is not None
    assert var.maximum is not None
    low, high = int(var.minimum), int(var.maximum)
    kind: Literal["int", "decimal"] = "int" if var.type is VariableType.INTEGER else "decimal"
    if var.name.endswith(("_3y", "_5y")):  # claim and violation counts are mostly zero
        return Column(kind, np.minimum(rng.poisson(0.3, rows), high).astype(np.int64))
    if high - low > 100_000:  # amounts of insurance are chosen in thousands
        return Column(kind, rng.integers(low // 1000, high // 1000 + 1, rows) * 1000)
    return Column(kind, rng.integers(low, high + 1, rows, dtype=np.int64))


def synthetic_book(defn: ProductVersionDefinition, size: int, seed: int = 7) -> Book:
    """A random but valid book for any product version: every value within its domain."""
    rng = np.random.default_rng(seed)

    def units(kind: str) -> np.ndarray:
        spec = defn.units.get(kind)  # type: ignore[call-overload]
        if spec is None:
            return np.zeros(size, dtype=np.int64)
        return rng.integers(max(spec.min_count, 1), min(spec.max_count, 3) + 1, size)

    driver_counts, vehicle_counts = units("driver"), units("vehicle")
    driver_policy = np.repeat(np.arange(size), driver_counts)
    vehicle_policy = np.repeat(np.arange(size), vehicle_counts)
    first_driver = np.concatenate(([0], np.cumsum(driver_counts)[:-1]))
    local = (rng.random(len(vehicle_policy)) * driver_counts[vehicle_policy]).astype(np.int64)
    columns: dict[str, dict[str, Column]] = {"policy": {}, "driver": {}, "vehicle": {}}
    rows = {"policy": size, "driver": len(driver_policy), "vehicle": len(vehicle_policy)}
    for var in defn.variables:
        if var.scope.value == "vehicle" and var.name == "driver":
            columns["vehicle"]["driver"] = Column("int", local)
            continue
        columns[var.scope.value][var.name] = _column(var, rows[var.scope.value], rng)
    selected: dict[str, np.ndarray] = {
        c.code: np.ones(size, dtype=bool) if c.required else rng.random(size) < 0.6
        for c in defn.coverages
    }
    for _ in range(len(defn.coverages)):  # honour "requires" until stable
        for cov in defn.coverages:
            for needed in cov.requires:
                selected[cov.code] &= selected[needed]
    limits = {
        c.code: Column(
            "enum", rng.integers(0, len(c.limits), size), tuple(o.code for o in c.limits)
        )
        for c in defn.coverages
        if c.limits
    }
    deductibles = {
        c.code: Column(
            "enum", rng.integers(0, len(c.deductibles), size), tuple(o.code for o in c.deductibles)
        )
        for c in defn.coverages
        if c.deductibles
    }
    return Book(
        size=size,
        policy=columns["policy"],
        drivers=columns["driver"],
        vehicles=columns["vehicle"],
        driver_policy=driver_policy,
        vehicle_policy=vehicle_policy,
        vehicle_driver=first_driver[vehicle_policy] + local,
        selected=selected,
        limits=limits,
        deductibles=deductibles,
    )


def reference_auto_quote(product: CompiledProduct) -> RatingInput:
    """The documented example (two drivers, two vehicles) with every coverage selected."""
    risk = AUTO_EXAMPLE["risk"]
    territory = (product.definition.variables[0].values or [""])[0]
    return RatingInput(
        policy={**risk["policy"], "territory": territory},
        drivers=tuple(risk["drivers"]),
        vehicles=tuple(risk["vehicles"]),
        coverages={
            c.code: Selection(c.default_limit, c.default_deductible)
            for c in product.definition.coverages
        },
    )


def _percentiles(fn: Callable[[], object], samples: int) -> tuple[float, float]:
    timings = []
    for _ in range(samples):
        started = time.perf_counter()
        fn()
        timings.append(time.perf_counter() - started)
    timings.sort()
    return timings[len(timings) // 2] * 1e6, timings[int(len(timings) * 0.99)] * 1e6


def bench_product(
    defn: ProductVersionDefinition,
    single: RatingInput,
    *,
    policies: int,
    samples: int,
    echo: Callable[[str], object],
    check: int = 1000,
) -> dict[str, float]:
    product = compile_product(defn)
    p50, p99 = _percentiles(lambda: product.rate(single, explain=False), samples)
    e50, e99 = _percentiles(lambda: product.rate(single, explain=True), max(samples // 4, 10))
    echo(f"{defn.product_code} {defn.state} {defn.version}")
    echo(f"  single quote, engine only:    p50 {p50:8.1f} us   p99 {p99:8.1f} us")
    echo(f"  ... with the worksheet:       p50 {e50:8.1f} us   p99 {e99:8.1f} us")

    started = time.perf_counter()
    book = synthetic_book(defn, policies)
    echo(
        f"  synthetic book: {policies:,} policies, {len(book.vehicle_policy):,} vehicles "
        f"({time.perf_counter() - started:.1f} s to generate, not timed below)"
    )

    sample_size = min(policies, max(check, 2000))
    inputs = [book.rating_input(i) for i in range(sample_size)]
    started = time.perf_counter()
    scalar = [product.rate(r, explain=False) for r in inputs]
    single_rate = sample_size / (time.perf_counter() - started)
    echo(
        f"  single path:  {single_rate:12,.0f} policies/s/core "
        f"(the book would take {policies / single_rate:6.1f} s)"
    )

    # The sample above left many live objects; a full GC pass over them is not rating work.
    gc.collect()
    gc.disable()
    try:
        started = time.perf_counter()
        result = BulkRater(product).rate(book)
        elapsed = time.perf_counter() - started
        # Again, now that the book's columns are encoded (their distinct values found).
        started = time.perf_counter()
        BulkRater(product).rate(book)
        encoded = time.perf_counter() - started
    finally:
        gc.enable()
    echo(
        f"  vectorised:   {policies / elapsed:12,.0f} policies/s/core "
        f"({elapsed:.2f} s for the book including encoding its columns, {encoded:.2f} s once "
        f"encoded; {result.exact_fallbacks} rows computed in Decimal near a rounding boundary)"
    )

    picks = random.Random(11).sample(  # noqa: S311 - sampling, not security
        range(sample_size), min(check, sample_size)
    )
    mismatches = sum(
        1
        for i in picks
        if int(scalar[i].premium * 100) != result.premium_cents[i]
        or int(scalar[i].total * 100) != result.total_cents[i]
    )
    echo(f"  check: {len(picks)} sampled policies, {mismatches} differ from the single path")
    return {
        "p50_us": p50,
        "p99_us": p99,
        "bulk_seconds": elapsed,
        "bulk_encoded_seconds": encoded,
        "single_per_second": single_rate,
        "mismatches": float(mismatches),
    }


def run_rating_benchmark(
    *, policies: int, samples: int, echo: Callable[[str], object] = print
) -> dict[str, dict[str, float]]:
    auto = shipped("personal_auto", "TX")
    home = shipped("homeowners_ho3", "TX")
    home_single = synthetic_book(home, 1, seed=1).rating_input(0)
    results = {
        "personal_auto": bench_product(
            auto,
            reference_auto_quote(compile_product(auto)),
            policies=policies,
            samples=samples,
            echo=echo,
        ),
        "homeowners_ho3": bench_product(
            home,
            home_single,
            policies=policies,
            samples=samples,
            echo=echo,
        ),
    }
    mean = statistics.fmean(r["mismatches"] for r in results.values())
    echo(
        f"targets: auto single quote p50 < 100 us; 1,000,000 re-rated < 10 s on one core "
        f"(< 1 s vectorised). Mismatches overall: {mean:.0f}"
    )
    return results
