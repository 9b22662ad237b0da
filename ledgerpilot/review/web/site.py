"""What every handler shares: the app's parts, the templates and their filters, rendering."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates

from ..roles import can
from .auth import Gate, Principal
from .decisions import ReviewDesk


@dataclass(frozen=True)
class Web:
    """The app's parts: who is asking (gate), what reviewers do (desk), the templates."""

    gate: Gate
    desk: ReviewDesk
    templates: Jinja2Templates
    bulk_min_confidence: float
    """The confidence the queue page offers for bulk approval."""


def web_of(request: Request) -> Web:
    """The app's parts, for a handler."""
    web: Web = request.app.state.web
    return web


def root(request: Request) -> str:
    """The path the app is mounted at (``""`` at the server's root)."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def is_api(request: Request) -> bool:
    """Whether the request is for the JSON API (answered in JSON, never redirected)."""
    path = request.url.path
    prefix = root(request)
    if prefix and path.startswith(prefix):
        path = path[len(prefix) :]
    return path == "/api" or path.startswith("/api/")


# ------------------------------------------------------------ templates


def money(value: object, blank_zero: bool = False) -> str:
    """An amount for reading: ``1,250.00`` (the decimals it has); blank for zero if asked."""
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    if not amount.is_finite():
        return str(value)
    if blank_zero and amount == 0:
        return ""
    return f"{amount:,f}"


def confidence(value: float | None) -> str:
    """A confidence as ``0.93``, or a dash without one."""
    return "—" if value is None else f"{value:.2f}"


def when(value: dt.datetime | None) -> str:
    """A moment in UTC, to the minute."""
    if value is None:
        return ""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M")


def rate(value: Decimal) -> str:
    """A VAT rate without trailing zeros (``25``, ``5.5``)."""
    return f"{value.normalize():f}"


def make_templates() -> Jinja2Templates:
    """The packaged templates, autoescaped, with the filters above."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("ledgerpilot.review.web", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(money=money, confidence=confidence, when=when, rate=rate)
    env.globals["can"] = can
    return Jinja2Templates(env=env)


def render(
    request: Request,
    name: str,
    who: Principal | None,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    nav: str | None = None,
) -> Response:
    """Render a page for the signed-in user (or nobody)."""
    page: dict[str, Any] = {
        "me": None if who is None else who.user,
        "csrf_token": None if who is None else who.csrf_token,
        "root": root(request),
        "nav": nav,
        "notice": None,
        "error": None,
    }
    page.update(context or {})
    return web_of(request).templates.TemplateResponse(request, name, page, status_code=status_code)
