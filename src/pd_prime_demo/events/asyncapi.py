"""The AsyncAPI 3.0 document of live updates, built from the catalogue (``/asyncapi.json``).

It describes the server's side of the WebSocket: the application *sends* every event type of
the catalogue (and heartbeats and pongs) and *receives* pings. The pull stream
(``GET /api/v1/events``) carries the same envelope and is described by the OpenAPI document.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pd_prime_demo import __version__
from pd_prime_demo.events.catalogue import PUBLISHED, schemas

WS_PATH = "/api/v1/realtime/ws"

DESCRIPTION = """\
Live updates of PD Prime: every event the connected user may see, as it is published, in the
order of the event stream (`id` is the stream position, gap free in commit order).

1. `POST /api/v1/realtime/tickets` with a bearer token returns a ticket: single use, valid for
   30 seconds.
2. Open `ws(s)://HOST/api/v1/realtime/ws?ticket=TICKET&last_event_id=N`. With `last_event_id`
   the server first replays every event after N, then follows new ones; without it, it starts
   at the head of the stream. Reconnect with the last `id` received to resume without a gap.
3. Close codes: 4401 the ticket is missing, unknown, expired or used (or the access token it
   was issued for expired, or its login session ended or its API client was revoked: get a
   new token and ticket and resume), 4403 the login may not read
   events, 4422 a bad query parameter, 4408 the client did not keep up (resume with
   `last_event_id`), 1001 the server is going away.
"""


def _envelope(name: str) -> dict[str, Any]:
    entry = PUBLISHED[name]
    return {
        "type": "object",
        "required": ["id", "type", "occurred_at", "aggregate_type", "aggregate_id", "data"],
        "properties": {
            "id": {"type": "integer", "minimum": 1, "description": "The stream position."},
            "type": {"const": name},
            "occurred_at": {"type": "string", "format": "date-time"},
            "aggregate_type": {"const": entry.aggregate_type},
            "aggregate_id": {"type": "string"},
            "data": {"$ref": f"#/components/schemas/{name}"},
        },
    }


_CONTROL: dict[str, dict[str, Any]] = {
    "heartbeat": {
        "name": "heartbeat",
        "summary": "Sent when the socket has been idle for a while. `id` is the stream position "
        "this connection is caught up to: resume from it (nothing visible came before it).",
        "payload": {
            "type": "object",
            "required": ["type", "id"],
            "properties": {"type": {"const": "heartbeat"}, "id": {"type": "integer"}},
        },
    },
    "pong": {
        "name": "pong",
        "summary": "The answer to a ping.",
        "payload": {
            "type": "object",
            "required": ["type"],
            "properties": {"type": {"const": "pong"}},
        },
    },
    "ping": {
        "name": "ping",
        "summary": "A client's liveness check (browsers cannot send ping frames); "
        "answered with a pong. Other client messages are ignored.",
        "payload": {
            "type": "object",
            "required": ["type"],
            "properties": {"type": {"const": "ping"}},
        },
    },
}

_QUERY = {
    "type": "object",
    "required": ["ticket"],
    "properties": {
        "ticket": {"type": "string", "description": "From POST /api/v1/realtime/tickets."},
        "last_event_id": {
            "type": "integer",
            "minimum": 0,
            "description": "Replay the events after this position first.",
        },
        "type": {
            "type": "string",
            "description": "Only these event types (repeat the parameter; `policy.*` for a "
            "family). Default: every type.",
        },
    },
}


@cache
def _document() -> dict[str, Any]:
    names = sorted(PUBLISHED)
    messages: dict[str, Any] = {
        name: {
            "name": name,
            "title": name,
            "summary": PUBLISHED[name].summary,
            "contentType": "application/json",
            "payload": _envelope(name),
            "x-visibility": PUBLISHED[name].visibility,
        }
        for name in names
    }
    messages.update(_CONTROL)
    sent = [*names, "heartbeat", "pong"]

    def refs(keys: list[str]) -> list[dict[str, str]]:
        return [{"$ref": f"#/channels/liveUpdates/messages/{key}"} for key in keys]

    return {
        "asyncapi": "3.0.0",
        "info": {"title": "PD Prime events", "version": __version__, "description": DESCRIPTION},
        "defaultContentType": "application/json",
        "channels": {
            "liveUpdates": {
                "address": WS_PATH,
                "title": "Live updates",
                "messages": {key: {"$ref": f"#/components/messages/{key}"} for key in messages},
                "bindings": {"ws": {"method": "GET", "query": _QUERY, "bindingVersion": "0.1.0"}},
            }
        },
        "operations": {
            "sendEvents": {
                "action": "send",
                "title": "Events the user may see, and heartbeats",
                "channel": {"$ref": "#/channels/liveUpdates"},
                "messages": refs(sent),
            },
            "receivePings": {
                "action": "receive",
                "channel": {"$ref": "#/channels/liveUpdates"},
                "messages": refs(["ping"]),
            },
        },
        "components": {
            "schemas": {n: schema for n, schema in schemas().items() if n in PUBLISHED},
            "messages": messages,
            "securitySchemes": {
                "ticket": {
                    "type": "httpApiKey",
                    "in": "query",
                    "name": "ticket",
                    "description": "A single-use ticket from POST /api/v1/realtime/tickets "
                    "(bearer-authenticated), valid for 30 seconds.",
                }
            },
        },
    }


def asyncapi_document(*, host: str, secure: bool) -> dict[str, Any]:
    """The document, its server being the host the request reached."""
    document = dict(_document())
    document["servers"] = {
        "api": {
            "host": host,
            "protocol": "wss" if secure else "ws",
            "description": "This PD Prime server.",
            "security": [{"$ref": "#/components/securitySchemes/ticket"}],
        }
    }
    return document
