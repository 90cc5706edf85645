"""Logical access (AICPA TSC CC6.1): every route of the application authenticates its caller,
but for an explicit list of public routes, each with the reason it may be public.

A route is protected when an authenticating dependency (``api.dependencies.AUTHENTICATING``)
is in its dependency tree: identity's ``current_authentication`` for the API, on which every
other one (``CurrentActor``, ``require(permission)``, ``PersonSession``...) depends, and the
console's cookie session (``web.deps.staff_member``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from fastapi.routing import APIWebSocketRoute, iter_route_contexts

from pd_prime_demo.api.dependencies import AUTHENTICATING
from pd_prime_demo.compliance.control import Control, ControlContext, Frequency, Outcome
from pd_prime_demo.compliance.controls.evidence import json_evidence, named
from pd_prime_demo.core.actor import Permission, Role
from pd_prime_demo.identity import service as identity

_OWN_CREDENTIALS = "checks a credential of its own"
# (method, path) -> why it needs no bearer token. A route missing from here and not protected
# fails CC6.1: making a route public is a reviewed change to this list (CC8.1).
PUBLIC_ROUTES: dict[tuple[str, str], str] = {
    ("GET", "/health"): "liveness probe: no data",
    ("GET", "/health/ready"): "readiness probe: no data",
    ("GET", "/metrics"): _OWN_CREDENTIALS + ": the metrics bearer token (404 without one)",
    ("GET", "/openapi.json"): "the API's published description",
    ("GET", "/asyncapi.json"): "the events' published description",
    ("GET", "/docs"): "API documentation page",
    ("GET", "/docs/oauth2-redirect"): "API documentation page",
    ("MOUNT", "/docs/assets"): "static assets of the documentation",
    ("GET", "/redoc"): "API documentation page",
    ("POST", "/api/v1/auth/token"): "sign-in: takes the password",
    ("POST", "/api/v1/auth/revoke"): "RFC 7009: the token revoked is the credential",
    ("GET", "/api/v1/auth/jwks.json"): "public keys that verify our tokens",
    ("POST", "/api/v1/auth/email-verification"): _OWN_CREDENTIALS + ": a mailed single-use link",
    ("POST", "/api/v1/auth/password-reset"): "answers alike for every address",
    ("POST", "/api/v1/auth/password-reset/confirmation"): _OWN_CREDENTIALS + ": a mailed link",
    ("POST", "/api/v1/auth/mfa/totp/enrolment"): _OWN_CREDENTIALS + ": the login's MFA token",
    ("POST", "/api/v1/auth/mfa/totp/enrolment/confirmation"): _OWN_CREDENTIALS + ": MFA token",
    ("POST", "/api/v1/auth/mfa/webauthn/options"): _OWN_CREDENTIALS + ": the MFA token",
    ("POST", "/api/v1/auth/mfa/webauthn"): _OWN_CREDENTIALS + ": the MFA token",
    ("POST", "/api/v1/oauth/token"): _OWN_CREDENTIALS + ": client authentication (RFC 6749)",
    ("POST", "/api/v1/oauth/revoke"): _OWN_CREDENTIALS + ": client authentication (RFC 7009)",
    ("POST", "/api/v1/oauth/introspect"): _OWN_CREDENTIALS + ": client authentication",
    ("GET", "/api/v1/oauth/authorize"): "OAuth authorization page: the user signs in on it",
    ("POST", "/api/v1/oauth/authorize"): "OAuth authorization page: the user signs in on it",
    ("GET", "/api/v1/oauth/userinfo"): _OWN_CREDENTIALS + ": an OpenID Connect access token",
    ("POST", "/api/v1/oauth/userinfo"): _OWN_CREDENTIALS + ": an OpenID Connect access token",
    ("GET", "/.well-known/oauth-authorization-server"): "RFC 8414 metadata",
    ("GET", "/.well-known/openid-configuration"): "OpenID Connect discovery",
    ("GET", "/api/v1/auth/sso/login"): "staff single sign-on: off to the identity provider",
    ("GET", "/api/v1/auth/sso/callback"): _OWN_CREDENTIALS + ": the provider's signed answer",
    ("POST", "/api/v1/registrations"): "self-registration of a policyholder",
    ("POST", "/api/v1/account/email-change/confirmation"): _OWN_CREDENTIALS + ": a mailed link",
    ("GET", "/api/v1/products/schema"): "the product definition's published JSON Schema",
    ("GET", "/api/v1/events/types"): "the published event catalogue",
    ("POST", "/api/v1/privacy/requests/intake"): (
        "the public form for data subject requests (GDPR Art. 12(2)): a request is acted on "
        "only once a code to the address on file verifies it"
    ),
    ("POST", "/api/v1/privacy/requests/verification"): _OWN_CREDENTIALS + ": the mailed code",
    ("WS", "/api/v1/realtime/ws"): _OWN_CREDENTIALS + ": the token in its first message",
    ("GET", "/app/login"): "the console's sign-in page",
    ("POST", "/app/login"): "console sign-in: takes the password (a double-submit CSRF token)",
    ("MOUNT", "/app/static"): "the console's static assets (CSS, vendored htmx)",
    ("GET", "/app/"): "a redirect to /app: no data",
}


def _calls(dependant: Any) -> Iterator[object]:
    yield dependant.call
    for dependency in dependant.dependencies:
        yield from _calls(dependency)


def route_table(routes: Sequence[Any]) -> list[dict[str, object]]:
    """Every (method, path) of ``routes`` and whether it authenticates its caller."""
    table: list[dict[str, object]] = []
    for route in iter_route_contexts(list(routes)):
        original = route.original_route
        dependant = getattr(original, "dependant", None)
        protected = dependant is not None and not AUTHENTICATING.isdisjoint(_calls(dependant))
        if isinstance(original, APIWebSocketRoute):
            methods = ["WS"]
        else:
            methods = sorted(m for m in (route.methods or {"MOUNT"}) if m != "HEAD")
        for method in methods:
            key = (method, str(route.path))
            table.append(
                {
                    "method": method,
                    "path": str(route.path),
                    "authenticated": protected,
                    "public_because": PUBLIC_ROUTES.get(key),
                }
            )
    return sorted(table, key=lambda r: (str(r["path"]), str(r["method"])))


# The role -> permissions matrix as last reviewed (CC6.1: access is granted as authorized). A
# change to identity.rules.ROLE_PERMISSIONS fails this control until the change is reviewed
# and this file updated with it (CC8.1: the review is the commit that changes both).
REVIEWED_MATRIX = Path(__file__).with_name("role_matrix.json")


def role_matrix(
    permissions: Mapping[Role, frozenset[Permission]] | None = None,
) -> dict[str, list[str]]:
    """Role -> its permissions, as identity grants them (``identity.ROLE_PERMISSIONS``)."""
    granted = identity.ROLE_PERMISSIONS if permissions is None else permissions
    return {role.value: sorted(p.value for p in granted.get(role, frozenset())) for role in Role}


def reviewed_matrix() -> dict[str, list[str]]:
    document: dict[str, list[str]] = json.loads(REVIEWED_MATRIX.read_text("utf-8"))
    return document


def matrix_differences(granted: dict[str, list[str]], reviewed: dict[str, list[str]]) -> list[str]:
    """Each role's permissions granted but not reviewed (+) and reviewed but not granted (-)."""
    differences = []
    for role in sorted(set(granted) | set(reviewed)):
        now, then = set(granted.get(role, [])), set(reviewed.get(role, []))
        differences += [f"{role} +{p}" for p in sorted(now - then)]
        differences += [f"{role} -{p}" for p in sorted(then - now)]
    return differences


async def logical_access(ctx: ControlContext) -> Outcome:
    table = route_table(ctx.routes)
    unprotected = [
        f"{r['method']} {r['path']}"
        for r in table
        if not r["authenticated"] and r["public_because"] is None
    ]
    public = [r for r in table if not r["authenticated"] and r["public_because"] is not None]
    granted = role_matrix()
    changed = matrix_differences(granted, reviewed_matrix())
    evidence = (
        json_evidence("routes.json", table),
        json_evidence("role_permissions.json", granted),
        json_evidence("role_permissions_unreviewed.json", changed),
    )
    figures = {
        "routes": len(table),
        "public": len(public),
        "unprotected": len(unprotected),
        "unreviewed_permission_changes": len(changed),
    }
    if not table:
        return Outcome(
            False, "no routes were given to examine", ctx.now, ctx.now, evidence, figures
        )
    problems = []
    if unprotected:
        problems.append(
            f"{len(unprotected)} route(s) need no authentication and are not on the documented "
            f"public list: {named(unprotected)}"
        )
    if changed:
        problems.append(
            f"the role-permission matrix differs from the reviewed one "
            f"(compliance/controls/role_matrix.json): {named(changed)}"
        )
    if problems:
        return Outcome(False, "; ".join(problems), ctx.now, ctx.now, evidence, figures)
    reason = (
        f"all {len(table) - len(public)} non-public routes authenticate their caller; "
        f"{len(public)} public routes, each on the documented list with its reason; the "
        "role-permission matrix is the reviewed one"
    )
    return Outcome(True, reason, ctx.now, ctx.now, evidence, figures)


LOGICAL_ACCESS = Control(
    id="CC6.1-logical-access",
    criteria=("CC6.1",),
    title="Every route authenticates its caller",
    description=(
        "Every route of the application has the authentication dependency, except the "
        "documented public routes (each with its reason); the role-to-permission matrix is the "
        "reviewed one (role_matrix.json), any difference named."
    ),
    frequency=Frequency.DAILY,
    test=logical_access,
)
