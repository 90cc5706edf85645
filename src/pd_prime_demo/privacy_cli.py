"""``pd-prime privacy``: the privacy domain's commands (the logic is in its service)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from pd_prime_demo import bootstrap, privacy_fulfilment_cli
from pd_prime_demo.cli_support import in_transaction, report
from pd_prime_demo.privacy.enums import RequestStatus

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from pd_prime_demo.core.runtime import Runtime

T = TypeVar("T")

app = typer.Typer(
    help="Privacy: data subject requests, legal holds, retention, the data map.",
    no_args_is_help=True,
)
requests_app = typer.Typer(
    help="Data subject requests: list, show, fulfil, reject, extend; the deadline report.",
    no_args_is_help=True,
)
notices_app = typer.Typer(help="Privacy notices: publish a version.", no_args_is_help=True)

app.add_typer(privacy_fulfilment_cli.holds_app, name="holds")
app.add_typer(privacy_fulfilment_cli.retention_app, name="retention")
app.add_typer(requests_app, name="requests")
app.add_typer(notices_app, name="notices")


def _with_runtime(work: Callable[[AsyncSession, Runtime], Awaitable[T]]) -> T:
    """Run ``work`` in one committed unit of work with a runtime (the cipher, mail, settings)."""
    from pd_prime_demo.core.runtime import Runtime

    settings = bootstrap.settings()

    async def run() -> T:
        runtime = Runtime.create(settings.model_copy(update={"db_pool_size": 2}))
        try:
            async with runtime.db.unit_of_work() as session:
                return await work(session, runtime)
        finally:
            await runtime.close()

    return asyncio.run(run())


@app.command("data-map")
def data_map(
    markdown: Annotated[bool, typer.Option(help="Markdown (docs/data-map.md), not JSON.")] = False,
    output: Annotated[Path | None, typer.Option(help="Write to this file.")] = None,
) -> None:
    """Which tables and columns hold which personal data (generated from the models)."""
    import pd_prime_demo.main  # noqa: F401  (every domain's tables on the metadata)
    from pd_prime_demo.core.database import Base
    from pd_prime_demo.privacy import datamap

    built = datamap.build(Base.metadata)
    text = built.as_markdown() if markdown else built.as_json()
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text)
        typer.echo(f"{len(built.columns)} columns in {len(built.tables())} tables -> {output}")


@requests_app.command("list")
def list_requests(
    status: Annotated[
        RequestStatus | None, typer.Option(help="Only requests in this status.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
) -> None:
    """The newest requests, one JSON object a line."""
    from pd_prime_demo.core.actor import Actor
    from pd_prime_demo.core.result_types import Ok
    from pd_prime_demo.privacy.service import requests

    wanted = status

    async def work(session: AsyncSession) -> list[dict[str, str]]:
        found = await requests.list_requests(
            session,
            actor=Actor.system("cli"),
            customer_id=None,
            status=wanted,
            cursor=None,
            limit=limit,
        )
        rows = found.value[0] if isinstance(found, Ok) else []
        return [
            {
                "id": str(r.id),
                "kind": r.kind,
                "regime": r.regime,
                "status": r.status,
                "due_on": (r.extended_due_on or r.due_on).isoformat(),
            }
            for r in rows
        ]

    for row in in_transaction(work):
        typer.echo(json.dumps(row))


@requests_app.command("show")
def show_request(request_id: uuid.UUID) -> None:
    """A request and its history."""
    from pd_prime_demo.core.actor import Actor
    from pd_prime_demo.core.result_types import Ok
    from pd_prime_demo.privacy.schemas import RequestEventRead, RequestRead
    from pd_prime_demo.privacy.service import requests

    async def work(session: AsyncSession) -> str | None:
        actor = Actor.system("cli")
        found = await requests.get(session, request_id, actor=actor)
        events = await requests.history(session, request_id, actor=actor)
        if not isinstance(found, Ok) or not isinstance(events, Ok):
            return None
        body = RequestRead.model_validate(found.value).model_dump(mode="json")
        body["history"] = [
            RequestEventRead.model_validate(e).model_dump(mode="json") for e in events.value
        ]
        return json.dumps(body, indent=2)

    shown = in_transaction(work)
    report(shown is not None, shown or f"no request {request_id}")


def _act(name: str, call: Callable[[AsyncSession, Runtime], Awaitable[object]]) -> None:
    from pd_prime_demo.core.result_types import Err, Ok

    result = _with_runtime(call)
    if isinstance(result, Err):
        report(False, f"{name}: {result.error.detail} ({result.error.code})")
    assert isinstance(result, Ok)
    request = result.value
    report(True, f"{name}: request {request.id} is {request.status}")


@requests_app.command("fulfil")
def fulfil_request(request_id: uuid.UUID) -> None:
    """Carry out a verified request and complete it."""
    from pd_prime_demo.core.actor import Actor
    from pd_prime_demo.privacy.service import fulfilment

    _act(
        "fulfil",
        lambda s, rt: fulfilment.fulfil(s, request_id, actor=Actor.system("cli"), cipher=rt.cipher),
    )


@requests_app.command("reject")
def reject_request(
    request_id: uuid.UUID,
    reason: Annotated[str, typer.Option(help="The reason the person is given.")],
) -> None:
    """Reject a request with its reason."""
    from pd_prime_demo.core.actor import Actor
    from pd_prime_demo.privacy.service import requests

    _act("reject", lambda s, _: requests.reject(s, request_id, reason, actor=Actor.system("cli")))


@requests_app.command("extend")
def extend_request(
    request_id: uuid.UUID,
    reason: Annotated[str, typer.Option(help="Why more time is needed (told to the person).")],
) -> None:
    """Extend a request's deadline once (GDPR +2 months, CCPA +45 days)."""
    from pd_prime_demo.core.actor import Actor
    from pd_prime_demo.privacy.service import requests

    _act("extend", lambda s, _: requests.extend(s, request_id, reason, actor=Actor.system("cli")))


@requests_app.command("deadlines")
def deadlines(
    days: Annotated[int, typer.Option(min=1, help="The period closed requests are read in.")] = 30,
) -> None:
    """Open requests past their deadline, and requests answered late in the last DAYS days.
    Exit 1 when there is any."""
    from datetime import timedelta

    from pd_prime_demo.core import clock
    from pd_prime_demo.privacy.service import requests

    now = clock.now()
    found = in_transaction(
        lambda s: requests.deadline_report(s, now=now, since=now - timedelta(days=days))
    )
    typer.echo(
        json.dumps(
            {
                "open_overdue": found.open_overdue,
                "overdue_ids": [str(i) for i in found.overdue_ids],
                "closed_in_period": found.closed_in_period,
                "closed_late": found.closed_late,
                "late_ids": [str(i) for i in found.late_ids],
            },
            indent=2,
        )
    )
    report(found.healthy, "all requests within their deadlines" if found.healthy else "late")


@notices_app.command("publish")
def publish_notice(
    version: str,
    text_file: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="The notice text.")],
    url: Annotated[str, typer.Option(help="Where the notice is published.")],
) -> None:
    """Publish a version of the privacy notice (consents name the version they were given under)."""
    from pd_prime_demo.core.actor import Actor
    from pd_prime_demo.core.result_types import Err
    from pd_prime_demo.privacy.service import consent

    text = text_file.read_text()
    result = in_transaction(
        lambda s: consent.publish_notice(
            s, version=version, text=text, url=url, actor=Actor.system("cli")
        ),
        commit=True,
    )
    if isinstance(result, Err):
        report(False, f"{result.error.detail} ({result.error.code})")
    report(True, f"notice {version} published")
