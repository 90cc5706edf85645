"""Quote use cases: create and rate, re-rate while open, expire, and underwriting decisions.

Status machine (every move audited and published to the outbox in the same transaction):

    draft -> quoted | referred | declined        (rated and underwritten)
    quoted -> quoted | referred | declined       (updated and re-rated)
    referred -> approved | declined              (an underwriter with enough authority)
    draft | quoted | referred | approved -> expired  (past the product's validity period)

Other domains use quotes only through this package: the names below.
"""

from pd_prime_demo.quotes.enums import BINDABLE_STATUSES, OPEN_STATUSES, QuoteStatus
from pd_prime_demo.quotes.service.create import create_quote, update_quote
from pd_prime_demo.quotes.service.read import (
    expire_due,
    expire_quotes,
    get_quote,
    list_quotes,
    mark_bound,
    quotes_past_validity,
    worksheet,
)
from pd_prime_demo.quotes.service.underwriting import decide_referral, referral_queue

__all__ = [
    "BINDABLE_STATUSES",
    "OPEN_STATUSES",
    "QuoteStatus",
    "create_quote",
    "decide_referral",
    "expire_due",
    "expire_quotes",
    "get_quote",
    "list_quotes",
    "mark_bound",
    "quotes_past_validity",
    "referral_queue",
    "update_quote",
    "worksheet",
]
