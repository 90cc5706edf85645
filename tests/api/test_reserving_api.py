"""Loss triangles and reserve analyses through the API: the RAA triangle imported as CSV gives
Mack (1993)'s published figures from the stored analysis, a stored analysis reads back byte
for byte, bad CSV cells are named, triangles built from claim transactions have the right
cells, Bornhuetter-Ferguson takes a built triangle's earned premium from billing."""

from __future__ import annotations

import itertools
import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

import tests.api.test_loss_reports as data
from pd_prime_demo.claims.enums import CostType, MoneyKind
from pd_prime_demo.claims.service import payments
from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.result_types import Ok
from pd_prime_demo.core.runtime import Runtime
from tests.claims_money_support import actor_of, claim_row, exposure_row
from tests.claims_support import at, bound_policy, fresh, staff
from tests.factories import create_user

TRIANGLES = "/api/v1/reserving/triangles"
RAA_ROWS = [
    [5012, 8269, 10907, 11805, 13539, 16181, 18009, 18608, 18662, 18834],
    [106, 4285, 5396, 10666, 13782, 15599, 15496, 16169, 16704],
    [3410, 8992, 13873, 16141, 18735, 22214, 22863, 23466],
    [5655, 11555, 15766, 21266, 23425, 26083, 27067],
    [1092, 9565, 15836, 22169, 25955, 26180],
    [1513, 6445, 11702, 12935, 15852],
    [557, 4020, 10946, 12314],
    [1351, 6947, 13112],
    [3133, 5395],
    [2063],
]
HEADER = "origin," + ",".join(str(12 * (k + 1)) for k in range(10))


def raa_csv(*, incremental: bool = False) -> str:
    lines = [HEADER]
    for i, row in enumerate(RAA_ROWS):
        values = row
        if incremental:
            values = [row[0], *(b - a for a, b in itertools.pairwise(row))]
        cells = [str(v) for v in values] + [""] * (10 - len(values))
        lines.append(",".join([str(1981 + i), *cells]))
    return "\n".join(lines) + "\n"


async def actuary(client: AsyncClient, runtime: Runtime) -> dict[str, str]:
    return await fresh(client, await staff(client, runtime, Role.ADMIN))


async def import_raa(client: AsyncClient, headers: dict[str, str], **extra: Any) -> dict[str, Any]:
    body = {"name": "RAA", "measure": "paid", "allow_decrease": True, "csv": raa_csv(), **extra}
    response = await client.post(f"{TRIANGLES}/import", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_raa_through_the_api_gives_mack_1993_figures_from_the_stored_analysis(
    client: AsyncClient, runtime: Runtime
) -> None:
    headers = await actuary(client, runtime)
    triangle = await import_raa(client, headers)
    assert triangle["origins"][0] == "1981"
    assert triangle["ages"][-1] == 120
    assert triangle["values"][1][6] == "15496.00"
    assert triangle["values"][9][1] is None
    url = f"{TRIANGLES}/{triangle['id']}/analyses"
    cl = await client.post(url, json={"method": "chain_ladder"}, headers=headers)
    assert cl.status_code == 201, cl.text
    stored = await client.get(cl.headers["location"], headers=headers)
    assert stored.status_code == 200
    assert stored.content == cl.content  # shown again exactly, byte for byte
    totals = stored.json()["totals"]
    assert (totals["ultimate"], totals["ibnr"]) == ("213122.23", "52135.23")
    assert stored.json()["result"]["average"] == "volume"
    mack = await client.post(url, json={"method": "mack"}, headers=headers)
    assert mack.status_code == 201, mack.text
    read = await client.get(mack.headers["location"], headers=headers)
    assert read.content == mack.content
    assert read.json()["totals"]["se"] == "26880.74"
    assert read.json()["result"]["sigma_method"] == "log-linear"
    assert read.json()["parameters"]["sigma_extrapolation"] == "log-linear"
    own = await client.post(
        url, json={"method": "mack", "sigma_extrapolation": "mack"}, headers=headers
    )
    assert own.json()["result"]["sigma_method"] == "mack"
    assert own.json()["totals"]["se"] != "26880.74"
    listed = await client.get(url, headers=headers)
    assert [a["id"] for a in listed.json()["items"]] == [
        own.json()["id"],
        mack.json()["id"],
        cl.json()["id"],
    ]


async def test_incremental_import_and_selected_factors_and_tail(
    client: AsyncClient, runtime: Runtime
) -> None:
    headers = await actuary(client, runtime)
    cumulative = await import_raa(client, headers)
    incremental = await import_raa(client, headers, csv=raa_csv(incremental=True), cumulative=False)
    assert incremental["values"] == cumulative["values"]
    url = f"{TRIANGLES}/{incremental['id']}/analyses"
    plain = (await client.post(url, json={"method": "chain_ladder"}, headers=headers)).json()
    tailed = await client.post(
        url,
        json={
            "method": "chain_ladder",
            "average": "simple",
            "selected": {"12": "2.5"},
            "tail": 1.05,
        },
        headers=headers,
    )
    assert tailed.status_code == 201, tailed.text
    result = tailed.json()["result"]
    assert result["factors"][0] == 2.5
    assert result["tail"] == 1.05
    assert result["selected"] == [[12, 2.5]]
    assert tailed.json()["parameters"]["selected"] == {"12": "2.5"}
    # Every origin is developed by the tail: more IBNR than without it.
    assert Decimal(tailed.json()["totals"]["ibnr"]) > Decimal(plain["totals"]["ibnr"])
    last_age = await client.post(
        url, json={"method": "chain_ladder", "selected": {"120": 1.1}}, headers=headers
    )
    assert last_age.status_code == 422
    assert last_age.json()["code"] == "reserving.method_failed"
    elsewhere = f"{TRIANGLES}/{cumulative['id']}/analyses/{tailed.json()['id']}"
    assert (await client.get(elsewhere, headers=headers)).status_code == 404


async def test_bad_cells_are_named_and_nothing_is_stored(
    client: AsyncClient, runtime: Runtime
) -> None:
    headers = await actuary(client, runtime)
    lines = raa_csv().splitlines()
    cells = lines[3].split(",")
    cells[3] = "13873x"  # row 4 (the header is row 1), column 36
    lines[3] = ",".join(cells)
    body = {"name": "bad", "measure": "paid", "allow_decrease": True, "csv": "\n".join(lines)}
    response = await client.post(f"{TRIANGLES}/import", json=body, headers=headers)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "reserving.bad_triangle_csv"
    assert "row 4, column 36: not a number" in [e["detail"] for e in problem["errors"]]
    assert problem["problems"][0]["row"] == 4
    assert problem["problems"][0]["column"] == "36"
    # RAA's 1982 paid goes down at 84 months: refused unless allowed (net of recoveries).
    strict = await client.post(
        f"{TRIANGLES}/import",
        json={**body, "csv": raa_csv(), "allow_decrease": False},
        headers=headers,
    )
    assert strict.status_code == 422
    assert any("row 3, column 84" in e["detail"] for e in strict.json()["errors"])
    listed = await client.get(TRIANGLES, headers=headers)
    assert listed.json()["items"] == []


async def test_who_may_build_run_and_read(client: AsyncClient, runtime: Runtime) -> None:
    triangle = await import_raa(client, await actuary(client, runtime))
    adjuster = await fresh(client, await staff(client, runtime, Role.ADJUSTER))
    body = {"name": "x", "measure": "paid", "allow_decrease": True, "csv": raa_csv()}
    refused = await client.post(f"{TRIANGLES}/import", json=body, headers=adjuster)
    assert refused.status_code == 403
    run = await client.post(
        f"{TRIANGLES}/{triangle['id']}/analyses", json={"method": "mack"}, headers=adjuster
    )
    assert run.status_code == 403
    read = await client.get(f"{TRIANGLES}/{triangle['id']}", headers=adjuster)
    assert read.status_code == 200
    assert read.json() == triangle
    agent = await fresh(client, await staff(client, runtime, Role.AGENT))
    assert (await client.get(TRIANGLES, headers=agent)).status_code == 403
    missing = await client.get(f"{TRIANGLES}/{uuid.uuid4()}", headers=adjuster)
    assert missing.status_code == 404


async def test_idempotent_import(client: AsyncClient, runtime: Runtime) -> None:
    headers = await actuary(client, runtime)
    body = {"name": "RAA", "measure": "paid", "allow_decrease": True, "csv": raa_csv()}
    keyed = {**headers, "Idempotency-Key": "raa-1"}
    first = await client.post(f"{TRIANGLES}/import", json=body, headers=keyed)
    again = await client.post(f"{TRIANGLES}/import", json=body, headers=keyed)
    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert len((await client.get(TRIANGLES, headers=headers)).json()["items"]) == 1


async def build(client: AsyncClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    request = {"name": "built", "valuation_on": "2026-12-31", **body}
    response = await client.post(TRIANGLES, json=request, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_triangles_built_from_claim_transactions(
    client: AsyncClient, runtime: Runtime
) -> None:
    policy = await data.policy_earning_in_2026(client, runtime)
    await data.book(runtime, policy)
    headers = await actuary(client, runtime)
    paid = await build(client, headers, measure="paid")
    assert paid["origins"] == ["2024", "2025", "2026"]
    assert paid["ages"] == [12, 24, 36]
    assert paid["values"] == [
        ["300.00", "1400.00", "1400.00"],
        ["0.00", "1500.00", None],
        ["300.00", None, None],
    ]
    assert paid["source"] == "built"
    assert paid["scope"]["net_of_recoveries"] is True
    gross = await build(client, headers, measure="paid", net_of_recoveries=False)
    assert gross["values"][0] == ["300.00", "1500.00", "1500.00"]
    incurred = await build(client, headers, measure="incurred")
    assert incurred["values"] == [
        ["1000.00", "1600.00", "1500.00"],
        ["2000.00", "2000.00", None],
        ["800.00", None, None],
    ]
    counts = await build(client, headers, measure="reported_count")
    assert counts["values"] == [["1", "2", "2"], ["1", "1", None], ["1", None, None]]
    auto = await build(client, headers, measure="paid", product_code=policy["product_code"])
    assert auto["values"][0] == ["300.00", "700.00", "700.00"]
    quarterly = await build(
        client, headers, measure="paid", grain="quarter", first_origin_on="2026-01-01"
    )
    assert quarterly["origins"] == ["2026Q1", "2026Q2", "2026Q3", "2026Q4"]
    assert quarterly["ages"] == [3, 6, 9, 12]
    assert quarterly["values"][1] == ["0.00", "300.00", "300.00", None]  # E: paid in July
    mid_year = await client.post(
        TRIANGLES,
        json={"name": "x", "measure": "paid", "valuation_on": "2026-06-30"},
        headers=headers,
    )
    assert mid_year.status_code == 422
    assert mid_year.json()["code"] == "reserving.valuation_not_period_end"


async def test_bornhuetter_ferguson_and_cape_cod_premium(
    client: AsyncClient, runtime: Runtime
) -> None:
    policy = await data.policy_earning_in_2026(client, runtime)
    await data.book(runtime, policy)
    await data.earn_through_valuation(runtime)
    headers = await actuary(client, runtime)
    auto = policy["product_code"]
    built = await build(
        client, headers, measure="incurred", product_code=auto, first_origin_on="2026-01-01"
    )
    url = f"{TRIANGLES}/{built['id']}/analyses"
    given = await client.post(
        url,
        json={"method": "cape_cod", "earned_premium": {"2026": "1000.00"}},
        headers=headers,
    )
    assert given.status_code == 422
    assert given.json()["code"] == "reserving.premium_from_billing"
    bf = await client.post(
        url,
        json={"method": "bornhuetter_ferguson", "expected_loss_ratio": "0.65", "tail": "1.25"},
        headers=headers,
    )
    assert bf.status_code == 201, bf.text
    parameters = bf.json()["parameters"]
    assert parameters["earned_premium_source"] == "billing"
    report = await client.get(
        "/api/v1/reports/losses",
        params={"valuation_on": "2026-12-31", "start": "2026-01-01", "product_code": auto},
        headers=headers,
    )
    earned = report.json()["totals"]["earned_premium"]
    assert parameters["earned_premium"] == {"2026": earned}
    # IBNR = ELR x premium x (1 - 1 / CDF), the CDF being the tail alone for one age.
    expected = (Decimal("0.65") * Decimal(earned) * Decimal("0.2")).quantize(Decimal("0.01"))
    assert abs(Decimal(bf.json()["totals"]["ibnr"]) - expected) <= Decimal("0.01")
    stored = await client.get(bf.headers["location"], headers=headers)
    assert stored.content == bf.content
    imported = await import_raa(client, headers)
    url = f"{TRIANGLES}/{imported['id']}/analyses"
    missing = await client.post(url, json={"method": "cape_cod"}, headers=headers)
    assert missing.status_code == 422
    assert missing.json()["code"] == "reserving.premium_required"
    premium = {str(1981 + i): "40000.00" for i in range(10)}
    cape = await client.post(
        url, json={"method": "cape_cod", "earned_premium": premium}, headers=headers
    )
    assert cape.status_code == 201, cape.text
    assert cape.json()["parameters"]["earned_premium_source"] == "request"
    assert cape.json()["result"]["method"] == "cape_cod"


async def test_a_triangle_of_money_posted_through_the_claims_services(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    """A reserve, a payment and a salvage posted by the money services on known days (their
    accounting date is the day they are posted) land in the right cells."""
    agent = await staff(client, runtime, Role.AGENT)
    made = await bound_policy(client, agent)
    admin_id = await create_user(runtime, Role.ADMIN)
    actor = actor_of(admin_id, Role.ADMIN)
    with at(date(2027, 2, 10)):
        claim = await claim_row(
            session, policy_id=uuid.UUID(made.policy_id), customer_id=uuid.UUID(made.customer_id)
        )
        claim.loss_on = date(2027, 2, 9)
        exposure = await exposure_row(session, claim)
        reserved = await payments.set_reserve(
            session,
            claim.id,
            exposure.id,
            cost_type=CostType.INDEMNITY,
            category="vehicle_damage",
            amount=Decimal("2000.00"),
            reason="estimate",
            actor=actor,
        )
        assert isinstance(reserved, Ok), reserved
    with at(date(2027, 5, 5)):
        paid = await payments.make_payment(
            session,
            claim.id,
            exposure.id,
            cost_type=CostType.INDEMNITY,
            category="vehicle_damage",
            amount=Decimal("800.00"),
            payee="Austin Body Works",
            reason="repair invoice",
            idempotency_key="pay-1",
            actor=actor,
        )
        assert isinstance(paid, Ok), paid
    with at(date(2027, 8, 1)):
        salvage = await payments.record_recovery(
            session,
            claim.id,
            exposure.id,
            kind=MoneyKind.SALVAGE,
            cost_type=CostType.INDEMNITY,
            category="vehicle_damage",
            amount=Decimal("100.00"),
            payer="Copart",
            reason="salvage sold",
            actor=actor,
        )
        assert isinstance(salvage, Ok), salvage
    await session.commit()
    headers = await actuary(client, runtime)
    common = {"grain": "quarter", "valuation_on": "2027-09-30", "first_origin_on": "2027-01-01"}
    net_paid = await build(client, headers, measure="paid", **common)
    assert net_paid["origins"] == ["2027Q1", "2027Q2", "2027Q3"]
    assert net_paid["values"][0] == ["0.00", "800.00", "700.00"]
    incurred = await build(client, headers, measure="incurred", **common)
    assert incurred["values"][0] == ["2000.00", "2000.00", "1900.00"]
    assert incurred["values"][1] == ["0.00", "0.00", None]
