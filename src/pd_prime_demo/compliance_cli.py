"""``pd-prime compliance``: the compliance domain's commands (the logic is in its service)."""

from __future__ import annotations

import shutil
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pd_prime_demo.cli_support import in_transaction, report

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

app = typer.Typer(
    help="SOC 2 controls: run them, list their results, export for an auditor.",
    no_args_is_help=True,
)


@app.command("list")
def compliance_list() -> None:
    """Every control of the catalogue with its latest result; exit 1 when any latest run
    failed."""
    from pd_prime_demo.compliance import service

    statuses = in_transaction(lambda s: service.control_statuses(s, service.catalogue()))
    failing = False
    for status in statuses:
        latest = status.latest
        if latest is None:
            verdict = "never run"
        else:
            verdict = f"{'PASS' if latest.passed else 'FAIL'} run {latest.id} at "
            verdict += f"{latest.started_at.isoformat(timespec='seconds')}: {latest.reason}"
            failing = failing or not latest.passed
        typer.echo(
            f"{status.control.id} [{', '.join(status.control.criteria)}] "
            f"{status.control.frequency.value}: {verdict}"
        )
    report(not failing, f"{len(statuses)} controls" + (", some failing" if failing else ""))


@app.command("run")
def compliance_run(
    control_id: Annotated[
        str | None, typer.Argument(help="one control to run now; all that are due when absent")
    ] = None,
) -> None:
    """Run one control now, or every control that is due (as the worker's schedule does);
    exit 1 when a run failed."""
    from pd_prime_demo import bootstrap
    from pd_prime_demo.compliance import service
    from pd_prime_demo.compliance.models import ControlRun
    from pd_prime_demo.core import clock
    from pd_prime_demo.core.result_types import Err, Ok
    from pd_prime_demo.main import create_app

    settings = bootstrap.settings()
    routes = tuple(create_app(settings).routes)  # the routes the API serves (CC6.1)
    controls = service.catalogue()
    if control_id is not None:
        match service.find_control(controls, control_id):
            case Err(error):
                report(False, f"{control_id}: {error.detail}")
                return
            case Ok(control):
                controls = (control,)

    async def work(session: AsyncSession) -> list[ControlRun]:
        now = clock.now()
        if control_id is not None:
            return [
                await service.run_control(
                    session, controls[0], settings=settings, now=now, routes=routes
                )
            ]
        return await service.run_due(session, settings, now=now, routes=routes, controls=controls)

    runs = in_transaction(work, commit=True)
    service.publish(runs)
    for run in runs:
        typer.echo(
            f"{run.control_id}: {'PASS' if run.passed else 'FAIL'} (run {run.id}) {run.reason}"
        )
    failed = [run for run in runs if not run.passed]
    report(not failed, f"{len(runs)} runs, {len(failed)} failed" if runs else "nothing due")


@app.command("export")
def compliance_export(
    start: Annotated[datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="first UTC day")],
    end: Annotated[datetime, typer.Option("--to", formats=["%Y-%m-%d"], help="last UTC day")],
    out: Annotated[Path, typer.Option("--out", help="the zip to write")],
    seed: Annotated[
        str | None,
        typer.Option(
            help=(
                "the sampling seed: the auditor supplies their own (the manifest records who "
                "did); drawn by the server when absent"
            )
        ),
    ] = None,
) -> None:
    """Write the auditor's archive of a period (every run, the samples, the evidence, the
    chain's verification); exit 1 when the run chain does not verify."""
    import json
    import zipfile

    from pd_prime_demo import bootstrap
    from pd_prime_demo.compliance import service
    from pd_prime_demo.core import clock
    from pd_prime_demo.core.actor import Actor
    from pd_prime_demo.core.result_types import Err, Ok

    settings = bootstrap.settings()
    first, last = date.fromordinal(start.toordinal()), date.fromordinal(end.toordinal())

    async def work(session: AsyncSession) -> None:
        result = await service.export_period(
            session,
            settings,
            start=first,
            end=last,
            seed=seed,
            now=clock.now(),
            actor=Actor.system("cli"),
        )
        match result:
            case Err(error):
                report(False, error.detail)
            case Ok(file):
                with file, out.open("wb") as target:
                    shutil.copyfileobj(file, target)

    in_transaction(work, commit=True)
    with zipfile.ZipFile(out) as archive:
        manifest = json.loads(archive.read("manifest.json"))
    chain = manifest["chain"]
    verdict = (
        "run chain verified"
        if chain["ok"]
        else f"run chain BROKEN at run {chain['first_bad_id']}: {chain['reason']}"
    )
    report(
        bool(chain["ok"]),
        f"{out}: {manifest['runs']} runs from {first} to {last}, "
        f"seed {manifest['sampling']['seed']}; {verdict}",
    )
