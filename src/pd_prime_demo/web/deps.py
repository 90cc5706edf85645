"""What every console page depends on: the signed-in staff member, and for a POST the
session's CSRF token. A page without a session redirects to the sign-in page; a POST without
the token is refused with a 403 page (and whatever it would have written is never begun)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from pd_prime_demo.api.dependencies import RuntimeDep, Session, authenticating
from pd_prime_demo.identity import service as identity
from pd_prime_demo.web import pages
from pd_prime_demo.web.session import Staff, csrf_ok, current_staff, sent_csrf

LOGIN = "/app/login"
LOGOUT = "/app/logout"
_SAFE = frozenset({"GET", "HEAD"})


class SignInRequiredError(Exception):
    """No live console session: to the sign-in page, then back to ``then``."""

    def __init__(self, then: str) -> None:
        super().__init__("sign-in required")
        self.then = then


class PageRefusedError(Exception):
    """A request refused before any use case ran, shown as a problem page."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(code)
        self.status, self.code, self.detail = status, code, detail


CSRF_REFUSED = PageRefusedError(
    403,
    "csrf.invalid",
    "This form has expired or did not come from the console. Go back, reload the page and "
    "try again.",
)


@authenticating
async def staff_member(request: Request, session: Session, runtime: RuntimeDep) -> Staff:
    staff = await current_staff(session, runtime, request)
    if staff is None:
        then = request.url.path if request.method in _SAFE else "/app"
        raise SignInRequiredError(then)
    if request.method not in _SAFE:
        if not csrf_ok(await sent_csrf(request), staff.csrf):
            raise CSRF_REFUSED
        # The API's read-only demo rule (identity.dependencies), for the console's writes.
        if staff.actor.demo and runtime.settings.demo_read_only and request.url.path != LOGOUT:
            raise PageRefusedError(
                403,
                "demo.read_only",
                "This is a read-only demo: demo accounts may look but not change anything.",
            )
    if staff.actor.role not in identity.STAFF_ROLES:
        raise PageRefusedError(
            403, "console.staff_only", "The console is for staff; customers use the portal."
        )
    return staff


StaffDep = Annotated[Staff, Depends(staff_member)]


def _sign_in_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequiredError)
    if request.headers.get("HX-Request"):
        # htmx follows a redirect inside the page: ask it to load the sign-in page instead.
        return Response(status_code=204, headers={"HX-Redirect": LOGIN})
    return RedirectResponse(f"{LOGIN}?then={exc.then}", status_code=303)


def _page_refused(request: Request, exc: Exception) -> HTMLResponse:
    assert isinstance(exc, PageRefusedError)
    message = pages.Message(
        title="Forbidden" if exc.status == 403 else "Refused", detail=exc.detail, code=exc.code
    )
    return pages.render(
        request, "app/problem.html", {"problem": message, "staff": None}, status=exc.status
    )


def install_handlers(app: FastAPI) -> None:
    app.add_exception_handler(SignInRequiredError, _sign_in_required)
    app.add_exception_handler(PageRefusedError, _page_refused)
