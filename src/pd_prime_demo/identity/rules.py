"""Identity policy: which role holds which permission, and password strength."""

from __future__ import annotations

import hashlib
import re
import uuid

from zxcvbn import zxcvbn  # type: ignore[import-untyped]  # no stubs published

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
    # A policyholder reports their own losses and follows their claims.
    Permission.CLAIMS_READ,
    Permission.CLAIMS_FILE,
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
            Permission.CLAIMS_READ,  # a risk's loss history
        }
    ),
    # Adjusters handle claims within their authority limits (data per role or user) and
    # check coverage on them: they read policies as of the loss date.
    Role.ADJUSTER: frozenset(
        {
            Permission.CUSTOMERS_READ,
            Permission.PRODUCTS_READ,
            Permission.POLICIES_READ,
            Permission.EVENTS_READ,
            Permission.CLAIMS_READ,
            Permission.CLAIMS_FILE,
            Permission.CLAIMS_ADJUST,
            Permission.CLAIMS_PAY,
            Permission.REPORTS_READ,
        }
    ),
    # Admins hold every permission, including products:manage and reserving:run (the
    # actuarial function).
    Role.ADMIN: frozenset(Permission),
}

# Default underwriting authority by role; a user's own level overrides it.
DEFAULT_AUTHORITY: dict[Role, int] = {Role.UNDERWRITER: 1, Role.ADMIN: 5}

STAFF_ROLES = frozenset({Role.AGENT, Role.UNDERWRITER, Role.ADJUSTER, Role.ADMIN})

# NIST SP 800-63B 5.1.1.2: at least 8 characters (we ask 12), at least 64 allowed (we allow
# 256), no composition rules; a strength estimate against common passwords and context words.
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
# zxcvbn's cost grows fast with length (a 256-character run takes seconds): it judges the first
# 72 characters, its own default, which are enough to tell a guessable password.
_ESTIMATED_PREFIX = 72


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


def _context_words(email: str, names: tuple[str, ...]) -> list[str]:
    local = email.lower().partition("@")[0]
    words = [local, *local.replace("_", ".").replace("-", ".").split(".")]
    for name in names:
        words.extend(name.lower().split())
    words.extend(("pdprime", "pd-prime", "pd prime"))
    return sorted({w for w in words if len(w) >= 4})


def password_problems(
    password: str, *, email: str, names: tuple[str, ...] = (), min_score: int = 3
) -> list[str]:
    """NIST SP 800-63B style: length, no composition rules, and zxcvbn's estimate (its offline
    lists of common passwords, names and words, and the user's own context) reaching
    ``min_score`` of 4. Each problem is said as zxcvbn or the rule says it."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return [f"must be at least {MIN_PASSWORD_LENGTH} characters"]
    if len(password) > MAX_PASSWORD_LENGTH:
        return [f"must be at most {MAX_PASSWORD_LENGTH} characters"]
    context = _context_words(email, names)
    lowered = password.lower()
    # The whole address part is refused anywhere; a name or word only as a word of its own
    # ("ann" in "planning" is fine). zxcvbn also weighs them as guessable, anywhere.
    words = set(re.split(r"[^\w]+", lowered))
    local = email.lower().partition("@")[0]
    found = [w for w in context if w in words or (w == local and w in lowered)]
    if found:
        return [f"must not contain your name, e-mail address or the service's name ({found[0]!r})"]
    estimate = zxcvbn(password[:_ESTIMATED_PREFIX], user_inputs=context)
    if estimate["score"] >= min_score:
        return []
    feedback = estimate["feedback"]
    problems = [f"too easy to guess (strength {estimate['score']} of 4, {min_score} needed)"]
    if feedback.get("warning"):
        problems.append(str(feedback["warning"]))
    problems.extend(str(s) for s in feedback.get("suggestions", []))
    return problems
