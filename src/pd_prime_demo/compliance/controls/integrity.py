"""Processing integrity (AICPA TSC PI1.4/PI1.5: outputs complete and accurate, stored records
intact): the ledger balances and the audit chain verifies against its signed checkpoints.

A bare hash chain cannot show a removed tail, a truncation or a rewrite with every later hash
recomputed: only the checkpoints written outside the database can (``audit.service.
verify_chain`` with the settings that name them). No checkpoint to verify against is a failure.

The same proofs as ``pd-prime ledger check`` and ``pd-prime audit verify`` (and the hourly
integrity check of ``operations.integrity``), read through ``billing.service`` and
``audit.service``.
"""

from __future__ import annotations

from pd_prime_demo.audit import service as audit
from pd_prime_demo.billing import service as billing
from pd_prime_demo.compliance.control import Control, ControlContext, Frequency, Outcome
from pd_prime_demo.compliance.controls.evidence import json_evidence, named


async def processing_integrity(ctx: ControlContext) -> Outcome:
    trial = await billing.trial_balance(ctx.session)
    chain = await audit.verify_chain(ctx.session, settings=ctx.settings)
    evidence = (
        json_evidence(
            "integrity.json",
            {
                "ledger": {
                    "debits": trial.debits,
                    "credits": trial.credits,
                    "balanced": trial.balanced,
                    "unbalanced_entries": sorted(trial.unbalanced_entries)[:1000],
                },
                "audit_chain": {
                    "entries_checked": chain.entries_checked,
                    "first_bad_id": chain.first_bad_id,
                    "reason": chain.reason,
                    "checkpoints_checked": chain.checkpoints_checked,
                    "latest_checkpoint": chain.latest_checkpoint,
                    "entries_after_checkpoint": chain.entries_after_checkpoint,
                    "missing_from_id": chain.missing_from_id,
                    "missing_through_id": chain.missing_through_id,
                    "rewritten_after_id": chain.rewritten_after_id,
                    "rewritten_through_id": chain.rewritten_through_id,
                    "checkpoint_problem": chain.checkpoint_problem,
                },
            },
        ),
    )
    figures = {
        "ledger_debits": str(trial.debits),
        "ledger_credits": str(trial.credits),
        "audit_entries_checked": chain.entries_checked,
        "checkpoints_checked": chain.checkpoints_checked,
    }
    problems = []
    if not trial.balanced:
        problems.append(
            f"the ledger does not balance: debits {trial.debits}, credits {trial.credits}, "
            f"unbalanced journal entries {named(sorted(trial.unbalanced_entries)) or 'none'}"
        )
    if chain.checkpoint_problem is not None:
        problems.append(f"the audit checkpoints do not verify: {chain.checkpoint_problem}")
    if chain.reason is not None:
        where = f" at entry {chain.first_bad_id}" if chain.first_bad_id is not None else ""
        problems.append(f"the audit chain does not verify{where}: {chain.reason}")
    elif chain.checkpoints_checked == 0:
        problems.append("no signed checkpoint of the audit chain to verify it against")
    if problems:
        return Outcome(False, "; ".join(problems), ctx.now, ctx.now, evidence, figures)
    reason = (
        f"the ledger balances (debits = credits = {trial.debits}); the audit chain verifies "
        f"against checkpoint {chain.latest_checkpoint} ({chain.entries_checked} entries, "
        f"{chain.entries_after_checkpoint or 0} since the checkpoint)"
    )
    return Outcome(True, reason, ctx.now, ctx.now, evidence, figures)


PROCESSING_INTEGRITY = Control(
    id="PI1-processing-integrity",
    criteria=("PI1.4", "PI1.5"),
    title="The ledger balances and the audit chain verifies",
    description=(
        "Debits equal credits over the whole ledger and within every journal entry; every "
        "audit entry's hash recomputes and links to the one before, and the chain matches "
        "every signed checkpoint (no entry removed, truncated or rewritten)."
    ),
    frequency=Frequency.DAILY,
    test=processing_integrity,
)
