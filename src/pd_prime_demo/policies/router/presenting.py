"""How policies and their transactions read in responses."""

from __future__ import annotations

from pd_prime_demo.policies import service
from pd_prime_demo.policies.enums import StatusOn
from pd_prime_demo.policies.models import Policy, PolicyTransaction
from pd_prime_demo.policies.schemas import (
    ChangeRecorded,
    OutOfSequenceRead,
    PolicyRead,
    TransactionRead,
)


def policy_etag(policy: Policy) -> str:
    return f'"{policy.version}"'


def present(policy: Policy, state: service.AsOf) -> PolicyRead:
    return PolicyRead(
        id=policy.id,
        number=policy.number,
        quote_id=policy.quote_id,
        origin=policy.origin,
        customer_id=policy.customer_id,
        product_code=policy.product_code,
        state=policy.state,
        inception_on=policy.inception_on,
        payment_plan=policy.payment_plan,
        version=policy.version,
        as_of=state.on,
        status=state.status,
        in_force=state.snapshot
        if state.status in (StatusOn.IN_FORCE, StatusOn.CANCELLED)
        else None,
        terms=state.snapshot,
        transaction_seq=state.transaction.seq if state.transaction else None,
    )


def transaction(txn: PolicyTransaction) -> TransactionRead:
    return TransactionRead.model_validate(txn)


def recorded(applied: service.Applied) -> ChangeRecorded:
    """A change's response: its own transaction, and what it did to later ones."""
    base = TransactionRead.model_validate(applied.transaction).model_dump()
    moved = applied.reversed or applied.dropped
    return ChangeRecorded(
        **base,
        out_of_sequence=OutOfSequenceRead(
            reversed=list(applied.reversed),
            reapplied=[new for _, new in applied.reapplied],
            dropped=list(applied.dropped),
        )
        if moved
        else None,
    )
