"""The approval web UI and JSON API as one FastAPI app: :func:`create_app`.

Pages are server-rendered (Jinja2, a little plain JavaScript for the live check of edited
lines and for selecting rows); the API lives under ``/api`` with its OpenAPI document at
``/api/openapi.json``. Swagger's page is left out because it loads its scripts from a CDN.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import ledgerpilot

from ..errors import NotAllowed, ProposalNotFound, StoreError, UnknownUser, WrongStatus
from ..store import ProposalStore
from . import admin_pages, api, ask_page, audit_page, proposal_page, queue_page, signin
from .auth import Gate, NotSignedIn, Refused
from .decisions import Dispatch, ReviewDesk
from .site import Web, is_api, make_templates, render, root
from .views import ChartCache, Ledger

if TYPE_CHECKING:
    from ledgerpilot.assistant.service import AskService

log = logging.getLogger(__name__)

DEFAULT_SESSION_TTL = dt.timedelta(hours=8)
"""How long a sign-in lasts unless told otherwise."""
DEFAULT_BULK_MIN_CONFIDENCE = 0.95
"""The confidence the queue page offers for bulk approval."""
MAX_BODY_BYTES = 2_000_000
"""Largest request body read; an edit of a few hundred lines is far smaller."""

SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
}
"""Sent with every answer: only this app's own scripts, styles and forms."""


def create_app(
    store: ProposalStore,
    ledger: Ledger,
    dispatch: Dispatch | None,
    *,
    secure_cookies: bool = True,
    session_ttl: dt.timedelta = DEFAULT_SESSION_TTL,
    bulk_min_confidence: float = DEFAULT_BULK_MIN_CONFIDENCE,
    chart_ttl_s: float = 300.0,
    assistant: AskService | None = None,
) -> FastAPI:
    """The review app over ``store``.

    ``ledger`` gives the chart of accounts (an AIS connector; the chart is read again every
    ``chart_ttl_s`` seconds); ``dispatch(proposal_id, decision)`` asks the workers to carry
    out a decision once it is recorded (``None``: no workers, approvals wait for
    ``ledgerpilot post``). ``secure_cookies=False`` only for plain HTTP on localhost.
    ``assistant`` answers the Ask page (``None``: the page says it is not set up).
    """
    app = FastAPI(
        title="ledgerpilot review",
        version=ledgerpilot.__version__,
        description="Review, edit, approve and reject drafted journal entries. Authenticate "
        "with `Authorization: Bearer <api token>`. Amounts are strings.",
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
        max_body_size=MAX_BODY_BYTES,
    )
    app.state.web = Web(
        gate=Gate(store, secure_cookies, session_ttl),
        desk=ReviewDesk(store, ChartCache(ledger, chart_ttl_s), dispatch),
        templates=make_templates(),
        bulk_min_confidence=bulk_min_confidence,
    )
    app.state.assistant = assistant
    app.add_middleware(SecurityHeaders)
    app.mount(
        "/static",
        StaticFiles(packages=[("ledgerpilot.review.web", "static")]),
        name="static",
    )
    for pages in (signin, queue_page, proposal_page, admin_pages, audit_page, ask_page):
        app.include_router(pages.router)
    app.include_router(api.router)
    _add_error_handlers(app)
    return app


class SecurityHeaders:
    """Adds :data:`SECURITY_HEADERS`, and ``Cache-Control: no-store`` to all but static files."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith(
            f"{str(scope.get('root_path', '')).rstrip('/')}/static/"
        )

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if not static:
                    headers.setdefault("cache-control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)


# ------------------------------------------------------------ errors


def _error(request: Request, status: int, message: str, heading: str) -> Response:
    if is_api(request):
        return JSONResponse({"detail": message}, status_code=status)
    who = None
    try:
        who = request.app.state.web.gate.principal(request)
    except Exception:  # the page explains the error even if the session cannot be read
        log.exception("could not read the session for an error page")
    return render(
        request,
        "error.html",
        who,
        {"heading": heading, "message": message, "back": None},
        status_code=status,
    )


async def _logged(request: Request, user: str | None, status: int, detail: str) -> None:
    store = request.app.state.web.desk.store
    await run_in_threadpool(
        store.log_access, user, request.method, request.url.path, status, detail
    )


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(NotSignedIn)
    async def not_signed_in(request: Request, exc: NotSignedIn) -> Response:
        if is_api(request):
            await _logged(request, None, 401, exc.detail)
            return JSONResponse(
                {"detail": exc.detail},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        await _logged(request, None, 303, f"{exc.detail}: sent to the sign-in page")
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        query = "" if request.method != "GET" else f"?next={_quote(target)}"
        return RedirectResponse(f"{root(request)}/login{query}", status_code=303)

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> Response:
        await _logged(request, exc.user, 403, exc.detail)
        return await run_in_threadpool(_error, request, 403, exc.detail, "Not allowed")

    @app.exception_handler(NotAllowed)
    async def not_allowed(request: Request, exc: NotAllowed) -> Response:
        user = getattr(request.state, "user", None)
        await _logged(request, user, 403, str(exc))
        return await run_in_threadpool(_error, request, 403, str(exc), "Not allowed")

    @app.exception_handler(WrongStatus)
    async def wrong_status(request: Request, exc: WrongStatus) -> Response:
        return await run_in_threadpool(_error, request, 409, str(exc), "Not possible now")

    @app.exception_handler(ProposalNotFound)
    async def not_found(request: Request, exc: ProposalNotFound) -> Response:
        return await run_in_threadpool(_error, request, 404, str(exc), "Not found")

    @app.exception_handler(UnknownUser)
    async def unknown_user(request: Request, exc: UnknownUser) -> Response:
        return await run_in_threadpool(_error, request, 404, str(exc), "Not found")

    @app.exception_handler(StoreError)
    async def store_error(request: Request, exc: StoreError) -> Response:
        return await run_in_threadpool(_error, request, 400, str(exc), "Cannot do that")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if is_api(request):
            return JSONResponse(
                {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
            )
        heading = "Not found" if exc.status_code == 404 else "Cannot do that"
        return await run_in_threadpool(_error, request, exc.status_code, str(exc.detail), heading)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        if is_api(request):
            return JSONResponse({"detail": _jsonable(exc.errors())}, status_code=422)
        message = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}"
            for e in exc.errors()
        )
        return await run_in_threadpool(_error, request, 422, message, "Cannot read the request")


def _quote(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/")


def _jsonable(errors: object) -> object:
    from fastapi.encoders import jsonable_encoder

    return jsonable_encoder(errors)
