"""Passkey routes: registering one (signed in) and the MFA step of a login by one."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from pd_prime_demo.api.dependencies import RuntimeDep, Session
from pd_prime_demo.api.rate_limit import login_type_limit
from pd_prime_demo.api.response_patterns import handle_result, problem_responses
from pd_prime_demo.identity import login, service, webauthn_ceremonies
from pd_prime_demo.identity.account_schemas import (
    MfaTokenOnly,
    PasskeyAssertion,
    PasskeyRegistered,
    PasskeyRegistration,
    SignedIn,
    WebauthnOptions,
)
from pd_prime_demo.identity.caller import caller
from pd_prime_demo.identity.dependencies import FreshPersonSession

router = APIRouter(tags=["account"])  # included by account_router, under its prefix
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_LOGIN_TYPE = [Depends(login_type_limit)]  # a login's second step: guesses, limited as such


@router.post(
    "/account/mfa/webauthn/registration-options",
    response_model=WebauthnOptions,
    responses=problem_responses(401, 403, 422),
    summary="Options to create a passkey (WebAuthn registration, step 1)",
    description="Needs your own login, made under 5 minutes ago (sign in again otherwise).",
)
async def passkey_registration_options(
    session: Session, runtime: RuntimeDep, authenticated: FreshPersonSession, response: Response
) -> WebauthnOptions:
    actor = authenticated.actor
    assert actor.user_id is not None
    user = handle_result(await service.get_user(session, actor.user_id))
    response.headers.update(_NO_STORE)
    options = handle_result(await webauthn_ceremonies.registration_options(session, runtime, user))
    return WebauthnOptions(options=options)


@router.post(
    "/account/mfa/webauthn/credentials",
    response_model=PasskeyRegistered,
    status_code=201,
    responses=problem_responses(401, 403, 409, 422),
    summary="Register the passkey the authenticator created (WebAuthn registration, step 2)",
    description="Needs your own login, made under 5 minutes ago; the account's address is told.",
)
async def register_passkey(
    body: PasskeyRegistration,
    session: Session,
    runtime: RuntimeDep,
    authenticated: FreshPersonSession,
    response: Response,
) -> PasskeyRegistered:
    actor = authenticated.actor
    assert actor.user_id is not None
    user = handle_result(await service.get_user(session, actor.user_id))
    registered = handle_result(
        await webauthn_ceremonies.register(
            session, runtime, user, credential=body.credential, name=body.name, actor=actor
        )
    )
    response.headers.update(_NO_STORE)
    return PasskeyRegistered(
        id=registered.credential.id,
        name=registered.credential.name,
        created_at=registered.credential.created_at,
        recovery_codes=registered.recovery_codes,
    )


@router.post(
    "/auth/mfa/webauthn/options",
    response_model=WebauthnOptions,
    responses=problem_responses(401, 422, 429),
    summary="Options to sign in with a passkey, for a login's mfa_token (step 1)",
    dependencies=_LOGIN_TYPE,
)
async def passkey_login_options(
    body: MfaTokenOnly, session: Session, runtime: RuntimeDep, response: Response
) -> WebauthnOptions:
    response.headers.update(_NO_STORE)
    options = handle_result(
        await webauthn_ceremonies.authentication_options(session, runtime, mfa_token=body.mfa_token)
    )
    return WebauthnOptions(options=options)


@router.post(
    "/auth/mfa/webauthn",
    response_model=SignedIn,
    responses=problem_responses(401, 422, 429),
    summary="Finish a login with the passkey's assertion: the login's tokens (step 2)",
    dependencies=_LOGIN_TYPE,
)
async def passkey_login(
    body: PasskeyAssertion,
    request: Request,
    session: Session,
    runtime: RuntimeDep,
    response: Response,
) -> SignedIn:
    response.headers.update(_NO_STORE)
    tokens = handle_result(
        await login.login_with_passkey(
            session,
            runtime,
            mfa_token=body.mfa_token,
            credential=body.credential,
            client=caller(request),
        )
    )
    return SignedIn(
        access_token=tokens.access_token,
        expires_in=tokens.expires_in,
        refresh_token=tokens.refresh_token,
    )
