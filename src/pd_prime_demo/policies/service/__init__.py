"""Policy use cases: bind, endorse, cancel, reinstate, renew, and reading any date's state.

Out-of-sequence changes are refused: an endorsement, cancellation or reinstatement may not be
effective before the policy's latest transaction (``policy.out_of_sequence``). Other domains
use policies only through this package: the names below.
"""

from pd_prime_demo.policies.service.bind import Bound, bind_quote
from pd_prime_demo.policies.service.cancel import cancel, cancel_for_non_payment, reinstate
from pd_prime_demo.policies.service.common import get_policy, writable_policy
from pd_prime_demo.policies.service.declarations import render_pending
from pd_prime_demo.policies.service.endorse import endorse
from pd_prime_demo.policies.service.read import (
    AsOf,
    InForce,
    history_for,
    in_force_on,
    list_policies,
    read_as_of,
    state_as_of,
    states_today,
    transactions,
)
from pd_prime_demo.policies.service.renew import accept, lapse_due, non_renew, offer, offer_due
from pd_prime_demo.policies.state import PolicyState

__all__ = [
    "AsOf",
    "Bound",
    "InForce",
    "PolicyState",
    "accept",
    "bind_quote",
    "cancel",
    "cancel_for_non_payment",
    "endorse",
    "get_policy",
    "history_for",
    "in_force_on",
    "lapse_due",
    "list_policies",
    "non_renew",
    "offer",
    "offer_due",
    "read_as_of",
    "reinstate",
    "render_pending",
    "state_as_of",
    "states_today",
    "transactions",
    "writable_policy",
]
