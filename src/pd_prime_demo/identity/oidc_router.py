"""OpenID Connect's endpoints: userinfo (Core §5.3) and the discovery documents (RFC 8414,
OpenID Connect Discovery 1.0), served at the root's /.well-known/ as both specify."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from pd_prime_demo.api.dependencies import RuntimeDep, Session
from pd_prime_demo.api.response_patterns import problem_response, problem_responses
from pd_prime_demo.core.result_types import DomainError, Err, ErrorKind, Ok
from pd_prime_demo.identity import oauth_tokens, oidc
from pd_prime_demo.identity.dependencies import record_token_refusal
from pd_prime_demo.identity.oauth import oauth_error
from pd_prime_demo.identity.schemas import ProviderMetadataRead, UserInfoRead

router = APIRouter(tags=["oauth"])
BASE = oidc.OAUTH_PATH
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


async def _userinfo(request: Request, session: Session, runtime: RuntimeDep) -> Response:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    path = f"{BASE}/userinfo"
    if scheme.lower() != "bearer" or not token:
        error = oauth_error(
            "invalid_token", "a bearer access token is required", kind=ErrorKind.UNAUTHENTICATED
        )
        return _userinfo_problem(error, path)
    match await oauth_tokens.userinfo(session, runtime, token.strip()):
        case Err(error):
            if error.kind is ErrorKind.UNAUTHENTICATED:
                record_token_refusal(request, runtime, token.strip())
            return _userinfo_problem(error, path)
        case Ok(info):
            return JSONResponse(
                UserInfoRead.model_validate(info.claims).model_dump(exclude_none=True),
                headers=_NO_STORE,
            )
    raise AssertionError("unreachable")  # pragma: no cover


def _userinfo_problem(error: DomainError, path: str) -> JSONResponse:
    """RFC 6750 §3: the error in WWW-Authenticate; 401 for the token, 403 for its scope."""
    code = "insufficient_scope" if error.kind is ErrorKind.FORBIDDEN else "invalid_token"
    status = 403 if error.kind is ErrorKind.FORBIDDEN else 401
    return problem_response(
        status=status,
        code=error.code,
        detail=error.detail,
        instance=path,
        headers={"WWW-Authenticate": f'Bearer realm="pd-prime", error="{code}"', **_NO_STORE},
        extra={"error": code, "error_description": error.detail},
    )


for _method in ("GET", "POST"):
    router.add_api_route(
        f"{BASE}/userinfo",
        _userinfo,
        methods=[_method],
        response_model=UserInfoRead,
        responses=problem_responses(401, 403),
        summary="The signed-in user's claims, as the token's scopes allow (OIDC userinfo)",
        name=f"userinfo_{_method.lower()}",
    )


@router.get(
    "/.well-known/oauth-authorization-server",
    response_model=ProviderMetadataRead,
    summary="Authorization server metadata (RFC 8414)",
)
async def authorization_server_metadata(runtime: RuntimeDep) -> dict[str, Any]:
    return oidc.provider_metadata(runtime, openid=False)


@router.get(
    "/.well-known/openid-configuration",
    response_model=ProviderMetadataRead,
    summary="OpenID Provider configuration (OpenID Connect Discovery 1.0)",
)
async def openid_configuration(runtime: RuntimeDep) -> dict[str, Any]:
    return oidc.provider_metadata(runtime, openid=True)
