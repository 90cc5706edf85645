"""pd-prime keys: key material for tokens and PII encryption, and the PII key rotation."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from pd_prime_demo import bootstrap

app = typer.Typer(help="Key material for tokens and PII encryption.", no_args_is_help=True)


def _report(ok: bool, message: str) -> None:
    typer.echo(message, err=not ok)
    if not ok:
        raise typer.Exit(1)


@app.command("generate")
def keys_generate(
    shell: Annotated[bool, typer.Option(help="Print as shell export lines.")] = True,
) -> None:
    """Print fresh JWT, PII, OIDC and audit-checkpoint key material as environment variables
    (store it in a vault; keep the checkpoint key away from the database's host)."""
    from pd_prime_demo.core.checkpoint_keys import generate_pem
    from pd_prime_demo.core.keys import export_key_material_env, generate_key_material

    values = export_key_material_env(generate_key_material())
    values["PD_PRIME_AUDIT_CHECKPOINT_KEY"] = generate_pem()
    for name, value in values.items():
        typer.echo(f"export {name}='{value}'" if shell else f"{name}={value}")


@app.command("rotate")
def keys_rotate(
    batch_size: Annotated[
        int | None, typer.Option(min=1, max=10_000, help="Rows per transaction.")
    ] = None,
    max_batches: Annotated[
        int | None, typer.Option(min=1, help="Stop after this many batches (run again to resume).")
    ] = None,
    pause: Annotated[
        float, typer.Option(min=0.0, help="Seconds to wait between batches (spares the API).")
    ] = 0.0,
) -> None:
    """Re-encrypt every PII field under the active PII key, in batches, while the API serves.

    First add the new key to PD_PRIME_PII_KEYS and deploy; then make it PD_PRIME_PII_ACTIVE_KID
    and deploy (new fields use it from then on); then run this. It resumes where it stopped
    (each field names its key), and says which old keys no field uses any more."""
    from pd_prime_demo.core import pii_rotation
    from pd_prime_demo.core.runtime import Runtime

    settings = bootstrap.settings()

    async def run() -> tuple[pii_rotation.RotationReport, dict[str, int]]:
        runtime = Runtime.create(settings.model_copy(update={"db_pool_size": 2}))
        try:
            report = await pii_rotation.rotate(
                runtime.db,
                runtime.cipher,
                batch_size=batch_size or settings.pii_rotation_batch_size,
                max_batches=max_batches,
                pause_seconds=pause,
            )
            return report, dict(await pii_rotation.key_ids_in_use(runtime.db))
        finally:
            await runtime.close()

    report, in_use = asyncio.run(run())
    for name, table in report.tables.items():
        typer.echo(
            f"{name}: {table.rewritten} fields re-encrypted in {table.batches} batches"
            + (f", {table.changed_meanwhile} changed meanwhile" if table.changed_meanwhile else "")
            + (f", {table.unreadable} UNREADABLE (key not in the ring)" if table.unreadable else "")
        )
    older = {kid: n for kid, n in in_use.items() if kid != report.active_kid}
    ring = set(settings.pii_keys) - {report.active_kid}
    if not report.finished:
        _report(True, f"stopped after {max_batches} batches: run again to carry on")
    elif older:
        left = ", ".join(f"{kid}: {n}" for kid, n in sorted(older.items()))
        _report(False, f"fields still under older keys ({left}): run again")
    else:
        unused = ", ".join(sorted(ring)) or "none"
        _report(
            True,
            f"every field is under {report.active_kid}; keys no field uses any more: {unused}",
        )
