"""``pd-prime audit``: verify the tamper-evident audit trail, write a signed checkpoint of it,
and apply its retention."""

from __future__ import annotations

from typing import Annotated

import typer

from pd_prime_demo.cli_support import in_transaction, report

app = typer.Typer(help="The tamper-evident audit trail.", no_args_is_help=True)


@app.command("verify")
def audit_verify(
    full: Annotated[
        bool,
        typer.Option(
            "--full",
            help="Walk the whole chain, not only the entries after the last verified head.",
        ),
    ] = False,
    parallel: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=64,
            help="Processes walking the chain (default PD_PRIME_AUDIT_VERIFY_PARALLEL).",
        ),
    ] = None,
) -> None:
    """Recompute the audit hash chain and check it against every signed checkpoint; exit 1
    and name the first bad entry, the missing range or the rewritten stretch if broken.

    Incremental by default: only the entries after the last verified head (the signed marker
    beside the checkpoints) are walked; the stretch before it is checked by its count, its
    head's hash and the checkpoints' anchors. A successful run moves the marker on."""
    from pd_prime_demo import bootstrap
    from pd_prime_demo.audit.service import ChainReport, verify_chain

    settings = bootstrap.settings()
    outcome: ChainReport = in_transaction(
        lambda s: verify_chain(
            s, settings=settings, mode="full" if full else "incremental", parallel=parallel
        )
    )
    lines = [f"{outcome.entries_checked} entries verified as a chain"]
    walked = f"{outcome.mode}: {outcome.entries_walked or 0} entries walked"
    if outcome.mode == "incremental":
        walked += (
            f" after id {outcome.walked_after_id} (verified up to it "
            f"{outcome.previously_verified_at:%Y-%m-%d %H:%M:%S} UTC)"
            if outcome.previously_verified_at
            else f" after id {outcome.walked_after_id}"
        )
    lines.append(walked)
    if outcome.latest_checkpoint is not None:
        lines.append(
            f"{outcome.checkpoints_checked} signed checkpoints verified, the newest "
            f"checkpoint {outcome.latest_checkpoint}; "
            f"{outcome.entries_after_checkpoint or 0} entries after it (chain-verified only)"
        )
    if outcome.warning:
        lines.append(f"warning: {outcome.warning}")
    if outcome.missing_from_id is not None:
        lines.append(
            f"missing: ids {outcome.missing_from_id}..{outcome.missing_through_id} "
            f"({outcome.missing_count} entries)"
        )
    if outcome.rewritten_through_id is not None:
        lines.append(
            f"rewritten: after id {outcome.rewritten_after_id}, "
            f"at or before id {outcome.rewritten_through_id}"
        )
    if outcome.checkpoint_problem:
        lines.append(f"checkpoints BROKEN: {outcome.checkpoint_problem}")
    if outcome.marker_problem:
        lines.append(f"verified marker REJECTED: {outcome.marker_problem} (walked everything)")
    if outcome.ok:
        report(True, "audit chain intact: " + "\n".join(lines))
    else:
        headline = (
            f"audit chain BROKEN at entry {outcome.first_bad_id}: {outcome.reason}"
            if outcome.reason
            else "audit checkpoints BROKEN"
            if outcome.checkpoint_problem
            else "audit verified marker REJECTED"
        )
        report(False, headline + "\n" + "\n".join(lines))


@app.command("checkpoint")
def audit_checkpoint() -> None:
    """Write a signed checkpoint of the chain now (the worker writes one on
    PD_PRIME_AUDIT_CHECKPOINT_CRON); nothing is written when nothing was appended since."""
    from pd_prime_demo import bootstrap
    from pd_prime_demo.audit.anchoring import CheckpointRefusedError, Written, write_checkpoint
    from pd_prime_demo.core.checkpoint_keys import CheckpointKeyError

    settings = bootstrap.settings()
    try:
        written: Written | None = in_transaction(lambda s: write_checkpoint(s, settings))
    except (CheckpointRefusedError, CheckpointKeyError) as exc:
        report(False, f"no checkpoint written: {exc}")
        return
    if written is None:
        report(True, "nothing appended since the last checkpoint: none written")
        return
    checkpoint = written.checkpoint
    witness = {None: "", True: "; posted to the webhook", False: "; the webhook FAILED"}
    report(
        True,
        f"checkpoint {checkpoint.sequence} written to {written.path}: head entry "
        f"{checkpoint.head.id}, {checkpoint.entries} entries{witness[written.webhook_delivered]}",
    )


@app.command("retention")
def audit_retention() -> None:
    """Drop the monthly partitions of audit_log older than PD_PRIME_AUDIT_RETENTION_YEARS,
    each after a signed retention checkpoint (the worker runs this daily)."""
    from pd_prime_demo import bootstrap
    from pd_prime_demo.audit.anchoring import CheckpointRefusedError
    from pd_prime_demo.audit.retention import RetentionRefusedError, RetentionRun, apply_retention
    from pd_prime_demo.core.checkpoint_keys import CheckpointKeyError
    from pd_prime_demo.privacy.service.holds import held_resources

    settings = bootstrap.settings()
    try:
        run: RetentionRun = in_transaction(
            lambda s: apply_retention(s, settings, held=held_resources), commit=True
        )
    except (RetentionRefusedError, CheckpointRefusedError, CheckpointKeyError) as exc:
        report(False, f"nothing purged: {exc}")
        return
    lines = [
        f"purged {', '.join(p.partitions)}: {p.entries} entries through id {p.through_id} "
        f"(retention checkpoint {p.checkpoint})"
        for p in run.purged
    ] or ["no audit partition is past retention"]
    if run.postponed:
        lines.append(f"postponed (ids interleave with a later month): {', '.join(run.postponed)}")
    if run.held:
        lines.append(f"kept under a legal hold (and every later month): {', '.join(run.held)}")
    report(True, "\n".join(lines))
