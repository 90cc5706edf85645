"""``pd-prime privacy holds`` and ``pd-prime privacy retention``: legal holds and the retention
schedules (the logic is in ``privacy.service``)."""

from __future__ import annotations

import typer

holds_app = typer.Typer(help="Legal holds: place, list, release.", no_args_is_help=True)
retention_app = typer.Typer(help="Retention schedules: show them, run them.", no_args_is_help=True)
