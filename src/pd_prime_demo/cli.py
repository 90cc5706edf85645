"""pd-prime: serve, demo, migrate, seed, worker, audit, ledger, keys, products, quotes, policies
(``pd-prime bench`` is in ``bench.cli``)."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from pd_prime_demo import audit_cli, bootstrap, compliance_cli, ops_cli, privacy_cli
from pd_prime_demo.bench import cli as bench_cli
from pd_prime_demo.cli_support import in_transaction as _in_transaction
from pd_prime_demo.cli_support import report as _report
from pd_prime_demo.core.config import Environment, Settings, get_settings
from pd_prime_demo.core.keys import load_key_material
from pd_prime_demo.core.logging import configure_logging
from pd_prime_demo.keys_cli import app as keys_app

app = typer.Typer(help="PD Prime: an open P&C insurance core.", no_args_is_help=True)
app.add_typer(audit_cli.app, name="audit")
app.add_typer(compliance_cli.app, name="compliance")
app.add_typer(privacy_cli.app, name="privacy")
app.add_typer(keys_app, name="keys")
app.command()(ops_cli.backup)
app.command()(ops_cli.restore)
products_app = typer.Typer(help="Products and their rate versions.", no_args_is_help=True)
quotes_app = typer.Typer(help="Quotes.", no_args_is_help=True)
policies_app = typer.Typer(help="Policies.", no_args_is_help=True)
app.add_typer(products_app, name="products")
app.add_typer(policies_app, name="policies")
app.add_typer(quotes_app, name="quotes")
app.add_typer(bench_cli.app, name="bench")


def _refuse_unfit_documents(settings: Settings) -> None:
    if problems := bootstrap.document_problems(settings):
        for problem in problems:
            typer.echo(f"refusing to start: {problem}", err=True)
        raise typer.Exit(2)


def _serve(settings: Settings, *, workers: int = 1) -> None:
    from pd_prime_demo.main import create_app
    from pd_prime_demo.operations.metrics import serve_api_metrics

    _refuse_unfit_documents(settings)
    serve_api_metrics(settings, workers=workers)
    uvicorn.run(
        # Several workers each build their app from the environment, in their own process.
        create_app(settings) if workers == 1 else "pd_prime_demo.main:app_factory",
        factory=workers > 1,
        workers=workers,
        host=settings.host,
        port=settings.port,
        log_config=None,
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
        # A spawned worker imports the app before its first health check: 5 s was short.
        timeout_worker_healthcheck=30,
    )


@app.command()
def migrate() -> None:
    """Apply database migrations up to head."""
    bootstrap.migrate(bootstrap.settings())
    typer.echo("migrations: at head")


@app.command()
def seed() -> None:
    """Load the demo data (idempotent). Refused in production."""
    settings = bootstrap.settings()
    if settings.env is Environment.PRODUCTION:
        typer.echo("refusing to seed demo users with known passwords in production", err=True)
        raise typer.Exit(2)
    created = asyncio.run(bootstrap.seed(settings))
    typer.echo(
        f"seeded: {created['users']} users, {created['customers']} customers, "
        f"{created['products']} product versions, {created['quotes']} quotes, "
        f"{created['policies']} policies, {created['claims']} claims created"
    )


@app.command()
def serve(
    workers: Annotated[
        int,
        typer.Option(
            min=1, help="Worker processes (as many as cores); more than one needs DATABASE_URL."
        ),
    ] = 1,
) -> None:
    """Serve the API."""
    if workers == 1:
        _serve(bootstrap.settings())
        return
    settings = get_settings()
    if not settings.database_url:
        # Each worker would otherwise try to own the embedded server's data directory.
        typer.echo("--workers above 1 needs DATABASE_URL (the embedded database is 1 process)")
        raise typer.Exit(2)
    configure_logging(settings.log_level, json=settings.log_json)
    # Here, once: fails fast without keys (or on unsafe ones outside demo mode), and in
    # demo/development writes the local key file before the workers start (they would race).
    from pd_prime_demo.core.secret_policy import refuse_unsafe_secrets

    refuse_unsafe_secrets(settings, load_key_material(settings))
    _serve(settings, workers=workers)


@app.command()
def demo() -> None:
    """Start everything with demo data: embedded PostgreSQL unless DATABASE_URL is set."""
    from pd_prime_demo.seed import DEMO_LOGINS, DEMO_PASSWORD

    settings = bootstrap.settings(demo=True).model_copy(update={"embedded_worker": True})
    bootstrap.migrate(settings)
    created = asyncio.run(bootstrap.seed(settings))
    base = f"http://{settings.host}:{settings.port}"
    database = (
        "DATABASE_URL"
        if os.environ.get("DATABASE_URL")
        else f"embedded PostgreSQL under {settings.data_dir / 'pgdata'}"
    )
    lines = [
        "",
        "PD Prime demo is starting",
        f"  Staff console:         {base}/app  (sign in as "
        + next((f"{x.email}" for x in DEMO_LOGINS if x.role.value == "agent"), "a demo login")
        + " to quote and bind)",
        f"  API docs (Swagger UI): {base}/docs",
        f"  OpenAPI document:      {base}/openapi.json",
        f"  Health / readiness:    {base}/health  {base}/health/ready",
        f"  Metrics:               {base}/metrics "
        + (
            "(send PD_PRIME_METRICS_TOKEN as a bearer token)"
            if settings.metrics_token
            else "(off: set PD_PRIME_METRICS_TOKEN to scrape it with that bearer token)"
        ),
        f"  Database:              {database}",
        f"  Cache:                 {'Redis at REDIS_URL' if settings.redis_url else 'in-process'}",
        f"  Demo data:             {created['users']} users, {created['customers']} customers, "
        f"{created['products']} product versions, {created['quotes']} quotes, "
        f"{created['policies']} policies, {created['claims']} claims created this run "
        "(existing ones kept)",
        "",
        f"  Demo logins (password for all: {DEMO_PASSWORD}) - the console's sign-in page, "
        "or 'Authorize' in /docs:",
        *(f"    {login.role.value:<12} {login.email}" for login in DEMO_LOGINS),
        "",
        f"  Jobs:                  a worker runs beside the server; sweeps on "
        f"'{settings.periodic_cron}' (UTC)",
        "",
        "  DEMO MODE: keys were generated locally; never put real personal data here.",
        "  Press Ctrl-C to stop the server and its worker (the embedded database stops too).",
        "",
    ]
    typer.echo("\n".join(lines))
    _serve(settings)


ledger_app = typer.Typer(help="The double-entry premium ledger.", no_args_is_help=True)
app.add_typer(ledger_app, name="ledger")


@ledger_app.command("check")
def ledger_check() -> None:
    """Prove the ledger balances (debits = credits, every entry balanced); exit 1 if not."""
    from pd_prime_demo.billing.service import trial_balance

    trial = _in_transaction(trial_balance)
    if trial.balanced:
        _report(True, f"ledger balanced: debits {trial.debits} = credits {trial.credits}")
    else:
        _report(
            False,
            f"ledger NOT balanced: debits {trial.debits}, credits {trial.credits}, "
            f"unbalanced entries {trial.unbalanced_entries}",
        )


@products_app.command("upload")
def products_upload(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    activate: Annotated[bool, typer.Option(help="Also approve and activate it.")] = False,
) -> None:
    """Upload a product version definition (JSON) as a draft; exit 1 listing every problem."""
    from pd_prime_demo.core.actor import Actor
    from pd_prime_demo.core.result_types import Err, Ok
    from pd_prime_demo.products import service as products

    settings = bootstrap.settings()
    raw = json.loads(path.read_text("utf-8"))

    async def run() -> tuple[bool, str]:
        from pd_prime_demo.core.database import Database

        assert settings.database_url is not None
        db = Database.connect(settings.database_url, pool_size=1, max_overflow=0)
        actor = Actor.system("cli")
        try:
            async with db.unit_of_work() as session:
                match await products.upload_version(session, raw, actor=actor):
                    case Err(error):
                        lines = [f"{error.code}: {error.detail}"]
                        lines += [f"  {e.pointer}: {e.detail}" for e in error.errors]
                        return False, "\n".join(lines)
                    case Ok(row):
                        if activate:
                            for action in ("approve", "activate"):
                                await products.transition(session, row.id, action, actor=actor)
                        name = f"{row.product_code} {row.state} {row.version}"
                        return True, f"uploaded {name} ({row.status}) id={row.id}"
        finally:
            await db.dispose()
        raise AssertionError("unreachable")  # pragma: no cover

    ok, message = asyncio.run(run())
    typer.echo(message, err=not ok)
    if not ok:
        raise typer.Exit(1)


@products_app.command("export")
def products_export(
    directory: Annotated[Path, typer.Argument(file_okay=False)],
) -> None:
    """Write the shipped product versions as JSON files (a starting point for your own)."""
    from pd_prime_demo.products.shipped import shipped_files

    directory.mkdir(parents=True, exist_ok=True)
    for source in shipped_files():
        target = directory / source.name
        target.write_bytes(source.read_bytes())
        typer.echo(f"wrote {target}")


@quotes_app.command("expire")
def quotes_expire() -> None:
    """Expire open quotes past their validity period."""
    from pd_prime_demo.quotes.service import expire_due

    typer.echo(f"expired {_in_transaction(expire_due, commit=True)} quotes")


@policies_app.command("import")
def policies_import(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="csv or json (default: by the file's extension)."),
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Check the whole file and load nothing.")] = False,
    chunk: Annotated[
        int, typer.Option(min=1, max=10_000, help="Policies per database transaction.")
    ] = 1000,
    report: Annotated[
        Path | None, typer.Option(help="Write the whole result (every policy) here as JSON.")
    ] = None,
) -> None:
    """Convert a book from another system (docs/book-import.md): check the whole file, then load
    it a chunk per transaction; exit 1 if any policy was refused, listing every problem."""
    from pd_prime_demo.core.actor import Actor
    from pd_prime_demo.core.result_types import Err, Ok
    from pd_prime_demo.core.runtime import Runtime
    from pd_prime_demo.policies import service as policies

    kind = policies.format_of(path, fmt)
    if kind not in ("csv", "json"):
        raise typer.BadParameter("--format must be csv or json")
    settings = bootstrap.settings()

    async def run() -> policies.ImportResult:
        runtime = Runtime.create(settings)
        try:
            match await policies.import_file(
                runtime.db,
                path,
                fmt=kind,
                actor=Actor.system("book-import"),
                cipher=runtime.cipher,
                dry_run=dry_run,
                chunk=chunk,
            ):
                case Ok(result):
                    return result
                case Err(error):
                    raise RuntimeError(error.detail)
        finally:
            await runtime.close()
        raise AssertionError("unreachable")  # pragma: no cover

    try:
        result = asyncio.run(run())
    except policies.UnreadableBookError as error:
        _report(False, f"{path}: cannot be read ({error.pointer}): {error.detail}")
        return
    if report is not None:
        report.write_text(result.model_dump_json(indent=2), "utf-8")
    for problem in result.problems:
        typer.echo(
            f"{problem.number or '?'} (row {problem.row}) {problem.pointer}: {problem.detail}",
            err=True,
        )
    counts = result.counts
    verb = "would load" if dry_run else "loaded"
    _report(
        not result.refused,
        f"{counts.policies} policies ({counts.transactions} transactions): {verb} "
        f"{counts.loaded}, already loaded {counts.already_loaded}, refused {counts.refused}",
    )


@app.command()
def worker(
    once: Annotated[
        bool, typer.Option(help="Run every sweep once, work the queue until empty, and exit.")
    ] = False,
) -> None:
    """Work the job queue: documents, the outbox relay and the periodic sweeps (quote expiry,
    renewals, billing and delinquency, earned premium). Run as many as you need."""
    from pd_prime_demo.core.runtime import Runtime
    from pd_prime_demo.operations.metrics import serve as serve_metrics
    from pd_prime_demo.worker import run_once, run_worker

    settings = bootstrap.settings()
    _refuse_unfit_documents(settings)
    if not once:  # a cron run ends before anyone would scrape it
        serve_metrics(settings.worker_metrics_listen, settings)

    async def run() -> None:
        from pd_prime_demo.main import create_app

        runtime = Runtime.create(
            settings.model_copy(update={"db_pool_size": 4, "db_max_overflow": 4})
        )
        # The logical-access control (compliance) checks the routes the API serves.
        runtime.routes = tuple(create_app(settings, runtime=runtime).routes)
        try:
            if once:
                for name, result in (await run_once(runtime)).items():
                    typer.echo(f"{name}: {result}")
            else:
                await run_worker(runtime)
        finally:
            await runtime.close()

    asyncio.run(run())


def main() -> None:
    app(prog_name="pd-prime")


if __name__ == "__main__":
    main()
