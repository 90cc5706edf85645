"""A user's own account (password, e-mail, second factors, sessions), the links sent by
e-mail, the enrolment a staff login needs, and an administrator's MFA reset."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from pd_prime_demo.api import API_V1
from pd_prime_demo.api.dependencies import RuntimeDep, Session
from pd_prime_demo.api.rate_limit import login_type_limit
from pd_prime_demo.api.response_patterns import handle_result, problem_responses
from pd_prime_demo.core.actor import Actor, Permission
from pd_prime_demo.identity import login, mfa, passwords, service, sessions, webauthn_router
from pd_prime_demo.identity.account_schemas import (
    Accepted,
    EmailChange,
    EnrolledAndSignedIn,
    LinkToken,
    MfaEnrolmentConfirmation,
    MfaReset,
    MfaStatus,
    MfaTokenBody,
    PasswordChange,
    PasswordChanged,
    PasswordReset,
    PasswordResetRequest,
    RecoveryCodes,
    SessionList,
    SessionRead,
    TotpCode,
    TotpEnrolmentRead,
)
from pd_prime_demo.identity.caller import caller
from pd_prime_demo.identity.dependencies import FreshPersonSession, PersonSession, require
from pd_prime_demo.identity.factor_notice import notify_factor_added

router = APIRouter(prefix=API_V1, tags=["account"])

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_LIMITED = [Depends(login_type_limit)]

# Every /account route needs the user's own login session (PersonSession): an app the user
# authorized, an API key or a client's token may not touch the account's security.
Authentication = PersonSession


def _user_session(authenticated: service.Authenticated) -> tuple[Actor, uuid.UUID]:
    assert authenticated.session_id is not None  # PersonSession
    return authenticated.actor, authenticated.session_id


# --- links sent by e-mail, and password reset (no login) ---


@router.post(
    "/auth/email-verification",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(422, 429),
    dependencies=_LIMITED,
    summary="Confirm an e-mail address with the link sent to it (opens a new login)",
)
async def verify_email(body: LinkToken, session: Session, runtime: RuntimeDep) -> None:
    handle_result(await passwords.verify_email(session, runtime, body.token))


@router.post(
    "/auth/password-reset",
    response_model=Accepted,
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(422, 429),
    dependencies=_LIMITED,
    summary="Ask for a password reset link (answered alike for any address)",
)
async def request_password_reset(
    body: PasswordResetRequest, session: Session, runtime: RuntimeDep
) -> Accepted:
    handle_result(await passwords.request_password_reset(session, runtime, email=str(body.email)))
    return Accepted(detail="if the address has an account, a reset link is on its way")


@router.post(
    "/auth/password-reset/confirmation",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(422, 429),
    dependencies=_LIMITED,
    summary="Choose a new password with a reset link; every session of the account ends",
)
async def reset_password(body: PasswordReset, session: Session, runtime: RuntimeDep) -> None:
    handle_result(
        await passwords.reset_password(
            session, runtime, token=body.token, new_password=body.new_password
        )
    )


# --- the enrolment a login needs (with the mfa_token of auth.mfa_enrolment_required) ---


@router.post(
    "/auth/mfa/totp/enrolment",
    response_model=TotpEnrolmentRead,
    responses=problem_responses(401, 409, 422, 429),
    dependencies=_LIMITED,
    summary="Start setting up an authenticator app with a login's mfa_token",
)
async def begin_required_enrolment(
    body: MfaTokenBody, session: Session, runtime: RuntimeDep, response: Response
) -> TotpEnrolmentRead:
    response.headers.update(_NO_STORE)
    enrolment = handle_result(
        await login.begin_enrolment_with_ticket(session, runtime, mfa_token=body.mfa_token)
    )
    return TotpEnrolmentRead.model_validate(enrolment)


@router.post(
    "/auth/mfa/totp/enrolment/confirmation",
    response_model=EnrolledAndSignedIn,
    responses=problem_responses(401, 404, 409, 422, 429),
    dependencies=_LIMITED,
    summary="Confirm the authenticator app with its first code: recovery codes and tokens",
)
async def confirm_required_enrolment(
    body: MfaEnrolmentConfirmation,
    request: Request,
    session: Session,
    runtime: RuntimeDep,
    response: Response,
) -> EnrolledAndSignedIn:
    response.headers.update(_NO_STORE)
    codes, tokens = handle_result(
        await login.confirm_enrolment_with_ticket(
            session, runtime, mfa_token=body.mfa_token, otp=body.otp, client=caller(request)
        )
    )
    return EnrolledAndSignedIn(
        recovery_codes=codes,
        access_token=tokens.access_token,
        expires_in=tokens.expires_in,
        refresh_token=tokens.refresh_token,
    )


# --- signed in: password, e-mail, second factors, sessions ---


@router.post(
    "/account/password",
    response_model=PasswordChanged,
    responses=problem_responses(401, 403, 409, 422, 429),
    dependencies=_LIMITED,
    summary="Change your password (the current one is needed); your other sessions end",
)
async def change_password(
    body: PasswordChange,
    request: Request,
    session: Session,
    runtime: RuntimeDep,
    authenticated: Authentication,
) -> PasswordChanged:
    actor, session_id = _user_session(authenticated)
    ended = handle_result(
        await passwords.change_password(
            session,
            runtime,
            current_password=body.current_password,
            new_password=body.new_password,
            session_id=session_id,
            actor=actor,
            client=caller(request),
        )
    )
    return PasswordChanged(other_sessions_ended=ended)


@router.post(
    "/account/email",
    response_model=Accepted,
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(401, 403, 409, 422, 429),
    dependencies=_LIMITED,
    summary="Move your login to another e-mail address: a link to confirm is sent to it",
    description=(
        "Nothing changes until the link sent to the new address is followed "
        "(`POST /api/v1/account/email-change/confirmation`); whether the address is free is "
        "decided then."
    ),
)
async def request_email_change(
    body: EmailChange,
    request: Request,
    session: Session,
    runtime: RuntimeDep,
    authenticated: Authentication,
) -> Accepted:
    actor, _ = _user_session(authenticated)
    handle_result(
        await passwords.request_email_change(
            session,
            runtime,
            current_password=body.current_password,
            new_email=str(body.new_email),
            actor=actor,
            client=caller(request),
        )
    )
    return Accepted(detail="a confirmation link was sent to the new address")


@router.get(
    "/account/sessions",
    response_model=SessionList,
    responses=problem_responses(401, 403, 422),
    summary="Your live login sessions, newest first, a page at a time",
)
async def list_sessions(
    session: Session,
    authenticated: Authentication,
    cursor: Annotated[str | None, Query(max_length=200, description="From `next_cursor`.")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> SessionList:
    actor, current = _user_session(authenticated)
    live, next_cursor = handle_result(
        await sessions.list_live(session, actor=actor, cursor=cursor, limit=limit)
    )
    return SessionList(
        items=[
            SessionRead.model_validate(s).model_copy(update={"current": s.id == current})
            for s in live
        ],
        next_cursor=next_cursor,
    )


@router.delete(
    "/account/sessions/{session_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403, 404),
    summary="End one of your login sessions (its tokens stop working at once)",
)
async def revoke_session(
    session_id: uuid.UUID, session: Session, authenticated: Authentication
) -> None:
    actor, _ = _user_session(authenticated)
    handle_result(await sessions.revoke_own(session, session_id, actor=actor))


@router.get(
    "/account/mfa",
    response_model=MfaStatus,
    responses=problem_responses(401, 403),
    summary="Your second factors, and whether your role needs one",
)
async def read_mfa(
    session: Session, runtime: RuntimeDep, authenticated: Authentication
) -> MfaStatus:
    actor, _ = _user_session(authenticated)
    assert actor.user_id is not None
    user = handle_result(await service.get_user(session, actor.user_id))
    methods, required = await mfa.status_of(session, runtime, user)
    return MfaStatus(methods=methods, required=required)


@router.post(
    "/account/mfa/totp",
    response_model=TotpEnrolmentRead,
    responses=problem_responses(401, 403, 409),
    summary="Start setting up an authenticator app (TOTP): its secret and QR code",
    description="Needs a login under 5 minutes old (sign in again otherwise).",
)
async def begin_totp(
    session: Session, runtime: RuntimeDep, authenticated: FreshPersonSession, response: Response
) -> TotpEnrolmentRead:
    actor, _ = _user_session(authenticated)
    assert actor.user_id is not None
    user = handle_result(await service.get_user(session, actor.user_id))
    response.headers.update(_NO_STORE)
    return TotpEnrolmentRead.model_validate(
        handle_result(await mfa.begin_totp(session, runtime, user))
    )


@router.post(
    "/account/mfa/totp/confirmation",
    response_model=RecoveryCodes,
    responses=problem_responses(401, 403, 404, 409, 422, 429),
    dependencies=_LIMITED,
    summary="Confirm the authenticator app with its first code; returns recovery codes",
    description="Needs a login under 5 minutes old; the account's address is told by mail.",
)
async def confirm_totp(
    body: TotpCode,
    session: Session,
    runtime: RuntimeDep,
    authenticated: FreshPersonSession,
    response: Response,
) -> RecoveryCodes:
    actor, _ = _user_session(authenticated)
    assert actor.user_id is not None
    user = handle_result(await service.get_user(session, actor.user_id))
    response.headers.update(_NO_STORE)
    codes = handle_result(await mfa.confirm_totp(session, runtime, user, body.otp, actor=actor))
    await notify_factor_added(session, runtime, user, "totp")
    return RecoveryCodes(recovery_codes=codes)


# --- administrators ---


@router.post(
    "/users/{user_id}/mfa-reset",
    response_model=MfaReset,
    responses=problem_responses(401, 403, 404),
    summary="Remove a user's second factors and end their sessions (admins only; audited)",
)
async def reset_user_mfa(
    user_id: uuid.UUID,
    session: Session,
    actor: Annotated[Actor, Depends(require(Permission.USERS_MANAGE))],
) -> MfaReset:
    outcome = handle_result(await mfa.reset_mfa(session, user_id, actor=actor))
    return MfaReset(
        user_id=user_id,
        credentials_removed=outcome.credentials_removed,
        sessions_ended=outcome.sessions_ended,
    )


router.include_router(webauthn_router.router)
