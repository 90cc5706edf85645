"""Fraud indicators as pure rules (each at and past its threshold) and the content sniffing
attachments are checked with."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from pd_prime_demo.claims.fraud import CoverageIncrease, Thresholds, increases_between, indicators
from pd_prime_demo.claims.sniff import sniff

T = Thresholds(
    days_after_inception=30,
    days_after_increase=30,
    recent_claims=3,
    recent_claims_days=365,
    days_before_cancellation=30,
)
INCEPTION = date(2027, 1, 1)


def _codes(loss_on: date, **kw: object) -> list[str]:
    values: dict[str, object] = {
        "inception_on": INCEPTION,
        "increases": [],
        "other_losses": [],
        "cancellations": [],
        "thresholds": T,
    }
    values.update(kw)
    return [i.code for i in indicators(loss_on=loss_on, **values)]  # type: ignore[arg-type]


def test_loss_soon_after_inception_up_to_the_threshold() -> None:
    assert _codes(INCEPTION) == ["loss_soon_after_inception"]
    assert _codes(INCEPTION + timedelta(days=30)) == ["loss_soon_after_inception"]
    assert _codes(INCEPTION + timedelta(days=31)) == []
    assert _codes(INCEPTION - timedelta(days=1)) == [], "before inception is a coverage finding"


def test_loss_soon_after_a_coverage_increase() -> None:
    raised = CoverageIncrease(date(2027, 3, 1), ("bi limit 50/100 -> 250/500",))
    assert _codes(date(2027, 3, 31), increases=[raised]) == ["loss_soon_after_coverage_increase"]
    assert _codes(date(2027, 4, 1), increases=[raised]) == []
    assert _codes(date(2027, 2, 28), increases=[raised]) == [], "a loss before the increase"
    reason = indicators(
        loss_on=date(2027, 3, 5),
        inception_on=INCEPTION,
        increases=[raised],
        other_losses=[],
        cancellations=[],
        thresholds=T,
    )[0].reason
    assert "4 day(s) after an endorsement effective 2027-03-01" in reason
    assert "bi limit 50/100 -> 250/500" in reason


def test_several_recent_claims_count_this_one() -> None:
    loss = date(2027, 6, 1)
    assert _codes(loss, other_losses=[date(2027, 5, 1)]) == []
    assert _codes(loss, other_losses=[date(2027, 5, 1), date(2027, 6, 20)]) == [
        "several_recent_claims"
    ]
    far = loss - timedelta(days=366)
    assert _codes(loss, other_losses=[date(2027, 5, 1), far]) == []


def test_loss_shortly_before_a_cancellation() -> None:
    loss = date(2027, 6, 1)
    assert _codes(loss, cancellations=[date(2027, 7, 1)]) == ["loss_shortly_before_cancellation"]
    assert _codes(loss, cancellations=[date(2027, 7, 2)]) == []
    assert _codes(loss, cancellations=[loss]) == [], "cancelled on the day: not covered at all"
    assert _codes(loss, cancellations=[date(2027, 5, 1)]) == []


def test_what_an_endorsement_increased() -> None:
    limits = {"bi": ["30/60", "50/100", "250/500"], "collision": []}
    deductibles = {"collision": ["250", "500", "1000"]}
    before = {"bi": {"limit": "50/100"}, "collision": {"deductible": "500"}}
    assert increases_between(
        before,
        {"bi": {"limit": "250/500"}, "collision": {"deductible": "250"}, "umuim": {}},
        limit_order=limits,
        deductible_order=deductibles,
    ) == ("bi limit 50/100 -> 250/500", "collision deductible 500 -> 250", "added umuim")
    lowered = {"bi": {"limit": "30/60"}, "collision": {"deductible": "1000"}}
    assert (
        increases_between(before, lowered, limit_order=limits, deductible_order=deductibles) == ()
    )
    assert increases_between(
        {},
        {},
        limit_order={},
        deductible_order={},
        before_values={"coverage_a": 300000},
        after_values={"coverage_a": 350000},
    ) == ("coverage_a 300000 -> 350000",)


@given(st.integers(min_value=-400, max_value=400), st.integers(min_value=0, max_value=60))
def test_indicators_never_fire_past_their_windows(offset: int, threshold: int) -> None:
    t = Thresholds(threshold, threshold, 3, 365, threshold)
    loss = INCEPTION + timedelta(days=offset)
    found = {
        i.code
        for i in indicators(
            loss_on=loss,
            inception_on=INCEPTION,
            increases=[],
            other_losses=[],
            cancellations=[],
            thresholds=t,
        )
    }
    assert ("loss_soon_after_inception" in found) == (0 <= offset <= threshold)


def test_sniffing_reads_the_bytes_not_the_name() -> None:
    assert sniff(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00") == "image/jpeg"
    assert sniff(b"\x89PNG\r\n\x1a\n\x00\x00") == "image/png"
    assert sniff(b"RIFF\x24\x00\x00\x00WEBPVP8 ") == "image/webp"
    heic = (24).to_bytes(4, "big") + b"ftypheic" + b"\x00\x00\x00\x00" + b"mif1heic"
    assert sniff(heic + b"\x00" * 8) == "image/heic"
    avif = (24).to_bytes(4, "big") + b"ftypavif" + b"\x00\x00\x00\x00" + b"mif1miaf"
    assert sniff(avif) is None, "AVIF shares the container but is not HEIC"
    assert sniff(b"%PDF-1.7\n...\n%%EOF\n") == "application/pdf"
    assert sniff(b"%PDF-1.7 but no end marker") is None
    assert sniff(b"<html><script>alert(1)</script>") is None
    assert sniff(b"GIF89a") is None
    assert sniff(b"") is None
