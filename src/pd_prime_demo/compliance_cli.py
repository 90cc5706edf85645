"""``pd-prime compliance``: the compliance domain's commands (the logic is in its service)."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="SOC 2 controls: run them, list their results, export for an auditor.",
    no_args_is_help=True,
)
