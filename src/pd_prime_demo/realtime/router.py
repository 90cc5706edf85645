"""Live updates: buy a ticket with a bearer token, then open the WebSocket with it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, WebSocket

from pd_prime_demo.api import API_V1
from pd_prime_demo.api.dependencies import RuntimeDep
from pd_prime_demo.api.response_patterns import problem_responses
from pd_prime_demo.core.actor import Actor, Permission
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.identity import service as identity
from pd_prime_demo.identity.dependencies import current_authentication, oauth2_scheme, require
from pd_prime_demo.realtime import service
from pd_prime_demo.realtime.connection import Connection
from pd_prime_demo.realtime.hub import Hub
from pd_prime_demo.realtime.schemas import TicketRead

router = APIRouter(tags=["realtime"])

WS_PATH = f"{API_V1}/realtime/ws"
Reader = Annotated[Actor, Depends(require(Permission.EVENTS_READ))]


@router.post(
    f"{API_V1}/realtime/tickets",
    response_model=TicketRead,
    status_code=201,
    responses=problem_responses(401, 403),
    summary="A single-use ticket for the live updates WebSocket (valid 30 seconds)",
    description="Open `ws(s)://HOST/api/v1/realtime/ws?ticket=...` with it, adding "
    "`last_event_id=N` to replay the events after N first. The socket lives until the access "
    "token used here expires, or its login session ends (logout, the user deactivated) or its "
    "API client is revoked; then get a new ticket and resume. The protocol is described by "
    "the AsyncAPI document at /asyncapi.json.",
)
async def issue_realtime_ticket(
    runtime: RuntimeDep,
    actor: Reader,
    authenticated: Annotated[identity.Authenticated, Depends(current_authentication)],
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> TicketRead:
    valid_until = service.token_valid_until(runtime.signer, token or "")
    issued = await service.issue_ticket(
        runtime.cache, actor, valid_until=valid_until, session_id=authenticated.session_id
    )
    return TicketRead(ticket=issued.ticket, expires_at=issued.expires_at, url=WS_PATH)


def hub_of(websocket: WebSocket) -> Hub:
    """The process's hub (made by create_app; an app built without one gets one here)."""
    state = websocket.app.state
    if getattr(state, "realtime_hub", None) is None:
        state.realtime_hub = Hub()
    hub: Hub = state.realtime_hub
    return hub


@router.websocket(WS_PATH)
async def follow_events(websocket: WebSocket) -> None:
    runtime: Runtime = websocket.app.state.runtime
    await Connection(websocket, runtime, hub_of(websocket)).serve()
