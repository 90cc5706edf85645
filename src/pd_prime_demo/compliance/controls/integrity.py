"""Processing integrity (AICPA TSC PI1.4/PI1.5: outputs complete and accurate, stored records
intact): the ledger balances and the audit chain verifies.

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
    chain = await audit.verify_chain(ctx.session)
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
                },
            },
        ),
    )
    figures = {
        "ledger_debits": str(trial.debits),
        "ledger_credits": str(trial.credits),
        "audit_entries_checked": chain.entries_checked,
    }
    problems = []
    if not trial.balanced:
        problems.append(
            f"the ledger does not balance: debits {trial.debits}, credits {trial.credits}, "
            f"unbalanced journal entries {named(sorted(trial.unbalanced_entries)) or 'none'}"
        )
    if not chain.ok:
        problems.append(f"the audit chain is broken at entry {chain.first_bad_id}: {chain.reason}")
    if problems:
        return Outcome(False, "; ".join(problems), ctx.now, ctx.now, evidence, figures)
    reason = (
        f"the ledger balances (debits = credits = {trial.debits}); the audit chain verifies "
        f"({chain.entries_checked} entries)"
    )
    return Outcome(True, reason, ctx.now, ctx.now, evidence, figures)


PROCESSING_INTEGRITY = Control(
    id="PI1-processing-integrity",
    criteria=("PI1.4", "PI1.5"),
    title="The ledger balances and the audit chain verifies",
    description=(
        "Debits equal credits over the whole ledger and within every journal entry; every "
        "audit entry's hash recomputes and links to the one before."
    ),
    frequency=Frequency.DAILY,
    test=processing_integrity,
)
