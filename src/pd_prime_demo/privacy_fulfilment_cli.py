"""``pd-prime privacy holds`` and ``pd-prime privacy retention``: legal holds and the retention
schedules (the logic is in ``privacy.service``)."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Annotated, Any

import typer

from pd_prime_demo import bootstrap
from pd_prime_demo.cli_support import in_transaction, report

holds_app = typer.Typer(help="Legal holds: place, list, release.", no_args_is_help=True)
retention_app = typer.Typer(help="Retention schedules: show them, run them.", no_args_is_help=True)

_SCOPES = ("customer", "policy", "claim")


def _hold_line(hold: Any) -> str:
    state = "active" if hold.released_at is None else f"released {hold.released_at:%Y-%m-%d}"
    return (
        f"{hold.id}  {hold.scope} {hold.subject_id}  customer {hold.customer_id}  "
        f"{hold.matter_reference}  placed {hold.placed_at:%Y-%m-%d}  {state}"
    )


@holds_app.command("place")
def holds_place(
    scope: Annotated[str, typer.Argument(help="customer, policy or claim")],
    subject_id: Annotated[uuid.UUID, typer.Argument(help="The customer's, policy's or claim's id")],
    reason: Annotated[str, typer.Option(help="Counsel's reason for the hold.")],
    matter: Annotated[str, typer.Option(help="The litigation matter or docket reference.")],
) -> None:
    """Place a legal hold: the person's records are kept from erasure and retention."""
    from pd_prime_demo.core.actor import Actor
    from pd_prime_demo.core.result_types import Ok
    from pd_prime_demo.privacy.service import holds

    if scope not in _SCOPES:
        report(False, f"scope must be one of {', '.join(_SCOPES)}")
    request = holds.HoldRequest(scope, subject_id, reason, matter)
    result = in_transaction(
        lambda s: holds.place(s, request, actor=Actor.system("cli")), commit=True
    )
    if isinstance(result, Ok):
        report(True, "placed " + _hold_line(result.value))
    else:
        report(False, f"refused: {result.error.detail} ({result.error.code})")


@holds_app.command("list")
def holds_list(
    active: Annotated[bool, typer.Option(help="Only the holds in force.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 50,
) -> None:
    """List holds, newest first (a page; the API pages further)."""
    from pd_prime_demo.core.result_types import Ok
    from pd_prime_demo.privacy.service import holds

    result = in_transaction(
        lambda s: holds.list_holds(s, active_only=active, cursor=None, limit=limit)
    )
    if not isinstance(result, Ok):
        report(False, result.error.detail)
        return
    found, more = result.value
    lines = [_hold_line(h) for h in found] or ["no holds"]
    if more:
        lines.append(f"... more: GET /api/v1/privacy/holds?cursor={more}")
    report(True, "\n".join(lines))


@holds_app.command("release")
def holds_release(
    hold_id: Annotated[uuid.UUID, typer.Argument()],
    note: Annotated[str | None, typer.Option(help="Why it is released.")] = None,
) -> None:
    """Release a hold (it stays on record)."""
    from pd_prime_demo.core.actor import Actor
    from pd_prime_demo.core.result_types import Ok
    from pd_prime_demo.privacy.service import holds

    result = in_transaction(
        lambda s: holds.release(s, hold_id, note=note, actor=Actor.system("cli")), commit=True
    )
    if isinstance(result, Ok):
        report(True, "released " + _hold_line(result.value))
    else:
        report(False, f"refused: {result.error.detail} ({result.error.code})")


@retention_app.command("show")
def retention_show() -> None:
    """The retention schedule: each record class, its period, action and legal basis."""
    from pd_prime_demo.core import clock
    from pd_prime_demo.privacy.service import retention

    settings = bootstrap.settings()
    today = clock.today()
    lines = [
        f"{p.record_class.value}: {p.action.value} after {p.years} years "
        f"(due if its clock ended before {p.cutoff(today)})\n    {p.basis}"
        for p in retention.retention_schedule(settings)
    ]
    lines.append(
        f"runs on {settings.privacy_retention_cron!r} (UTC), "
        f"{settings.privacy_retention_chunk} customers per transaction"
    )
    report(True, "\n".join(lines))


@retention_app.command("run")
def retention_run(
    chunks: Annotated[
        int | None, typer.Option(min=1, help="Stop after this many chunks (resumable).")
    ] = None,
) -> None:
    """Run the schedule now (or resume the unfinished run), honouring legal holds."""
    from pd_prime_demo.core.actor import Actor
    from pd_prime_demo.core.runtime import Runtime
    from pd_prime_demo.privacy.service import retention

    settings = bootstrap.settings()

    async def run() -> dict[str, Any]:
        runtime = Runtime.create(settings.model_copy(update={"db_pool_size": 2}))
        try:
            done = await retention.run(
                runtime.db,
                runtime.settings,
                runtime.cipher,
                actor=Actor.system("cli"),
                max_chunks=chunks,
            )
            return {
                "run_id": str(done.id),
                "finished": done.finished_at is not None,
                "chunks": done.chunks,
                **{k: v for k, v in done.progress.items() if k != "cursor"},
            }
        finally:
            await runtime.close()

    report(True, json.dumps(asyncio.run(run()), indent=2))
