"""The web UI's wiring: its routes, its static assets and its page-level error handlers,
installed on the app by ``main.create_app`` with :func:`install`."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from pd_prime_demo.web import auth_routes, pages, policy_routes, quote_routes, staff_routes
from pd_prime_demo.web.deps import StaffDep, install_handlers

_fallback = APIRouter(include_in_schema=False)


@_fallback.get("/app/", response_class=HTMLResponse)
async def console_slash() -> Response:
    return RedirectResponse("/app", status_code=308)


@_fallback.get("/app/{rest:path}", response_class=HTMLResponse)
async def console_not_found(request: Request, staff: StaffDep, rest: str) -> Response:
    """An unknown console address: a page saying so (not the API's JSON problem)."""
    message = pages.Message("Not Found", "There is no page at this address.", "page.not_found")
    return pages.render(
        request, "app/problem.html", {"staff": staff, "problem": message}, status=404
    )


def install(app: FastAPI) -> None:
    app.mount(pages.STATIC, pages.static_files(), name="web-static")
    for router in (
        auth_routes.router,
        staff_routes.router,
        quote_routes.router,
        policy_routes.router,
        _fallback,
    ):
        app.include_router(router)
    install_handlers(app)
