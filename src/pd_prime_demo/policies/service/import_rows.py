"""The rows a converted policy is written as, and how a loaded one compares with its file
(``service.imports``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pd_prime_demo.billing import service as billing
from pd_prime_demo.policies import repository
from pd_prime_demo.policies.enums import TransactionKind
from pd_prime_demo.policies.models import Policy, PolicyTransaction
from pd_prime_demo.policies.service.common import cover_ends_on
from pd_prime_demo.policies.service.import_build import Built, Step
from pd_prime_demo.policies.service.import_format import LoadedPolicy
from pd_prime_demo.policies.service.import_read import Path, ReadPolicy
from pd_prime_demo.premium.earning import earnings_json


@dataclass(slots=True)
class Planned:
    """A policy about to be written: its ids and serial, and billing's rows for it."""

    read: ReadPolicy
    built: Built
    policy_id: uuid.UUID
    serial: int
    txn_ids: list[uuid.UUID]
    rows: billing.AccountRows | None = None

    def account(self) -> billing.ConvertedAccount:
        built, policy = self.built, self.built.policy
        defn = built.steps[0].version.definition
        changes = []
        for step, txn_id in zip(built.steps, self.txn_ids, strict=True):
            t, state = step.transition, step.transition.state
            kind = t.kind
            changes.append(
                billing.BookedChange(
                    billing.PremiumChange(
                        policy_id=self.policy_id,
                        source_id=txn_id,
                        source=f"policy.{kind}",
                        memo=f"{policy.number} {kind} effective {t.effective_on.isoformat()}",
                        effective_on=t.effective_on,
                        accounting_on=step.accounting_on,
                        term_start=state.term_start,
                        term_end=state.term_end,
                        term_months=step.version.definition.term_months,
                        premium=t.premium_change,
                        fees=t.fees_change,
                        taxes=t.taxes_change,
                        earnings=t.earnings,
                        opens_term=kind in (TransactionKind.NEW_BUSINESS, TransactionKind.RENEWAL),
                        cover_ends_on=cover_ends_on(state),
                    ),
                    step.booked_on,
                )
            )
        return billing.ConvertedAccount(
            billing.AccountOpening(
                policy_id=self.policy_id,
                policy_number=policy.number,
                policy_serial=self.serial,
                customer_id=built.customer_id,
                product_code=policy.product_code,
                state=policy.state,
                payment_plan=policy.payment_plan,
                rules=defn.billing,
            ),
            tuple(changes),
            tuple((term_start, amount) for term_start, amount, _ in built.paid),
        )

    def received(self) -> Decimal:
        """What the legacy system received for the policy's terms."""
        return sum((amount for _, amount, _ in self.built.paid), Decimal(0))

    def written(self) -> Decimal:
        """What its transactions bill in all (premium, fees and taxes)."""
        return sum(
            (
                s.transition.premium_change + s.transition.fees_change + s.transition.taxes_change
                for s in self.built.steps
            ),
            Decimal(0),
        )

    def policy_row(self, actor_id: str, now: datetime) -> dict[str, Any]:
        policy = self.built.policy
        return {
            "id": self.policy_id,
            "serial": self.serial,
            "number": policy.number,
            "quote_id": None,
            "origin": repository.conversion.IMPORTED,
            "customer_id": self.built.customer_id,
            "product_code": policy.product_code,
            "state": policy.state,
            "inception_on": self.built.inception_on,
            "payment_plan": policy.payment_plan,
            # Bound, then changed once per later transaction: the ETag live business would show.
            "version": len(self.built.steps),
            "created_at": now,
            "created_by": actor_id,
        }

    def transaction_rows(self, actor_id: str, now: datetime) -> list[dict[str, Any]]:
        return [
            {
                "id": txn_id,
                "policy_id": self.policy_id,
                "seq": seq,
                "created_at": now,
                "created_by": actor_id,
                "reverses_seq": None,
                "reapplies_seq": None,
                **expected_row(step),
            }
            for seq, (step, txn_id) in enumerate(
                zip(self.built.steps, self.txn_ids, strict=True), 1
            )
        ]

    def outcome(self, policy_id: uuid.UUID | None) -> LoadedPolicy:
        built = self.built
        engine = built.engine_premium
        return LoadedPolicy(
            number=built.policy.number,
            policy_id=policy_id,
            transactions=len(built.steps),
            term_premium=built.term_premium,
            engine_term_premium=engine,
            difference=built.term_premium - engine if engine is not None else None,
        )


def expected_row(step: Step) -> dict[str, Any]:
    """The columns of a transaction row that follow from the file (what a re-run compares)."""
    t = step.transition
    state = t.state
    return {
        "kind": t.kind.value,
        "effective_on": t.effective_on,
        "accounting_on": step.accounting_on,
        "term_start": state.term_start,
        "term_end": state.term_end,
        "product_version_id": step.version.id,
        "premium_change": t.premium_change,
        "fees_change": t.fees_change,
        "taxes_change": t.taxes_change,
        "snapshot": state.to_json(),
        "earnings": earnings_json(t.earnings),
        "reason_code": t.reason_code,
        "note": t.note,
        "change": step.change,
    }


def compare_loaded(
    policy: Policy,
    history: list[PolicyTransaction],
    paid: dict[date, Any],
    built: Built,
) -> tuple[Path, str] | None:
    """Where the loaded policy differs from the file's (None: it is the same policy)."""
    file = built.policy
    if policy.origin != repository.conversion.IMPORTED:
        return ("number",), "the number is a policy of this system's own"
    for name, value in (
        ("customer_id", built.customer_id),
        ("product_code", file.product_code),
        ("state", file.state),
        ("payment_plan", file.payment_plan),
    ):
        if getattr(policy, name) != value:
            return (name if name != "customer_id" else "customer_ref",), f"its {name}"
    converted = [t for t in history if t.created_at <= policy.created_at]
    if len(converted) != len(built.steps):
        return ("transactions",), f"it was loaded with {len(converted)} transactions"
    for j, (txn, step) in enumerate(zip(converted, built.steps, strict=True)):
        for name, value in expected_row(step).items():
            if getattr(txn, name) != value:
                return ("transactions", j), f"transaction {j}: its {name}"
    if paid != {term_start: amount for term_start, amount, _ in built.paid if amount > 0}:
        return ("transactions", 0, "paid_to_date"), "what the legacy system received"
    return None
