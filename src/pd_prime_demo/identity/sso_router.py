"""Staff single sign-on routes: off to the identity provider, and back (identity.sso)."""

from __future__ import annotations

from typing import Annotated

import httpx
from fastapi import APIRouter, Cookie, Depends, Request, Response
from fastapi.responses import RedirectResponse

from pd_prime_demo.api.dependencies import RuntimeDep, Session
from pd_prime_demo.api.rate_limit import login_type_limit
from pd_prime_demo.api.response_patterns import handle_result, problem_responses
from pd_prime_demo.identity import sso
from pd_prime_demo.identity.schemas import TokenResponse

router = APIRouter(tags=["identity"])
STATE_COOKIE = "__Host-pdp-sso-state"
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _transport(request: Request) -> httpx.AsyncBaseTransport | None:
    # The HTTP transport to the provider: the network's by default; main or a test may hand
    # one in (app.state.sso_transport), e.g. to reach a provider served in the same process.
    transport: httpx.AsyncBaseTransport | None = getattr(request.app.state, "sso_transport", None)
    return transport


@router.get(
    "/api/v1/auth/sso/login",
    status_code=303,
    response_class=RedirectResponse,
    responses={
        303: {"description": "To the identity provider's sign-in"},
        **problem_responses(404, 503),
    },
    summary="Staff single sign-on: go to the identity provider",
    dependencies=[Depends(login_type_limit)],  # sign-ins: limited as logins
)
async def start_sso(request: Request, runtime: RuntimeDep) -> RedirectResponse:
    started = handle_result(await sso.start(runtime, transport=_transport(request)))
    response = RedirectResponse(started.authorization_url, status_code=303, headers=_NO_STORE)
    response.set_cookie(
        STATE_COOKIE,
        started.state_cookie,
        max_age=600,
        path="/",
        secure=True,
        httponly=True,
        samesite="lax",  # it must come back with the provider's top-level redirect
    )
    return response


@router.get(
    sso.CALLBACK_PATH,
    response_model=TokenResponse,
    response_model_exclude_none=True,
    responses=problem_responses(401, 403, 404, 503),
    summary="Staff single sign-on: back from the identity provider, signed in",
    dependencies=[Depends(login_type_limit)],  # sign-ins: limited as logins
)
async def finish_sso(
    request: Request,
    session: Session,
    runtime: RuntimeDep,
    response: Response,
    state_cookie: Annotated[str | None, Cookie(alias=STATE_COOKIE)] = None,
) -> TokenResponse:
    tokens = handle_result(
        await sso.complete(
            session,
            runtime,
            state_cookie=state_cookie,
            callback_url=str(request.url),
            transport=_transport(request),
        )
    )
    response.headers.update(_NO_STORE)
    response.delete_cookie(STATE_COOKIE, path="/", secure=True, httponly=True, samesite="lax")
    return TokenResponse(
        access_token=tokens.access_token,
        expires_in=tokens.expires_in,
        refresh_token=tokens.refresh_token,
    )
