"""``pd-prime privacy``: the privacy domain's commands (the logic is in its service)."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Privacy: data subject requests, legal holds, retention, the data map.",
    no_args_is_help=True,
)
