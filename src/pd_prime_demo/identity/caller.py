"""The client address a request comes from, as the throttles count it."""

from __future__ import annotations

from fastapi import Request

from pd_prime_demo.api.rate_limit import client_address


def caller(request: Request) -> str:
    """The peer, or whom a trusted proxy forwards for (``api.rate_limit``'s resolution, with
    the ``trusted_proxies`` setting): never an X-Forwarded-For the client wrote itself."""
    settings = request.app.state.runtime.settings
    peer = request.client.host if request.client else None
    return client_address(
        peer, request.headers.getlist("x-forwarded-for"), settings.trusted_proxies
    )
