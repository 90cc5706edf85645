"""Customer use cases: create, read, list and search, update, self-registration.

PII (SSN, date of birth, driver's licence number) is encrypted per field before it reaches the
session and decrypted only to present it; an unmasked presentation writes an audit entry.
Other domains use customers only through this package: the names below.
"""

from pd_prime_demo.customers.repository import Visibility, may_see, visible_ids
from pd_prime_demo.customers.schemas import CustomerCreate, OrganisationCreate, PersonCreate
from pd_prime_demo.customers.service.pii import present, present_one
from pd_prime_demo.customers.service.read import (
    NOT_FOUND,
    customer_ids_by_email,
    get_customer,
    list_customers,
    mailing_block,
    mailing_label,
)
from pd_prime_demo.customers.service.registration import confirm_email_change, register
from pd_prime_demo.customers.service.write import create_customer, update_customer

__all__ = [
    "NOT_FOUND",
    "CustomerCreate",
    "OrganisationCreate",
    "PersonCreate",
    "Visibility",
    "confirm_email_change",
    "create_customer",
    "customer_ids_by_email",
    "get_customer",
    "list_customers",
    "mailing_block",
    "mailing_label",
    "may_see",
    "present",
    "present_one",
    "register",
    "update_customer",
    "visible_ids",
]
