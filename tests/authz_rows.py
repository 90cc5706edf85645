"""The authorization matrix's rows and the caller kinds they name (test_authorization_matrix).

Each area's rows may live in a module of its own (``tests/authz_rows_*.py``), concatenated into
the matrix's ``ROUTES``: adding a route is adding one row to its area's list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pd_prime_demo.core.actor import Permission

P = Permission

PUBLIC = "public"  # no credentials needed: never 401/403
USER = "user"  # any authenticated caller
PERSON = "person"  # a signed-in staff person (not a client, a key or a policyholder)
SELF = "self"  # anyone's own login session (a policyholder too; not a client's, a key's)
CLIENT = "client-auth"  # authenticated by client credentials (OAuth endpoints): no bearer
OIDC = "oidc"  # an OAuth access token with the openid scope (a login's token: 403)
ADMIN = "admin"  # administrators only (a role check in the service, not one permission)


@dataclass(frozen=True)
class Row:
    method: str
    path: str
    need: str | Permission
    # The kind of resource the path names, for the other's-resource pass (404 for a caller
    # who may act on their own but not see this one). None: no owner (or company data).
    owned: str | None = None
    # A valid body, where the body is checked before the permission (422 would hide it).
    body: dict[str, Any] | None = None
    idempotent: bool = False  # the route requires an Idempotency-Key
    # A multipart form instead of a JSON body: {field: (filename, bytes, content type)}.
    files: dict[str, tuple[str, bytes, str]] | None = None
