"""Policy use cases: bind, endorse, cancel, reinstate, renew, and reading any date's state.

Out-of-sequence changes are refused: an endorsement, cancellation or reinstatement may not be
effective before the policy's latest transaction (``policy.out_of_sequence``). Other domains
use policies only through this package: the names below.
"""

from pd_prime_demo.policies.repository import PolicyFilter
from pd_prime_demo.policies.service import changes
from pd_prime_demo.policies.service.bind import Bound, bind_quote
from pd_prime_demo.policies.service.cancel import cancel, cancel_for_non_payment, reinstate
from pd_prime_demo.policies.service.common import get_policy, writable_policy
from pd_prime_demo.policies.service.endorse import Referred, endorse
from pd_prime_demo.policies.service.import_file import format_of, import_file
from pd_prime_demo.policies.service.import_format import BookPolicy, ImportProblem, ImportResult
from pd_prime_demo.policies.service.import_read import (
    ReadPolicy,
    UnreadableBookError,
    read_csv,
    read_json,
)
from pd_prime_demo.policies.service.imports import BookImport, import_book, start_import
from pd_prime_demo.policies.service.read import (
    AsOf,
    InForce,
    history_for,
    in_force_on,
    known_in_effect,
    list_policies,
    read_as_of,
    read_by_number,
    state_as_of,
    transactions,
)
from pd_prime_demo.policies.service.renew import (
    accept,
    lapse_due,
    lapse_offers,
    non_renew,
    offer,
    offer_due,
    offer_renewals,
    offers_to_lapse,
    renewal_candidates,
)
from pd_prime_demo.policies.service.sequence import Applied
from pd_prime_demo.policies.state import PolicyState

__all__ = [
    "Applied",
    "AsOf",
    "BookImport",
    "BookPolicy",
    "Bound",
    "ImportProblem",
    "ImportResult",
    "InForce",
    "PolicyFilter",
    "PolicyState",
    "ReadPolicy",
    "Referred",
    "UnreadableBookError",
    "accept",
    "bind_quote",
    "cancel",
    "cancel_for_non_payment",
    "changes",
    "endorse",
    "format_of",
    "get_policy",
    "history_for",
    "import_book",
    "import_file",
    "in_force_on",
    "known_in_effect",
    "lapse_due",
    "lapse_offers",
    "list_policies",
    "non_renew",
    "offer",
    "offer_due",
    "offer_renewals",
    "offers_to_lapse",
    "read_as_of",
    "read_by_number",
    "read_csv",
    "read_json",
    "reinstate",
    "renewal_candidates",
    "start_import",
    "state_as_of",
    "transactions",
    "writable_policy",
]
