"""Back-dated and out-of-sequence changes, two-axis reads, and the rules a change goes through.

Premium changes are checked against a hand computation: the term premium of each state comes
from the rating engine, and the change is the difference prorated by days, as the product
says (``premium.proration.prorate``).
"""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.billing import service as billing
from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.result_types import Ok
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.premium.proration import cents, prorate
from pd_prime_demo.products import service as products
from pd_prime_demo.products.shipped import shipped
from pd_prime_demo.rating.packages import rate_packages
from tests.api.test_billing_defects import receivable_on_installments
from tests.factories import Login, auto_quote, changing, days_ahead, person, user_login


async def _policy(client: AsyncClient, agent: Login, **quote: Any) -> dict[str, Any]:
    customer = (await client.post("/api/v1/customers", json=person(), headers=agent.headers)).json()
    body = auto_quote(customer["id"], **quote)
    made = await client.post("/api/v1/quotes", json=body, headers=agent.headers)
    assert made.status_code == 201, made.text
    bound = await client.post(
        f"/api/v1/quotes/{made.json()['id']}/bind",
        json={"option": "standard", "payment_plan": "monthly"},
        headers=agent.headers,
    )
    assert bound.status_code == 201, bound.text
    return dict(bound.json())


async def _endorse(
    client: AsyncClient, who: Login | dict[str, str], policy: dict[str, Any], on: date, **body: Any
) -> Any:
    url = f"/api/v1/policies/{policy['id']}"
    headers = who.headers if isinstance(who, Login) else who
    return await client.post(
        f"{url}/endorsements",
        json={"effective_on": on.isoformat(), **body},
        headers=await changing(client, headers, url),
    )


async def _on(
    client: AsyncClient, who: Login, policy: dict[str, Any], day: date, **params: str
) -> dict[str, Any]:
    response = await client.get(
        f"/api/v1/policies/{policy['id']}",
        params={"as_of": day.isoformat(), **params},
        headers=who.headers,
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _premium(session: AsyncSession, policy: dict[str, Any], **coverages: Any) -> Decimal:
    """The term premium of the policy's risk with these coverage changes (engine)."""
    terms = policy["terms"]
    version = await products.compiled_version(session, uuid.UUID(terms["product_version_id"]))
    chosen = {**terms["coverages"], **coverages}
    rated = rate_packages(
        version.definition,
        version.engine,
        terms["risk"],
        [{"name": "x", "coverages": chosen}],
        None,
    )
    assert isinstance(rated, Ok)
    return rated.value.results[0][1].premium


def _term(policy: dict[str, Any]) -> tuple[date, date]:
    return date.fromisoformat(policy["terms"]["term_start"]), date.fromisoformat(
        policy["terms"]["term_end"]
    )


async def test_an_endorsement_before_a_later_one_reverses_and_reapplies_it(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    policy = await _policy(client, agent)
    start, end = _term(policy)
    day20, day60 = start + timedelta(days=20), start + timedelta(days=60)
    later = await _endorse(client, agent, policy, day60, coverages={"bi": {"limit": "250/500"}})
    assert later.status_code == 201, later.text
    assert later.json()["out_of_sequence"] is None, "in sequence: nothing moved"
    known_before = datetime.now(UTC)
    earlier = await _endorse(
        client, agent, policy, day20, coverages={"pd": {"limit": "100"}}, note="garage moved"
    )
    assert earlier.status_code == 201, earlier.text
    moved = earlier.json()["out_of_sequence"]
    assert moved == {"reversed": [2], "reapplied": [5], "dropped": []}
    assert earlier.json()["note"] == "garage moved", "the note is kept"
    assert earlier.json()["change"] == {"coverages": {"pd": {"limit": "100"}}}

    p0 = Decimal(policy["terms"]["term_premium"])
    p_bi = await _premium(session, policy, bi={"limit": "250/500"})
    p_pd = await _premium(session, policy, pd={"limit": "100"})
    p_both = await _premium(session, policy, bi={"limit": "250/500"}, pd={"limit": "100"})
    history = (
        await client.get(f"/api/v1/policies/{policy['id']}/transactions", headers=agent.headers)
    ).json()["items"]
    assert [(t["seq"], t["kind"], t["reverses_seq"], t["reapplies_seq"]) for t in history] == [
        (1, "new_business", None, None),
        (2, "endorsement", None, None),
        (3, "reversal", 2, None),
        (4, "endorsement", None, None),
        (5, "endorsement", None, 2),
    ]
    changes = [Decimal(t["premium_change"]) for t in history]
    assert changes[1] == prorate(p_bi - p0, start, end, day60)
    assert changes[2] == -changes[1]
    assert changes[3] == prorate(p_pd - p0, start, end, day20)
    assert changes[4] == prorate(p_both - p_pd, start, end, day60), "re-rated on the new state"
    written = p0 + changes[3] + changes[4]
    books = await billing.balances(session, policy_id=uuid.UUID(policy["id"]))
    assert -books[billing.Account.UNEARNED] == written
    await receivable_on_installments(client, session, agent.headers, policy["id"])

    def limits(body: dict[str, Any]) -> tuple[str, str]:
        coverages = body["terms"]["coverages"]
        return coverages["bi"]["limit"], coverages["pd"]["limit"]

    assert limits(await _on(client, agent, policy, start + timedelta(days=10))) == ("50/100", "50")
    assert limits(await _on(client, agent, policy, day20 + timedelta(days=10))) == ("50/100", "100")
    assert limits(await _on(client, agent, policy, day60 + timedelta(days=1))) == ("250/500", "100")
    # The second axis: as the system knew it before the back-dated change was recorded.
    then = {"known_at": known_before.isoformat()}
    assert limits(await _on(client, agent, policy, day20 + timedelta(days=10), **then)) == (
        "50/100",
        "50",
    )
    assert limits(await _on(client, agent, policy, day60 + timedelta(days=1), **then)) == (
        "250/500",
        "50",
    )
    known = await client.get(
        f"/api/v1/policies/{policy['id']}/transactions", params=then, headers=agent.headers
    )
    assert [t["seq"] for t in known.json()["items"]] == [1, 2]


async def test_a_later_change_to_the_same_field_is_a_conflict_the_request_resolves(
    client: AsyncClient, runtime: Runtime
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    for resolution, from_day60 in (("keep_later", "250/500"), ("apply_new", "100/300")):
        policy = await _policy(client, agent)
        start, _ = _term(policy)
        day20, day60 = start + timedelta(days=20), start + timedelta(days=60)
        await _endorse(client, agent, policy, day60, coverages={"bi": {"limit": "250/500"}})
        etag = (
            await client.get(f"/api/v1/policies/{policy['id']}", headers=agent.headers)
        ).headers["etag"]
        refused = await _endorse(
            client, agent, policy, day20, coverages={"bi": {"limit": "100/300"}}
        )
        assert refused.status_code == 409
        assert refused.json()["code"] == "policy.out_of_sequence_conflict"
        assert refused.json()["conflicts"] == [
            {
                "field": "/coverages/bi/limit",
                "new": "100/300",
                "later": "250/500",
                "later_seq": 2,
                "later_kind": "endorsement",
                "later_effective_on": day60.isoformat(),
            }
        ]
        after = await client.get(f"/api/v1/policies/{policy['id']}", headers=agent.headers)
        assert after.headers["etag"] == etag, "a refused change changes nothing"
        resolved = await _endorse(
            client,
            agent,
            policy,
            day20,
            coverages={"bi": {"limit": "100/300"}},
            on_conflict=resolution,
        )
        assert resolved.status_code == 201, resolved.text
        mid = await _on(client, agent, policy, day20 + timedelta(days=5))
        late = await _on(client, agent, policy, day60 + timedelta(days=5))
        assert mid["terms"]["coverages"]["bi"]["limit"] == "100/300"
        assert late["terms"]["coverages"]["bi"]["limit"] == from_day60, resolution
        dropped = resolved.json()["out_of_sequence"]["dropped"]
        assert dropped == ([2] if resolution == "apply_new" else []), resolution


async def test_a_back_dated_cancellation_drops_a_later_endorsement_only_when_told(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    policy = await _policy(client, agent)
    start, end = _term(policy)
    url = f"/api/v1/policies/{policy['id']}"
    await _endorse(
        client, agent, policy, start + timedelta(days=60), coverages={"pd": {"limit": "100"}}
    )
    cancel_on = start + timedelta(days=30)
    body = {"effective_on": cancel_on.isoformat(), "reason_code": "underwriting"}
    refused = await client.post(
        f"{url}/cancellations", json=body, headers=await changing(client, agent.headers, url)
    )
    assert refused.status_code == 409, refused.text
    assert refused.json()["conflicts"][0]["later_seq"] == 2
    keep = await client.post(
        f"{url}/cancellations",
        json={**body, "on_conflict": "keep_later"},
        headers=await changing(client, agent.headers, url),
    )
    assert keep.status_code == 409, "an endorsement of a cancelled policy cannot be kept"
    cancelled = await client.post(
        f"{url}/cancellations",
        json={**body, "on_conflict": "apply_new"},
        headers=await changing(client, agent.headers, url),
    )
    assert cancelled.status_code == 201, cancelled.text
    assert cancelled.json()["out_of_sequence"] == {"reversed": [2], "reapplied": [], "dropped": [2]}
    premium = Decimal(policy["terms"]["term_premium"])
    # Carrier's cancellation: pro-rata, on what the term wrote without the dropped endorsement.
    assert Decimal(cancelled.json()["premium_change"]) == -prorate(premium, start, end, cancel_on)
    after = await _on(client, agent, policy, start + timedelta(days=70))
    assert after["status"] == "cancelled"
    assert after["terms"]["coverages"]["pd"]["limit"] == "50"
    await receivable_on_installments(client, session, agent.headers, policy["id"])


async def test_an_endorsement_before_a_cancellation_reprices_the_return(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    policy = await _policy(client, agent)
    start, end = _term(policy)
    url = f"/api/v1/policies/{policy['id']}"
    cancel_on = start + timedelta(days=90)
    await client.post(
        f"{url}/cancellations",
        json={"effective_on": cancel_on.isoformat(), "reason_code": "underwriting"},
        headers=await changing(client, agent.headers, url),
    )
    day20 = start + timedelta(days=20)
    endorsed = await _endorse(client, agent, policy, day20, coverages={"pd": {"limit": "100"}})
    assert endorsed.status_code == 201, endorsed.text
    assert endorsed.json()["out_of_sequence"] == {"reversed": [2], "reapplied": [5], "dropped": []}
    p0 = Decimal(policy["terms"]["term_premium"])
    change = prorate(await _premium(session, policy, pd={"limit": "100"}) - p0, start, end, day20)
    assert Decimal(endorsed.json()["premium_change"]) == change
    history = (await client.get(f"{url}/transactions", headers=agent.headers)).json()["items"]
    reapplied = history[-1]
    assert reapplied["kind"] == "cancellation"
    # Each written piece returns what it leaves unearned from its own day: the endorsement's
    # piece, written from day 20, over its own span (not the term's).
    piece = cents(change * (end - cancel_on).days / (end - day20).days)
    assert Decimal(reapplied["premium_change"]) == -(prorate(p0, start, end, cancel_on) + piece)
    assert (await _on(client, agent, policy, cancel_on))["status"] == "cancelled"
    books = await billing.balances(session, policy_id=uuid.UUID(policy["id"]))
    net = sum(Decimal(t["premium_change"]) for t in history)
    assert -books[billing.Account.UNEARNED] == net
    await receivable_on_installments(client, session, agent.headers, policy["id"])


async def test_policy_changes_need_a_current_if_match(
    client: AsyncClient, runtime: Runtime
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    policy = await _policy(client, agent)
    url = f"/api/v1/policies/{policy['id']}"
    start, _ = _term(policy)
    body = {"effective_on": (start + timedelta(days=5)).isoformat(), "note": "x"}
    read = await client.get(url, headers=agent.headers)
    etag = read.headers["etag"]
    assert etag == f'"{read.json()["version"]}"'
    missing = await client.post(f"{url}/endorsements", json=body, headers=agent.headers)
    assert missing.status_code == 428
    garbage = await client.post(
        f"{url}/endorsements", json=body, headers={**agent.headers, "If-Match": '"garbage"'}
    )
    assert garbage.status_code == 412
    done = await client.post(
        f"{url}/endorsements", json=body, headers={**agent.headers, "If-Match": etag}
    )
    assert done.status_code == 201, done.text
    assert done.headers["etag"] != etag
    stale = await client.post(
        f"{url}/endorsements", json=body, headers={**agent.headers, "If-Match": etag}
    )
    assert stale.status_code == 412
    assert stale.json()["code"] == "policy.version_mismatch"


async def test_a_partial_risk_is_merged_into_the_risk_in_force(
    client: AsyncClient, runtime: Runtime
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    policy = await _policy(client, agent)
    start, _ = _term(policy)
    endorsed = await _endorse(
        client, agent, policy, start + timedelta(days=3), risk={"policy": {"multi_policy": True}}
    )
    assert endorsed.status_code == 201, endorsed.text
    risk = endorsed.json()["snapshot"]["risk"]
    assert risk["policy"]["multi_policy"] is True
    assert risk["policy"]["territory"] == policy["terms"]["risk"]["policy"]["territory"]
    assert risk["vehicles"] == policy["terms"]["risk"]["vehicles"]
    removed = await _endorse(
        client, agent, policy, start + timedelta(days=4), risk={"policy": {"territory": None}}
    )
    assert removed.status_code == 422, "a required variable removed is a pointed error"
    assert any(e["pointer"].startswith("#/risk") for e in removed.json()["errors"])


async def test_changes_may_be_back_dated_within_the_products_window_and_further_by_underwriting(
    client: AsyncClient, runtime: Runtime
) -> None:
    from pd_prime_demo.core.clock import frozen_at
    from tests.factories import noon, relogin

    agent = await user_login(client, runtime, Role.AGENT)
    underwriter = await user_login(client, runtime, Role.UNDERWRITER)
    inception = date.today() - timedelta(days=25)
    policy = await _policy(client, agent, effective_on=inception.isoformat())
    assert policy["inception_on"] == inception.isoformat(), "a quote and bind 25 days back"
    too_old = await client.post(
        "/api/v1/quotes",
        json=auto_quote(
            policy["customer_id"], effective_on=(inception - timedelta(days=10)).isoformat()
        ),
        headers=agent.headers,
    )
    assert too_old.status_code == 422
    assert too_old.json()["errors"][0]["pointer"] == "#/effective_on"
    with frozen_at(noon(date.today() + timedelta(days=20))):
        back = inception + timedelta(days=1)  # 44 days before the travelled today
        refused = await _endorse(client, await relogin(client, agent), policy, back, note="x")
        assert refused.status_code == 422
        assert refused.json()["code"] == "policy.effective_date_out_of_window"
        allowed = await _endorse(client, await relogin(client, underwriter), policy, back)
        assert allowed.status_code == 201, allowed.text


async def test_an_endorsement_goes_through_the_underwriting_rules_it_newly_triggers(
    client: AsyncClient, runtime: Runtime
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    junior = await user_login(client, runtime, Role.UNDERWRITER)
    admin = await user_login(client, runtime, Role.ADMIN)
    policy = await _policy(client, agent)
    url = f"/api/v1/policies/{policy['id']}"
    start, _ = _term(policy)
    vehicles = copy.deepcopy(policy["terms"]["risk"]["vehicles"])
    vehicles[0]["symbol"] = "D"
    referred = await _endorse(
        client, agent, policy, start + timedelta(days=10), risk={"vehicles": vehicles}
    )
    assert referred.status_code == 202, referred.text
    change = referred.json()
    assert change["status"] == "referred"
    assert change["required_authority"] == 2
    assert [h["code"] for h in change["underwriting"]["hits"]] == ["exotic_vehicle"]
    history = (await client.get(f"{url}/transactions", headers=agent.headers)).json()["items"]
    assert len(history) == 1, "nothing is applied while it waits"
    queue = await client.get("/api/v1/underwriting/policy-changes", headers=admin.headers)
    assert change["id"] in {c["id"] for c in queue.json()["items"]}
    junior_queue = await client.get("/api/v1/underwriting/policy-changes", headers=junior.headers)
    assert change["id"] not in {c["id"] for c in junior_queue.json()["items"]}
    decision = f"/api/v1/policy-changes/{change['id']}/underwriting-decision"
    too_junior = await client.post(
        decision, json={"decision": "approve", "note": "ok"}, headers=junior.headers
    )
    assert too_junior.status_code == 403
    approved = await client.post(
        decision, json={"decision": "approve", "note": "garaged"}, headers=admin.headers
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "applied"
    history = (await client.get(f"{url}/transactions", headers=agent.headers)).json()["items"]
    assert history[-1]["id"] == approved.json()["transaction_id"]
    assert history[-1]["snapshot"]["risk"]["vehicles"][0]["symbol"] == "D"
    # Rules the policy already meets do not fire again: a later change is applied at once.
    again = await _endorse(
        client, agent, policy, start + timedelta(days=20), coverages={"pd": {"limit": "100"}}
    )
    assert again.status_code == 201, again.text
    drivers = copy.deepcopy(policy["terms"]["risk"]["drivers"])
    drivers[0]["accidents_3y"] = 4
    declined = await _endorse(
        client, agent, policy, start + timedelta(days=30), risk={"drivers": drivers}
    )
    assert declined.status_code == 422
    assert declined.json()["code"] == "policy.change_declined"
    assert declined.json()["rules"][0]["code"] == "too_many_accidents"


async def test_a_change_before_inception_is_a_conflict_not_an_error(
    client: AsyncClient, runtime: Runtime
) -> None:
    """Found by fuzzing: a change effective before the policy's first transaction."""
    agent = await user_login(client, runtime, Role.AGENT)
    policy = await _policy(client, agent)
    url = f"/api/v1/policies/{policy['id']}"
    before = date.fromisoformat(policy["inception_on"]) - timedelta(days=3)
    endorsed = await _endorse(
        client, agent, policy, before, risk={"policy": {"multi_policy": True}}
    )
    assert endorsed.status_code == 409
    assert endorsed.json()["code"] == "policy.not_in_force"
    cancelled = await client.post(
        f"{url}/cancellations",
        json={"effective_on": before.isoformat(), "reason_code": "non_payment"},
        headers=await changing(client, agent.headers, url),
    )
    assert cancelled.status_code == 409
    assert cancelled.json()["code"] == "policy.not_in_force"


async def test_a_change_in_the_expiring_term_carries_into_the_renewal_already_bound(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    from pd_prime_demo.core.clock import frozen_at
    from tests.factories import noon, relogin

    agent = await user_login(client, runtime, Role.AGENT)
    policy = await _policy(client, agent)
    url = f"/api/v1/policies/{policy['id']}"
    _, term_end = _term(policy)
    with frozen_at(noon(term_end - timedelta(days=10))):
        headers = await relogin(client, agent)
        assert (await client.post(f"{url}/renewal-offers", headers=headers)).status_code == 201
        renewed = await client.post(f"{url}/renewals", headers=await changing(client, headers, url))
        assert renewed.status_code == 201, renewed.text
        endorsed = await _endorse(
            client,
            headers,
            policy,
            term_end - timedelta(days=20),
            coverages={"pd": {"limit": "100"}},
        )
        assert endorsed.status_code == 201, endorsed.text
    moved = endorsed.json()["out_of_sequence"]
    assert moved["reversed"] == [2]
    assert len(moved["reapplied"]) == 1
    history = (await client.get(f"{url}/transactions", headers=agent.headers)).json()["items"]
    renewal = history[-1]
    assert renewal["kind"] == "renewal"
    assert renewal["snapshot"]["coverages"]["pd"]["limit"] == "100", "the new term has it too"
    assert Decimal(renewal["premium_change"]) == await _premium(
        session, policy, pd={"limit": "100"}
    ), "re-rated on the renewal's version"
    await receivable_on_installments(client, session, agent.headers, policy["id"])
    books = await billing.balances(session, policy_id=uuid.UUID(policy["id"]))
    assert -books[billing.Account.UNEARNED] == sum(Decimal(t["premium_change"]) for t in history)


async def test_a_change_before_a_cancel_and_reinstatement_on_one_day_keeps_the_schedule(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    """Re-applied in order, the reinstatement follows the cancellation of its day: cover goes
    on, and the term's installments stay live (not all of it on the first installment)."""
    agent = await user_login(client, runtime, Role.AGENT)
    policy = await _policy(client, agent)
    url = f"/api/v1/policies/{policy['id']}"
    start, _ = _term(policy)
    before = await receivable_on_installments(client, session, agent.headers, policy["id"])
    cancelled = await client.post(
        f"{url}/cancellations",
        json={
            "effective_on": (start + timedelta(days=50)).isoformat(),
            "reason_code": "insured_request",
        },
        headers=await changing(client, agent.headers, url),
    )
    assert cancelled.status_code == 201, cancelled.text
    reinstated = await client.post(
        f"{url}/reinstatements", json={}, headers=await changing(client, agent.headers, url)
    )
    assert reinstated.status_code == 201, reinstated.text
    earlier = await _endorse(
        client, agent, policy, start + timedelta(days=5), coverages={"pd": {"limit": "100"}}
    )
    assert earlier.status_code == 201, earlier.text
    assert earlier.json()["out_of_sequence"]["reapplied"], "the cancellation and reinstatement"

    after = await receivable_on_installments(client, session, agent.headers, policy["id"])
    assert [i["status"] for i in after] == [i["status"] for i in before], "every one live"
    amounts = [Decimal(i["amount"]) for i in after]
    assert max(amounts) - min(amounts) < 1, f"spread evenly, not on one: {amounts}"
    read = await client.get(url, headers=agent.headers)
    assert read.json()["terms"]["status"] == "in_force"


async def test_known_at_is_a_moment_within_bounds_on_every_read(
    client: AsyncClient, runtime: Runtime
) -> None:
    """A moment no zone can carry past what the books hold: 422 naming the parameter (these
    were 500s), on every read that takes ``known_at``; by number too, which honours it."""
    agent = await user_login(client, runtime, Role.AGENT)
    admin = await user_login(client, runtime, Role.ADMIN)
    policy = await _policy(client, agent)
    before = datetime.now(UTC).isoformat()  # bound, not yet endorsed
    later = await _endorse(
        client,
        agent,
        policy,
        _term(policy)[0] + timedelta(days=9),
        coverages={"pd": {"limit": "100"}},
    )
    assert later.status_code == 201, later.text
    url = f"/api/v1/policies/{policy['id']}"
    reads = [
        (url, agent),
        (f"/api/v1/policies/by-number/{policy['number']}", agent),
        (f"{url}/transactions", agent),
        (f"{url}/billing", agent),
        ("/api/v1/policies?status=in_force", agent),
        ("/api/v1/reports/premium?start=2027-01-01&end=2027-01-31", admin),
    ]
    for moment in (
        "9999-12-31T23:59:59-12:00",
        "0001-01-01T00:00:00+14:00",
        "2200-01-01T00:00:00Z",
    ):
        for path, who in reads:
            sep = "&" if "?" in path else "?"
            refused = await client.get(
                f"{path}{sep}known_at={moment.replace('+', '%2B')}", headers=who.headers
            )
            assert refused.status_code == 422, (path, moment, refused.text)
            assert refused.json()["errors"][0]["parameter"] == "known_at"
    then = (
        await client.get(
            f"/api/v1/policies/by-number/{policy['number']}",
            params={
                "known_at": before,
                "as_of": (_term(policy)[0] + timedelta(days=20)).isoformat(),
            },
            headers=agent.headers,
        )
    ).json()
    now = (
        await client.get(
            f"/api/v1/policies/by-number/{policy['number']}",
            params={"as_of": (_term(policy)[0] + timedelta(days=20)).isoformat()},
            headers=agent.headers,
        )
    ).json()
    assert now["terms"]["coverages"]["pd"]["limit"] == "100"
    assert then["terms"]["coverages"]["pd"]["limit"] == "50", "as known before the change"


async def test_a_back_dated_change_is_underwritten_with_the_later_changes_on_top(
    client: AsyncClient, runtime: Runtime
) -> None:
    """Neither change meets the rule alone (found in review: only the new change's own state
    was underwritten); re-applied on top of the back-dated one, the later one does, so the
    back-dated change waits for an underwriter."""
    admin = await user_login(client, runtime, Role.ADMIN)
    raw: dict[str, Any] = shipped("personal_auto", "TX").model_dump(mode="json")
    since = days_ahead(-1)
    raw.update(version="TX-2026.UW", effective_new_business=since, effective_renewal=since)
    raw["underwriting_rules"] = [
        *raw["underwriting_rules"],
        {
            "code": "dallas_paid_monthly",
            "action": "refer",
            "scope": "policy",
            "when": [
                {"ref": "policy.territory", "op": "eq", "value": "dallas"},
                {"ref": "policy.paid_in_full", "op": "eq", "value": "false"},
                {"ref": "policy.multi_policy", "op": "eq", "value": "true"},
            ],
            "reason": "Dallas, multi-policy and paid by installments",
            "authority": 1,
        },
    ]
    uploaded = await client.post("/api/v1/products/versions", json=raw, headers=admin.headers)
    assert uploaded.status_code == 201, uploaded.text
    url = f"/api/v1/products/versions/{uploaded.json()['id']}"
    for action in ("approve", "activate"):
        assert (await client.post(f"{url}/{action}", headers=admin.headers)).status_code == 200
    agent = await user_login(client, runtime, Role.AGENT)
    policy = await _policy(client, agent)
    assert policy["terms"]["rate_version"] == "TX-2026.UW"
    start, _ = _term(policy)
    later = await _endorse(
        client, agent, policy, start + timedelta(days=40), risk={"policy": {"territory": "dallas"}}
    )
    assert later.status_code == 201, later.text
    earlier = await _endorse(
        client, agent, policy, start + timedelta(days=10), risk={"policy": {"multi_policy": True}}
    )
    assert earlier.status_code == 202, earlier.text
    assert [h["code"] for h in earlier.json()["underwriting"]["hits"]] == ["dallas_paid_monthly"]
    history = (
        await client.get(f"/api/v1/policies/{policy['id']}/transactions", headers=agent.headers)
    ).json()["items"]
    assert len(history) == 2, "nothing is applied while it waits"
