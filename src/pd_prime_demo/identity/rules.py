"""Identity policy: which role holds which permission, and password strength."""

from __future__ import annotations

import hashlib
import uuid

from pd_prime_demo.core.actor import Actor, Permission, Role

# Quoting and buying: a policyholder may buy directly, with no agent (changes to a policy
# then go through an agent or the carrier's staff).
_QUOTING = {
    Permission.PRODUCTS_READ,
    Permission.QUOTES_READ,
    Permission.QUOTES_WRITE,
    Permission.POLICIES_READ,
    Permission.POLICIES_BIND,
    Permission.BILLING_PAY,
    Permission.EVENTS_READ,
}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    # A policyholder reads and corrects their own record and quotes for themselves (scope
    # enforced in the services).
    Role.CUSTOMER: frozenset({Permission.CUSTOMERS_READ, Permission.CUSTOMERS_UPDATE, *_QUOTING}),
    # An agent works their own book of business.
    Role.AGENT: frozenset(
        {
            Permission.CUSTOMERS_READ,
            Permission.CUSTOMERS_CREATE,
            Permission.CUSTOMERS_UPDATE,
            Permission.POLICIES_WRITE,
            Permission.WEBHOOKS_MANAGE,
            *_QUOTING,
        }
    ),
    # Underwriters need date of birth and licence data to assess risk, and decide referrals.
    Role.UNDERWRITER: frozenset(
        {
            Permission.CUSTOMERS_READ,
            Permission.PII_READ,
            Permission.PRODUCTS_READ,
            Permission.QUOTES_READ,
            Permission.UNDERWRITING_DECIDE,
            Permission.POLICIES_READ,
            Permission.POLICIES_BIND,
            Permission.POLICIES_WRITE,
            Permission.REPORTS_READ,
            Permission.EVENTS_READ,
            Permission.WEBHOOKS_MANAGE,
        }
    ),
    # Adjusters check coverage on claims: they read policies as of the loss date.
    Role.ADJUSTER: frozenset(
        {
            Permission.CUSTOMERS_READ,
            Permission.PRODUCTS_READ,
            Permission.POLICIES_READ,
            Permission.EVENTS_READ,
        }
    ),
    # Admins hold every permission, including products:manage (the actuarial function).
    Role.ADMIN: frozenset(Permission),
}

# Default underwriting authority by role; a user's own level overrides it.
DEFAULT_AUTHORITY: dict[Role, int] = {Role.UNDERWRITER: 1, Role.ADMIN: 5}

STAFF_ROLES = frozenset({Role.AGENT, Role.UNDERWRITER, Role.ADJUSTER, Role.ADMIN})

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256


def permissions_for(role: Role) -> frozenset[Permission]:
    return ROLE_PERMISSIONS[role]


def user_actor(user_id: uuid.UUID, role_name: str, underwriting_authority: int | None) -> Actor:
    """A user as an actor: their role's permissions and underwriting authority."""
    role = Role(role_name)
    authority = underwriting_authority or DEFAULT_AUTHORITY.get(role, 0)
    return Actor.user(user_id, role, permissions_for(role), authority=authority)


def token_digest(token: str) -> str:
    """How high-entropy secrets (refresh tokens, client secrets) are stored: SHA-256, hex.
    A slow password hash adds nothing when the secret itself has 256 bits of entropy."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def password_problems(password: str, *, email: str) -> list[str]:
    """NIST SP 800-63B style: length over composition rules; reject the obvious."""
    problems: list[str] = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        problems.append(f"must be at most {MAX_PASSWORD_LENGTH} characters")
    if len(set(password)) < 4:
        problems.append("must not be a repeated character pattern")
    local_part = email.split("@", 1)[0].lower()
    if len(local_part) >= 4 and local_part in password.lower():
        problems.append("must not contain the e-mail address")
    return problems
