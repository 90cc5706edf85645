"""``pd-prime privacy``: the privacy domain's commands (the logic is in its service)."""

from __future__ import annotations

import typer

from pd_prime_demo import privacy_fulfilment_cli

app = typer.Typer(
    help="Privacy: data subject requests, legal holds, retention, the data map.",
    no_args_is_help=True,
)

app.add_typer(privacy_fulfilment_cli.holds_app, name="holds")
app.add_typer(privacy_fulfilment_cli.retention_app, name="retention")
