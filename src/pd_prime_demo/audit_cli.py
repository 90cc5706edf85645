"""``pd-prime audit``: verify the tamper-evident audit trail."""

from __future__ import annotations

import typer

from pd_prime_demo.cli_support import in_transaction, report

app = typer.Typer(help="The tamper-evident audit trail.", no_args_is_help=True)


@app.command("verify")
def audit_verify() -> None:
    """Recompute the audit hash chain; exit 1 and name the first bad entry if broken."""
    from pd_prime_demo.audit.service import verify_chain

    outcome = in_transaction(verify_chain)
    if outcome.ok:
        report(True, f"audit chain intact: {outcome.entries_checked} entries verified")
    else:
        report(
            False,
            f"audit chain BROKEN at entry {outcome.first_bad_id}: {outcome.reason} "
            f"({outcome.entries_checked} entries before it verified)",
        )
