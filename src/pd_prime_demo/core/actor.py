"""Who is acting: the vocabulary of authorization shared by every domain.

The mapping of roles to permissions is identity policy and lives in ``identity.rules``; this
module only names the roles and permissions so that any service can check them.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass


class Role(enum.StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"
    UNDERWRITER = "underwriter"
    ADJUSTER = "adjuster"
    ADMIN = "admin"


# Roles whose visibility is the whole company rather than a book of business or one record.
COMPANY_WIDE_ROLES = frozenset({Role.UNDERWRITER, Role.ADJUSTER, Role.ADMIN})


class Permission(enum.StrEnum):
    CUSTOMERS_READ = "customers:read"
    CUSTOMERS_CREATE = "customers:create"
    CUSTOMERS_UPDATE = "customers:update"
    PII_READ = "pii:read"
    USERS_READ = "users:read"
    USERS_MANAGE = "users:manage"
    AUDIT_READ = "audit:read"
    PRODUCTS_READ = "products:read"
    PRODUCTS_MANAGE = "products:manage"
    QUOTES_READ = "quotes:read"
    QUOTES_WRITE = "quotes:write"
    UNDERWRITING_DECIDE = "underwriting:decide"
    POLICIES_READ = "policies:read"
    POLICIES_BIND = "policies:bind"  # buy: bind a quote the actor may see into a policy
    POLICIES_WRITE = "policies:write"  # change policies: endorse, cancel, reinstate, renew
    BILLING_PAY = "billing:pay"
    BILLING_MANAGE = "billing:manage"
    REPORTS_READ = "reports:read"
    EVENTS_READ = "events:read"  # the event stream and live updates, filtered by visibility
    WEBHOOKS_MANAGE = "webhooks:manage"  # an API client's webhook subscriptions
    JOBS_MANAGE = "jobs:manage"  # the job queue's failed jobs: list, retry, cancel
    CLAIMS_READ = "claims:read"  # the claims the actor may see (their own, their book, all)
    CLAIMS_FILE = "claims:file"  # give first notice of loss on a policy the actor may see
    CLAIMS_ADJUST = "claims:adjust"  # handle claims: status, assignment, exposures, notes, diary
    CLAIMS_PAY = "claims:pay"  # reserves, payments, recoveries and approvals, within authority
    CLAIMS_CONFIGURE = "claims:configure"  # the authority limits by role and user
    RESERVING_RUN = "reserving:run"  # build or import loss triangles and run reserve methods
    # SOC 2 controls: read their runs and evidence, export for an auditor (compliance:read);
    # run a control now, record a security-event review (compliance:manage).
    COMPLIANCE_READ = "compliance:read"
    COMPLIANCE_MANAGE = "compliance:manage"
    # Privacy (GDPR/CCPA): handle data subject requests, consent records, legal holds and
    # retention on behalf of people (a person's own requests and consents need none of these).
    PRIVACY_MANAGE = "privacy:manage"


class ActorKind(enum.StrEnum):
    USER = "user"
    SYSTEM = "system"
    CLIENT = "client"  # a machine client acting within its owner's reach
    API_KEY = "api_key"  # a user's API key: the owner's reach, narrowed to the key's scopes


@dataclass(frozen=True, slots=True)
class Actor:
    kind: ActorKind
    id: str
    role: Role | None
    permissions: frozenset[Permission]
    user_id: uuid.UUID | None = None
    # Underwriting authority level (1-5): referrals above it need someone more senior.
    authority: int = 0
    # A demo account (or a client or key of one): signs in only in demo mode, and may not
    # write when the demo is read-only (a public showcase).
    demo: bool = False
    # The OAuth client a user delegated to (an authorization's token): the user's reach
    # narrowed to the consented scopes, held by a third-party app, never the person at the
    # keyboard. Account security (factors, sessions, API keys) refuses it.
    delegated_to: uuid.UUID | None = None

    def has(self, permission: Permission) -> bool:
        return permission in self.permissions

    @classmethod
    def system(cls, name: str) -> Actor:
        """A process acting on its own authority (seeding, jobs, the CLI)."""
        return cls(ActorKind.SYSTEM, f"system:{name}", None, frozenset(Permission), authority=5)

    @classmethod
    def user(
        cls,
        user_id: uuid.UUID,
        role: Role,
        permissions: frozenset[Permission],
        *,
        authority: int = 0,
    ) -> Actor:
        return cls(ActorKind.USER, str(user_id), role, permissions, user_id, authority)

    @classmethod
    def client(
        cls,
        client_id: uuid.UUID,
        owner: Actor,
        scopes: frozenset[Permission],
    ) -> Actor:
        """An API client: its owner's role and reach (``user_id``), its own name, and only the
        permissions both the owner and the client's scopes hold."""
        return cls(
            ActorKind.CLIENT,
            f"client:{client_id}",
            owner.role,
            owner.permissions & scopes,
            owner.user_id,
            owner.authority,
            owner.demo,
        )

    @classmethod
    def api_key(cls, key_id: uuid.UUID, owner: Actor, scopes: frozenset[Permission]) -> Actor:
        """A user's API key: like an API client, its owner's reach with only the permissions
        both the owner and the key's scopes hold, named for audit as the key."""
        return cls(
            ActorKind.API_KEY,
            f"api_key:{key_id}",
            owner.role,
            owner.permissions & scopes,
            owner.user_id,
            owner.authority,
            owner.demo,
        )
