"""The tables ``bench book`` prints: each size's phases, the targets of issue 19 (pass or fail
at the size measured, and projected linearly to a million policies), and the growth between
sizes."""

from __future__ import annotations

import itertools
import statistics
from typing import Any

from pd_prime_demo.bench.book_probe import Echo, Phase

MILLION = 1_000_000
HEADER = (
    f"   {'phase':<34}{'wall s':>9}{'cpu s':>9}{'pg cpu s':>9}{'peak MiB':>9}"
    f"{'rows written':>14}{'rows read':>14}{'load':>6}  note"
)


def row(p: Phase) -> str:
    pg = f"{p.postgres_cpu:9.1f}" if p.postgres_cpu is not None else f"{'':9}"
    return (
        f"   {p.name:<34}{p.wall:9.2f}{p.cpu:9.2f}{pg}{p.peak_mb:9.0f}"
        f"{p.written:14,}{p.read:14,}{p.load:6.2f}  {p.note}"
    )


def _result_text(result: object) -> str:
    if isinstance(result, dict):
        return ", ".join(f"{k} {v}" for k, v in result.items() if not isinstance(v, list))
    return str(result)


def _days(result: dict[str, Any]) -> list[Phase]:
    return [
        p for p in result["phases"] if p.name.startswith("day ") and p.name != "day 0 (catch-up)"
    ]


def phase(result: dict[str, Any], name: str) -> Phase | None:
    return next((p for p in result["phases"] if p.name == name), None)


def sweeps(result: dict[str, Any], *, catch_up: bool = False) -> dict[str, list[dict[str, Any]]]:
    """What the queue did for each sweep (or task), a day each (day 0 too when ``catch_up``):
    jobs, busy (summed job time), span (first start to last end), and the day's invoices."""
    days = _days(result)
    if catch_up and (first := phase(result, "day 0 (catch-up)")) is not None:
        days = [first, *days]
    found: dict[str, list[dict[str, Any]]] = {}
    for day in days:
        for name, figures in day.extra.get("jobs", {}).items():
            found.setdefault(name, []).append({**figures, "invoiced": day.extra.get("invoiced", 0)})
    return found


def print_size(result: dict[str, Any], echo: Echo) -> None:
    n = result["policies"]
    echo(f"\n-- {n:,} policies: {', '.join(f'{v:,} {k}' for k, v in result['counts'].items())}")
    echo(HEADER)
    for p in result["phases"]:
        echo(row(p))
        if p.name.startswith("day "):
            x = p.extra
            parts = [
                f"{name} {f['jobs']} jobs, busy {f['busy']:.2f}s, span {f['span']:.2f}s"
                for name, f in x.get("jobs", {}).items()
            ]
            echo(
                f"      invoiced {x.get('invoiced', 0):,}, notices {x.get('notices', 0):,}; "
                f"sweeps planned in {x.get('planning s', 0.0):.2f}s, queue drained in "
                f"{x.get('queue s', 0.0):.2f}s: " + "; ".join(parts)
            )
        elif p.extra:
            echo("      " + ", ".join(_figure(k, v) for k, v in p.extra.items()))
    echo(
        f"   per sweep or task over days 1..{len(_days(result))} "
        "(jobs a day median; busy s median / max; span s median / max):"
    )
    for name, runs in sweeps(result).items():
        busy, span = [r["busy"] for r in runs], [r["span"] for r in runs]
        echo(
            f"      {name:<24}{statistics.median(r['jobs'] for r in runs):8.0f}"
            f"{statistics.median(busy):9.2f}{max(busy):9.2f}"
            f"{statistics.median(span):9.2f}{max(span):9.2f}"
        )


def _figure(key: str, value: object) -> str:
    return f"{key} {value:,.1f}" if isinstance(value, float) else f"{key} {value}"


def _verdict(ok: bool | None) -> str:
    return "n/a " if ok is None else ("PASS" if ok else "FAIL")


def _targets(result: dict[str, Any], smallest: dict[str, Any] | None) -> list[str]:
    n = result["policies"]
    scale = MILLION / n
    lines = [] if n >= 10_000 else ["(below 10,000 policies, fixed costs swamp the projections)"]
    year = phase(result, "premium report, year")
    if year is not None:
        # The idle app alone is resident at some 240 MiB: what the report adds is its own.
        grew = year.peak_mb - float(year.extra.get("rss before MiB", 0.0))
        ok = year.wall < 2 and grew < 200 and "HTTP 200" in year.note
        lines.append(
            f"{_verdict(ok)} year's premium report < 2 s and < 200 MB server: {year.wall:.2f} s, "
            f"server peak {year.peak_mb:.0f} MiB = idle + {grew:.0f} MiB ({year.note}); "
            f"linear to 1M {year.wall * scale:.1f} s, +{grew * scale:.0f} MiB"
        )
    earn = [r["span"] for r in sweeps(result).get("ledger.earn", [])]
    if earn:
        worst = max(earn)
        lines.append(
            f"{_verdict(worst < 60)} a day's earning < 60 s: worst day {worst:.2f} s (its jobs, "
            f"first start to last end); linear to 1M {worst * scale:.1f} s"
        )
    bills = [b for b in sweeps(result, catch_up=True).get("billing.run", []) if b["invoiced"]]
    count = sum(b["invoiced"] for b in bills)
    if count:
        per = sum(b["busy"] for b in bills) / count
        lines.append(
            f"{_verdict(per * 100_000 < 300)} 100,000 invoices in one billing run < 5 min: "
            f"{count:,} issued at {per * 1000:.2f} ms of billing jobs each (notices and "
            f"cancellations included), {per * 100_000:.0f} s for 100,000 "
            f"(largest day {max(b['invoiced'] for b in bills):,})"
        )
    else:
        lines.append("n/a  100,000 invoices < 5 min: no invoice issued")
    lines += _relative(result, smallest)
    return lines


def _relative(result: dict[str, Any], smallest: dict[str, Any] | None) -> list[str]:
    if smallest is None or smallest is result:
        return ["n/a  p99 as at 10k, ledger check and audit verify linear: need a smaller size"]
    ratio = result["policies"] / smallest["policies"]
    lines = []
    now, then = phase(result, "requests"), phase(smallest, "requests")
    if now is not None and then is not None:
        for kind in ("list page", "policy read", "as-of read"):
            a, b = now.extra.get(f"{kind} p99 ms"), then.extra.get(f"{kind} p99 ms")
            if a is not None and b:
                lines.append(
                    f"{_verdict(a <= 1.5 * b + 2)} {kind} p99 as at {smallest['policies']:,}: "
                    f"{a:.1f} ms vs {b:.1f} ms ({a / b:.2f}x)"
                )
    for name in ("ledger check (CLI)", "audit verify (CLI)"):
        a_phase, b_phase = phase(result, name), phase(smallest, name)
        if a_phase is None or b_phase is None or not b_phase.wall:
            continue
        grew = a_phase.wall / b_phase.wall
        lines.append(
            f"{_verdict(grew <= 1.5 * ratio)} {name} linear: {grew:.1f}x the time for "
            f"{ratio:.0f}x the policies ({b_phase.wall:.2f} s -> {a_phase.wall:.2f} s)"
        )
    return lines


GROWTH = (
    "build: import (",
    "day 0 (catch-up)",
    "premium report, month",
    "premium report, year",
    "trial balance (HTTP)",
    "ledger check (CLI)",
    "audit verify (CLI)",
)


def print_summary(results: list[dict[str, Any]], echo: Echo) -> None:
    if not results:
        return
    echo("\n== targets (issue 19: at 1,000,000 policies on this machine)")
    for result in results:
        echo(f"   {result['policies']:,} policies:")
        for line in _targets(result, results[0]):
            echo(f"      {line}")
    if len(results) < 2:
        return
    echo("\n== growth between sizes (wall time ratio; x the policies)")
    for small, large in itertools.pairwise(results):
        ratio = large["policies"] / small["policies"]
        echo(f"   {small['policies']:,} -> {large['policies']:,} ({ratio:.0f}x the policies):")
        for prefix in GROWTH:
            a = next((p for p in small["phases"] if p.name.startswith(prefix)), None)
            b = next((p for p in large["phases"] if p.name.startswith(prefix)), None)
            if a and b and a.wall:
                echo(
                    f"      {b.name:<34}{b.wall / a.wall:8.1f}x  "
                    f"peak MiB {a.peak_mb:.0f} -> {b.peak_mb:.0f}"
                )
        for name, runs in sweeps(large).items():
            before = sweeps(small).get(name)
            if before:
                x = statistics.median(r["busy"] for r in before)
                y = statistics.median(r["busy"] for r in runs)
                if x:
                    echo(f"      {'day median busy: ' + name:<34}{y / x:8.1f}x")
