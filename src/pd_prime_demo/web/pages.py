"""Rendering a page: the templates, the page headers (CSP, no caching of signed-in pages),
and a service's error shown as an accessible message (the RFC 9457 problem's text)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from http import HTTPStatus
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.api.response_patterns import STATUS_BY_KIND as STATUS_BY_KIND
from pd_prime_demo.api.security_headers import page_csp
from pd_prime_demo.core.result_types import DomainError

HERE = Path(__file__).parent
STATIC = "/app/static"
# Pages answer with the platform's page CSP: scripts and styles from its own origin only, no
# inline code, no eval, forms post only to the platform, nothing may frame a page.
PAGE_HEADERS = {
    "Content-Security-Policy": page_csp(),
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}

templates = Jinja2Templates(directory=HERE / "templates")


def money(value: object) -> str:
    """Dollars as a reader expects them: 1,234.50 (the stored Decimal string, never a float)."""
    try:
        amount = Decimal(str(value))
    except ArithmeticError:
        return str(value)
    return f"{amount:,.2f}"


def exact(value: object) -> str:
    """A worksheet's exact intermediate amount without the trailing zeros the engine's
    multiplications leave (229.152000000 -> 229.152), never rounded: the worksheet shows
    every rounding step itself."""
    try:
        amount = Decimal(str(value))
    except ArithmeticError:
        return str(value)
    text = f"{amount:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def label(name: str) -> str:
    """A machine name as words: ``years_licensed`` -> "Years licensed"."""
    words = name.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


templates.env.filters["money"] = money
templates.env.filters["label"] = label
templates.env.filters["exact"] = exact


def static_files() -> StaticFiles:
    return StaticFiles(directory=HERE / "static")


@dataclass(frozen=True, slots=True)
class Message:
    """A problem shown on a page: its text, and each field's own (by the form field's name)."""

    title: str
    detail: str
    code: str
    fields: dict[str, str] = field(default_factory=dict)


def pointer_to_field(pointer: str) -> str:
    """A problem's JSON Pointer (``#/risk/drivers/0/age``) as the form field it names
    (``risk.drivers.0.age``): the generated forms name their fields after the request body."""
    return pointer.removeprefix("#").strip("/").replace("/", ".")


def message_of(error: DomainError) -> Message:
    status = STATUS_BY_KIND[error.kind]
    return Message(
        title=HTTPStatus(status).phrase,
        detail=error.detail,
        code=error.code,
        fields={pointer_to_field(e.pointer): e.detail for e in error.errors},
    )


def render(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    response = templates.TemplateResponse(
        request, name, {"static": STATIC, **context}, status_code=status
    )
    response.headers.update({**PAGE_HEADERS, **(headers or {})})
    return response


async def failed(
    request: Request,
    session: AsyncSession,
    error: DomainError,
    context: dict[str, Any],
    *,
    template: str = "app/problem.html",
) -> HTMLResponse:
    """A service's Err as a page. What the failed use case flushed is rolled back first: the
    request's unit of work commits a page it renders, and an Err must leave nothing behind."""
    await session.rollback()
    message = message_of(error)
    return render(
        request,
        template,
        {**context, "problem": message},
        status=STATUS_BY_KIND[error.kind],
    )
