"""First notice of loss through the API: who may file, the claim as recorded (number, parties
with encrypted contacts, vehicles, history, audit, outbox), coverage checked on the policy's
history at the loss date's boundaries, fraud indicators, and attachments."""

from __future__ import annotations

import copy
import hashlib
import uuid
from datetime import timedelta
from typing import Any

from httpx import AsyncClient
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.claims.models import Claim, ClaimParty, ClaimStatusChange
from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.runtime import Runtime
from tests.claims_support import (
    at,
    bound_policy,
    cancel,
    claim_body,
    endorse,
    file_claim,
    file_home_claim,
    fresh,
    loss_time,
    policyholder,
    reinstate,
    staff,
)


async def test_an_agent_files_a_claim_recorded_whole(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    agent = await staff(client, runtime, Role.AGENT)
    made = await bound_policy(client, agent)
    loss_day = made.inception + timedelta(days=45)
    with at(loss_day + timedelta(days=1)):
        headers = await fresh(client, agent)
        claim = await file_claim(client, headers, made.policy_id, loss_at=loss_time(loss_day))
    assert claim["number"].startswith(f"PAC-{(loss_day + timedelta(days=1)).year}-")
    assert claim["loss_on"] == loss_day.isoformat()
    assert claim["reported_via"] == "agent"
    assert claim["coverage_status"] == "verified"
    assert claim["coverage_findings"] is None, "findings are for claims staff"
    assert claim["status"] in ("reported", "open")
    assert [p["role"] for p in claim["parties"]] == ["driver", "claimant"]
    assert all(p["contact"] is None and p["contact_masked"] for p in claim["parties"])
    assert [v["policy_unit"] for v in claim["involved"]] == [0, None]
    assert claim["involved"][1]["owner_party_id"] == claim["parties"][1]["id"]
    assert claim["involved"][0]["description"].startswith("Insured vehicle 0")

    row = await session.get(Claim, uuid.UUID(claim["id"]))
    assert row is not None
    assert row.customer_id == uuid.UUID(made.customer_id)
    party = await session.get(ClaimParty, uuid.UUID(claim["parties"][0]["id"]))
    assert party is not None
    assert party.contact_enc is not None
    assert "555" not in party.contact_enc, "contacts are stored encrypted"
    opened = runtime.cipher.decrypt(party.contact_enc, context=f"claim_parties.contact:{party.id}")
    assert "maria@example.com" in opened
    history = (
        await session.scalars(select(ClaimStatusChange).where(ClaimStatusChange.claim_id == row.id))
    ).all()
    assert (history[0].from_status, history[0].to_status) == (None, "reported")
    events = (
        await session.execute(
            text("SELECT topic, payload FROM outbox_events WHERE aggregate_id = :id"),
            {"id": claim["id"]},
        )
    ).all()
    reported = [p for t, p in events if t == "claim.reported"]
    assert reported
    assert reported[0]["coverage_status"] == "verified"
    assert "Maria" not in str(reported[0]), "no PII in events"
    audit = (
        await session.execute(
            text("SELECT action FROM audit_log WHERE resource_id = :id"), {"id": claim["id"]}
        )
    ).all()
    assert ("claim.reported",) in audit


async def test_staff_see_findings_and_contacts_and_the_policyholder_their_own_contacts(
    client: AsyncClient, runtime: Runtime
) -> None:
    holder = await policyholder(client)
    made = await bound_policy(client, holder)
    loss_day = made.inception + timedelta(days=3)
    with at(loss_day + timedelta(days=1)):
        mine = await file_claim(
            client, await fresh(client, holder), made.policy_id, loss_at=loss_time(loss_day)
        )
        assert mine["reported_via"] == "policyholder"
        assert mine["parties"][0]["contact"]["email"] == "maria@example.com"
        assert mine["fraud_indicators"] is None
        admin = await staff(client, runtime, Role.ADMIN)
        filed = await file_claim(client, admin.headers, made.policy_id, loss_at=loss_time(loss_day))
    assert filed["reported_via"] == "staff"
    assert filed["coverage_findings"] == []
    assert filed["parties"][1]["contact"]["address"]["city"] == "Austin"
    codes = [i["code"] for i in filed["fraud_indicators"]]
    assert codes == ["loss_soon_after_inception"], "3 days after inception (threshold 30)"
    assert "3 day(s) after the policy's inception" in filed["fraud_indicators"][0]["reason"]


async def test_who_may_not_see_the_policy_gets_404_and_nothing_is_written(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    agent = await staff(client, runtime, Role.AGENT)
    made = await bound_policy(client, agent)
    day = made.inception + timedelta(days=10)
    with at(day):
        other_agent = await staff(client, runtime, Role.AGENT)
        stranger = await policyholder(client)
        underwriter = await staff(client, runtime, Role.UNDERWRITER)
        before = await session.scalar(text("SELECT count(*) FROM claims"))
        body = claim_body(made.policy_id)
        for headers in (other_agent.headers, stranger.headers):
            refused = await client.post("/api/v1/claims", json=body, headers=headers)
            assert refused.status_code == 404, refused.text
        no_permission = await client.post("/api/v1/claims", json=body, headers=underwriter.headers)
        assert no_permission.status_code == 403
        unknown = claim_body(str(uuid.uuid4()))
        assert (
            await client.post("/api/v1/claims", json=unknown, headers=await fresh(client, agent))
        ).status_code == 404
        assert await session.scalar(text("SELECT count(*) FROM claims")) == before


async def test_bad_input_is_422_with_a_pointer_and_changes_nothing(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    agent = await staff(client, runtime, Role.AGENT)
    made = await bound_policy(client, agent)
    with at(made.inception + timedelta(days=10)):
        headers = await fresh(client, agent)
        before = await session.scalar(text("SELECT count(*) FROM claims"))
        cases: list[tuple[dict[str, Any], str, str]] = [
            ({"cause_code": "earthquake"}, "#/cause_code", "claim.cause_unknown"),
            ({"cause_code": "fire_hose"}, "#/cause_code", "claim.cause_unknown"),
            ({"loss_at": loss_time(made.inception + timedelta(days=12))}, "#/loss_at", ""),
            ({"time_zone": "Mars/Olympus"}, "#/time_zone", ""),
            ({"loss_at": "2027-01-01T10:00:00"}, "#/loss_at", ""),
            (
                {"vehicles": [{"description": "x", "owner_party": 5}]},
                "#/vehicles/0/owner_party",
                "",
            ),
            ({"vehicles": [{"damage": "dent"}]}, "#/vehicles/0/description", ""),
            ({"surprise": True}, "#/surprise", ""),
        ]
        for change, pointer, code in cases:
            body = claim_body(made.policy_id, **change)
            refused = await client.post("/api/v1/claims", json=body, headers=headers)
            assert refused.status_code == 422, (change, refused.text)
            problem = refused.json()
            assert problem["errors"][0]["pointer"] == pointer, (change, problem)
            if code:
                assert problem["code"] == code
        assert await session.scalar(text("SELECT count(*) FROM claims")) == before


async def test_idempotency_key_replays_the_first_claim(
    client: AsyncClient, runtime: Runtime
) -> None:
    agent = await staff(client, runtime, Role.AGENT)
    made = await bound_policy(client, agent)
    with at(made.inception + timedelta(days=40)):
        headers = {**await fresh(client, agent), "Idempotency-Key": "fnol-1"}
        body = claim_body(made.policy_id)
        first = await client.post("/api/v1/claims", json=body, headers=headers)
        again = await client.post("/api/v1/claims", json=body, headers=headers)
        assert first.status_code == 201
        assert again.status_code == 201
        assert again.headers.get("Idempotent-Replayed") == "true"
        assert again.json()["number"] == first.json()["number"]
        other = copy.deepcopy(body)
        other["description"] = "something else"
        reused = await client.post("/api/v1/claims", json=other, headers=headers)
        assert reused.status_code == 422
        assert reused.json()["code"] == "idempotency.key_reused"


async def _codes_on(
    client: AsyncClient, admin_headers: dict[str, str], policy_id: str, day: Any, **kw: Any
) -> list[str]:
    claim = await file_claim(client, admin_headers, policy_id, loss_at=loss_time(day), **kw)
    return [f["code"] for f in claim["coverage_findings"]]


async def test_cover_on_the_boundary_dates_of_the_term(
    client: AsyncClient, runtime: Runtime
) -> None:
    agent = await staff(client, runtime, Role.AGENT)
    made = await bound_policy(client, agent)
    start, end = made.inception, made.term_end
    with at(end + timedelta(days=2)):
        admin = await staff(client, runtime, Role.ADMIN)
        h, pid = admin.headers, made.policy_id
        assert await _codes_on(client, h, pid, start - timedelta(days=1)) == [
            "policy.not_yet_effective"
        ]
        assert await _codes_on(client, h, pid, start) == []
        assert await _codes_on(client, h, pid, end - timedelta(days=1)) == [], "last day"
        assert await _codes_on(client, h, pid, end) == ["policy.expired"], "expiration day"
        flagged = await file_claim(client, h, pid, loss_at=loss_time(end))
        assert flagged["coverage_status"] == "flagged", "recorded, never dropped"
        # 23:30 in Chicago on the last day is already the expiration day in UTC.
        late = await file_claim(client, h, pid, loss_at=loss_time(end - timedelta(days=1), hour=23))
        assert late["loss_on"] == (end - timedelta(days=1)).isoformat()
        assert late["coverage_status"] == "verified"


async def test_cover_across_an_endorsement_cancellation_and_reinstatement(
    client: AsyncClient, runtime: Runtime
) -> None:
    agent = await staff(client, runtime, Role.AGENT)
    made = await bound_policy(client, agent, option="standard")  # BI and PD only
    start = made.inception
    coverages = copy.deepcopy(made.policy["terms"]["coverages"])
    coverages["collision"] = {"deductible": "500"}
    coverages["bi"] = {"limit": "250/500"}
    added_on = start + timedelta(days=20)
    cancel_on = start + timedelta(days=60)
    with at(start + timedelta(days=1)):
        await endorse(client, await fresh(client, agent), made, added_on, coverages=coverages)
    with at(cancel_on - timedelta(days=5)):
        admin = await staff(client, runtime, Role.ADMIN)
        h, pid = admin.headers, made.policy_id
        before = await file_claim(client, h, pid, loss_at=loss_time(added_on - timedelta(days=1)))
        assert [f["code"] for f in before["coverage_findings"]] == ["policy.coverage_missing"]
        assert "collision" in before["coverage_findings"][0]["message"]
        after = await file_claim(client, h, pid, loss_at=loss_time(added_on + timedelta(days=2)))
        assert after["coverage_status"] == "verified"
        assert "loss_soon_after_coverage_increase" in [i["code"] for i in after["fraud_indicators"]]
        liability = await _codes_on(
            client, h, pid, added_on - timedelta(days=1), cause_code="liability"
        )
        assert liability == []
        await cancel(client, h, made, cancel_on)
        shortly_before = await file_claim(
            client, h, pid, loss_at=loss_time(cancel_on - timedelta(days=6))
        )
        assert "loss_shortly_before_cancellation" in [
            i["code"] for i in shortly_before["fraud_indicators"]
        ]
    with at(cancel_on + timedelta(days=3)):
        h = await fresh(client, admin)
        assert await _codes_on(client, h, pid, cancel_on) == ["policy.cancelled"]
        assert await _codes_on(client, h, pid, cancel_on - timedelta(days=1)) == []
        await reinstate(client, h, made)
        assert await _codes_on(client, h, pid, cancel_on + timedelta(days=1)) == []


async def test_a_vehicle_not_on_the_schedule_and_a_home_claim(
    client: AsyncClient, runtime: Runtime
) -> None:
    agent = await staff(client, runtime, Role.AGENT)
    made = await bound_policy(client, agent)
    home = await bound_policy(client, agent, product="home")
    with at(home.inception + timedelta(days=40)):
        admin = await staff(client, runtime, Role.ADMIN)
        codes = await _codes_on(
            client,
            admin.headers,
            made.policy_id,
            made.inception + timedelta(days=35),
            vehicles=[{"policy_unit": 7, "damage": "dent"}],
        )
        assert codes == ["policy.vehicle_not_scheduled"]
        fire = await file_home_claim(
            client,
            admin.headers,
            home.policy_id,
            loss_at=loss_time(home.inception + timedelta(days=39), zone="America/New_York"),
        )
        assert fire["number"].startswith("HOC-")
        assert fire["coverage_status"] == "verified"
        assert fire["involved"][0]["kind"] == "property"
        wrong = await client.post(
            "/api/v1/claims",
            json=claim_body(home.policy_id, cause_code="collision"),
            headers=admin.headers,
        )
        assert wrong.status_code == 422
        assert "fire" in wrong.json()["errors"][0]["detail"]


async def test_several_recent_claims_are_flagged(client: AsyncClient, runtime: Runtime) -> None:
    agent = await staff(client, runtime, Role.AGENT)
    made = await bound_policy(client, agent)
    with at(made.inception + timedelta(days=100)):
        admin = await staff(client, runtime, Role.ADMIN)
        found = []
        for days in (50, 60, 70):
            claim = await file_claim(
                client,
                admin.headers,
                made.policy_id,
                loss_at=loss_time(made.inception + timedelta(days=days)),
            )
            found.append([i["code"] for i in claim["fraud_indicators"]])
    assert found[:2] == [[], []]
    assert found[2] == ["several_recent_claims"]


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF" + b"\x00" * 64
PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"


async def test_attachments_sniffed_limited_stored_and_private(
    client: AsyncClient, runtime: Runtime
) -> None:
    holder = await policyholder(client)
    made = await bound_policy(client, holder)
    with at(made.inception + timedelta(days=40)):
        headers = await fresh(client, holder)
        claim = await file_claim(client, headers, made.policy_id)
        url = f"/api/v1/claims/{claim['id']}/attachments"
        added = await client.post(
            url,
            files={"file": ("../../bumper.png", PNG, "image/png")},
            data={"description": "rear bumper"},
            headers=headers,
        )
        assert added.status_code == 201, added.text
        body = added.json()
        assert body["media_type"] == "image/png"
        assert body["filename"] == "bumper.png"
        assert body["sha256"] == hashlib.sha256(PNG).hexdigest()
        unlabelled = await client.post(
            url, files={"file": ("report", PDF, "application/octet-stream")}, headers=headers
        )
        assert unlabelled.status_code == 201
        assert unlabelled.json()["media_type"] == "application/pdf"

        lying = await client.post(
            url, files={"file": ("photo.jpg", PNG, "image/jpeg")}, headers=headers
        )
        assert lying.status_code == 415
        assert lying.json()["code"] == "claim.attachment_type_refused"
        script = await client.post(
            url,
            files={"file": ("x.png", b"<script>alert(1)</script>", "image/png")},
            headers=headers,
        )
        assert script.status_code == 415
        settings = runtime.settings
        runtime.settings = settings.model_copy(update={"claim_attachment_max_bytes": 2048})
        try:
            at_limit = await client.post(
                url,
                files={"file": ("ok.jpg", JPEG + b"\x00" * (2048 - len(JPEG)))},
                headers=headers,
            )
            big = await client.post(
                url,
                files={"file": ("big.jpg", JPEG + b"\x00" * 2048, "image/jpeg")},
                headers=headers,
            )
        finally:
            runtime.settings = settings
        assert at_limit.status_code == 201, at_limit.text
        assert big.status_code == 413
        assert big.json()["code"] == "claim.attachment_too_large"

        listed = (await client.get(url, headers=headers)).json()["items"]
        # The clock is frozen: the three share a moment, and page by id within it.
        assert sorted(a["filename"] for a in listed) == ["bumper.png", "ok.jpg", "report"]
        download = await client.get(f"{url}/{body['id']}", headers=headers)
        assert download.status_code == 200
        assert download.content == PNG
        assert download.headers["content-type"] == "image/png"
        assert download.headers["x-content-type-options"] == "nosniff"
        assert download.headers["content-disposition"].startswith("attachment;")

        agent = await staff(client, runtime, Role.AGENT)
        other = await policyholder(client)
        for stranger in (agent.headers, other.headers):
            assert (await client.get(url, headers=stranger)).status_code == 404
            assert (await client.get(f"{url}/{body['id']}", headers=stranger)).status_code == 404
            upload = await client.post(
                url, files={"file": ("a.png", PNG, "image/png")}, headers=stranger
            )
            assert upload.status_code == 404
        missing = await client.get(f"{url}/{uuid.uuid4()}", headers=headers)
        assert missing.status_code == 404


def test_a_body_limit_prefix_may_name_any_one_segment() -> None:
    from pd_prime_demo.api.body_limit import BodySizeLimitMiddleware

    async def app(scope: Any, receive: Any, send: Any) -> None:  # pragma: no cover
        return None

    limits = BodySizeLimitMiddleware(
        app,
        max_bytes=1024,
        by_path={"/api/v1/claims/*/attachments": 9000, "/api/v1/policies/imports": 5000},
    )
    assert limits.limit_for(f"/api/v1/claims/{uuid.uuid4()}/attachments") == 9000
    assert limits.limit_for("/api/v1/claims/x/attachments/y") == 9000
    assert limits.limit_for("/api/v1/claims//attachments") == 1024, "a segment, not nothing"
    assert limits.limit_for("/api/v1/claims/x") == 1024
    assert limits.limit_for("/api/v1/claims/x/notes") == 1024
    assert limits.limit_for("/api/v1/policies/imports/1") == 5000
    assert limits.limit_for("/api/v1/policies/importsx") == 1024


async def test_a_photo_larger_than_the_default_body_limit_goes_through_its_route(
    runtime: Runtime,
) -> None:
    from httpx import ASGITransport

    from pd_prime_demo.main import create_app

    runtime.settings = runtime.settings.model_copy(
        update={
            "max_body_bytes_by_path": {
                **runtime.settings.max_body_bytes_by_path,
                "/api/v1/claims/*/attachments": runtime.settings.claim_attachment_max_bytes
                + 64 * 1024,
            }
        }
    )
    app = create_app(runtime=runtime)
    transport = ASGITransport(app=app, raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url="http://testserver") as client:
        holder = await policyholder(client)
        made = await bound_policy(client, holder)
        with at(made.inception + timedelta(days=40)):
            headers = await fresh(client, holder)
            claim = await file_claim(client, headers, made.policy_id)
            photo = JPEG + b"\x00" * (2 * 1024 * 1024)
            url = f"/api/v1/claims/{claim['id']}/attachments"
            added = await client.post(url, files={"file": ("big.jpg", photo)}, headers=headers)
            assert added.status_code == 201, added.text
            assert added.json()["size"] == len(photo)
            # Elsewhere the default limit still holds.
            big_claim = claim_body(made.policy_id, description="x" * (2 * 1024 * 1024))
            refused = await client.post("/api/v1/claims", json=big_claim, headers=headers)
            assert refused.status_code == 413


async def test_an_api_key_scoped_to_filing_files_on_its_owners_book(
    client: AsyncClient, runtime: Runtime
) -> None:
    agent = await staff(client, runtime, Role.AGENT)
    made = await bound_policy(client, agent)
    other = await bound_policy(client, await staff(client, runtime, Role.AGENT))
    with at(made.inception + timedelta(days=40)):
        headers = await fresh(client, agent)
        created = await client.post(
            "/api/v1/api-keys",
            json={"name": "FNOL intake", "scopes": ["claims:file"]},
            headers=headers,
        )
        assert created.status_code == 201, created.text
        key = {"Authorization": f"Bearer {created.json()['key']}"}
        claim = await file_claim(client, key, made.policy_id)
        assert claim["reported_via"] == "api_client"
        foreign = await client.post("/api/v1/claims", json=claim_body(other.policy_id), headers=key)
        assert foreign.status_code == 404, "the owner's reach, not more"


async def test_a_loss_in_a_lapse_after_a_late_reinstatement_is_flagged(
    client: AsyncClient, runtime: Runtime
) -> None:
    agent = await staff(client, runtime, Role.AGENT)
    made = await bound_policy(client, agent)
    cancel_on = made.inception + timedelta(days=20)
    back_on = made.inception + timedelta(days=30)
    with at(cancel_on - timedelta(days=1)):
        admin = await staff(client, runtime, Role.ADMIN)
        await cancel(client, admin.headers, made, cancel_on)
    with at(back_on):
        h = await fresh(client, admin)
        response = await client.post(
            f"{made.url}/reinstatements",
            json={"effective_on": back_on.isoformat()},
            headers={**h, "If-Match": (await client.get(made.url, headers=h)).headers["etag"]},
        )
        assert response.status_code == 201, response.text
    with at(back_on + timedelta(days=5)):
        h = await fresh(client, admin)
        # The days of the lapse stay uncovered: the cancellation decides them.
        in_lapse = await _codes_on(client, h, made.policy_id, cancel_on + timedelta(days=3))
        assert in_lapse == ["policy.cancelled"]
        assert await _codes_on(client, h, made.policy_id, back_on) == []
        assert await _codes_on(client, h, made.policy_id, cancel_on - timedelta(days=1)) == []


async def test_exposure_terms_read_the_policy_on_the_loss_date_as_known_at_filing(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    from decimal import Decimal

    from pd_prime_demo.claims.service import exposure_terms
    from pd_prime_demo.core.result_types import Err, Ok

    agent = await staff(client, runtime, Role.AGENT)
    made = await bound_policy(client, agent)  # full: BI 100/300, collision 500
    start = made.inception
    with at(start + timedelta(days=10)):
        admin = await staff(client, runtime, Role.ADMIN)
        claim = await file_claim(
            client, admin.headers, made.policy_id, loss_at=loss_time(start + timedelta(days=9))
        )
        # A merge patch: null takes a coverage off.
        patch = {"bi": {"limit": "250/500"}, "collision": None, "comprehensive": None}
        await endorse(client, admin.headers, made, start + timedelta(days=10), coverages=patch)
    row = await session.get(Claim, uuid.UUID(claim["id"]))
    assert row is not None
    bi = await exposure_terms(session, row, "bi", 1)
    assert isinstance(bi, Ok)
    assert (bi.value.limit_amount, bi.value.occurrence_limit) == (Decimal(100000), Decimal(300000))
    collision = await exposure_terms(session, row, "collision", 0)
    assert isinstance(collision, Ok), "the endorsement took collision off after the loss"
    assert collision.value.limit_amount is None
    assert collision.value.deductible_amount == Decimal(500)
    no_vehicle = await exposure_terms(session, row, "collision", 5)
    assert isinstance(no_vehicle, Err)
    assert no_vehicle.error.code == "claim.coverage_not_on_policy"
    assert no_vehicle.error.errors[0].pointer == "#/policy_unit"
    missing = await exposure_terms(session, row, "umuim_not_sold", None)
    assert isinstance(missing, Err)
    with at(start + timedelta(days=12)):
        later = await file_claim(
            client,
            await fresh(client, admin),
            made.policy_id,
            loss_at=loss_time(start + timedelta(days=11)),
            cause_code="liability",
        )
        # Glass is paid under comprehensive alone, which came off on day 10 (collision is
        # paid under medpay too, which the policy kept).
        removed = await _codes_on(
            client,
            await fresh(client, admin),
            made.policy_id,
            start + timedelta(days=11),
            cause_code="glass",
        )
        assert removed == ["policy.coverage_missing"]
    later_row = await session.get(Claim, uuid.UUID(later["id"]))
    assert later_row is not None
    raised = await exposure_terms(session, later_row, "bi", 0)
    assert isinstance(raised, Ok)
    assert raised.value.limit_amount == Decimal(250000)
    gone = await exposure_terms(session, later_row, "collision", 0)
    assert isinstance(gone, Err)
    assert gone.error.code == "claim.coverage_not_on_policy"


async def test_a_cancellation_recorded_after_the_claim_shows_when_indicators_refresh(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    from pd_prime_demo.claims.service import refresh_fraud_indicators
    from pd_prime_demo.core.actor import Actor

    agent = await staff(client, runtime, Role.AGENT)
    made = await bound_policy(client, agent)
    loss_day = made.inception + timedelta(days=50)
    with at(loss_day + timedelta(days=1)):
        admin = await staff(client, runtime, Role.ADMIN)
        claim = await file_claim(client, admin.headers, made.policy_id, loss_at=loss_time(loss_day))
        assert claim["fraud_indicators"] == []
        await cancel(client, admin.headers, made, loss_day + timedelta(days=10))
    row = await session.get(Claim, uuid.UUID(claim["id"]))
    assert row is not None
    actor = Actor.system("tests")
    assert await refresh_fraud_indicators(session, row, settings=runtime.settings, actor=actor)
    assert [i["code"] for i in row.fraud_indicators] == ["loss_shortly_before_cancellation"]
    assert not await refresh_fraud_indicators(
        session, row, settings=runtime.settings, actor=actor
    ), "unchanged: nothing written"


async def test_the_expiration_day_is_covered_by_an_accepted_renewal(
    client: AsyncClient, runtime: Runtime
) -> None:
    agent = await staff(client, runtime, Role.AGENT)
    made = await bound_policy(client, agent)
    end = made.term_end
    with at(end - timedelta(days=30)):
        headers = await fresh(client, agent)
        offered = await client.post(f"{made.url}/renewal-offers", headers=headers)
        assert offered.status_code == 201, offered.text
        from tests.factories import changing

        accepted = await client.post(
            f"{made.url}/renewals", headers=await changing(client, headers, made.url)
        )
        assert accepted.status_code == 201, accepted.text
    with at(end + timedelta(days=1)):
        admin = await staff(client, runtime, Role.ADMIN)
        first_day = await file_claim(client, admin.headers, made.policy_id, loss_at=loss_time(end))
        assert first_day["coverage_status"] == "verified"
        assert (
            first_day["policy_transaction_id"]
            != (
                await file_claim(
                    client,
                    admin.headers,
                    made.policy_id,
                    loss_at=loss_time(end - timedelta(days=1)),
                )
            )["policy_transaction_id"]
        ), "the renewal's term decides its first day"


def test_the_documented_examples_are_valid() -> None:
    from pd_prime_demo.claims.schemas_fnol import (
        ATTACHMENT_EXAMPLE,
        CLAIM_CREATE_EXAMPLE,
        CLAIM_FILED_EXAMPLE,
        AttachmentRead,
        ClaimCreate,
        ClaimFiled,
    )

    assert ClaimCreate.model_validate(CLAIM_CREATE_EXAMPLE).cause_code == "collision"
    assert ClaimFiled.model_validate(CLAIM_FILED_EXAMPLE).number == "PAC-2026-100001"
    assert AttachmentRead.model_validate(ATTACHMENT_EXAMPLE).media_type == "image/jpeg"


async def test_a_claim_holds_a_bounded_number_of_attachments_and_underwriters_only_read(
    client: AsyncClient, runtime: Runtime
) -> None:
    agent = await staff(client, runtime, Role.AGENT)
    made = await bound_policy(client, agent)
    with at(made.inception + timedelta(days=40)):
        headers = await fresh(client, agent)
        claim = await file_claim(client, headers, made.policy_id)
        url = f"/api/v1/claims/{claim['id']}/attachments"
        settings = runtime.settings
        runtime.settings = settings.model_copy(update={"claim_attachments_per_claim": 1})
        try:
            first = await client.post(url, files={"file": ("a.png", PNG)}, headers=headers)
            second = await client.post(url, files={"file": ("b.png", PNG)}, headers=headers)
        finally:
            runtime.settings = settings
        assert first.status_code == 201
        assert second.status_code == 409
        assert second.json()["code"] == "claim.attachments_full"
        underwriter = await staff(client, runtime, Role.UNDERWRITER)
        listed = await client.get(url, headers=underwriter.headers)
        assert listed.status_code == 200
        assert len(listed.json()["items"]) == 1
        refused = await client.post(
            url, files={"file": ("c.png", PNG)}, headers=underwriter.headers
        )
        assert refused.status_code == 403
        empty = await client.post(url, files={"file": ("d.png", b"")}, headers=headers)
        assert empty.status_code == 422
