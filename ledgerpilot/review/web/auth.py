"""Who is asking, and whether they may: sessions, API tokens, roles and CSRF.

A browser signs in and gets a server-side session (the cookie holds only a random token;
the store keeps its hash, its user and its CSRF token). Every form carries the session's
CSRF token in a hidden field, and JSON calls made with the session cookie send it in the
``X-CSRF-Token`` header. Tools call the API with ``Authorization: Bearer <api token>``
instead, which no browser sends by itself, so they need no CSRF token.

Routes declare what they need with :func:`require`; a refusal raises :class:`NotSignedIn`
(401, or the login page for HTML) or :class:`Refused` (403), which the app answers and
records in the store's access log.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from ..models import User
from ..roles import can
from ..store import ProposalStore

SESSION_COOKIE = "ledgerpilot_session"
"""The session cookie's name over plain HTTP."""
SECURE_SESSION_COOKIE = "__Host-ledgerpilot_session"
"""Its name with secure cookies: the ``__Host-`` prefix binds it to this host, HTTPS only."""
LOGIN_COOKIE = "ledgerpilot_login"
"""Holds the login form's CSRF token (double submit) before there is a session."""
CSRF_FIELD = "csrf_token"
"""The hidden form field that carries the CSRF token."""
CSRF_HEADER = "X-CSRF-Token"
"""The header that carries the CSRF token on JSON calls made with the session cookie."""
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
"""Methods that change something and so need the CSRF token."""


@dataclass(frozen=True)
class Principal:
    """The user behind a request, and how they proved it."""

    user: User
    csrf_token: str | None
    """The session's CSRF token; ``None`` when signed in with an API token."""
    session_token: str | None
    """The session cookie's token; ``None`` with an API token."""

    @property
    def via(self) -> str:
        """``session`` or ``token``."""
        return "session" if self.session_token is not None else "token"


class NotSignedIn(Exception):
    """No valid session or API token (HTTP 401)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class Refused(Exception):
    """Signed in, but not allowed: the role lacks the action, or the CSRF token is wrong (403)."""

    def __init__(self, user: str, detail: str) -> None:
        super().__init__(detail)
        self.user = user
        self.detail = detail


@dataclass(frozen=True)
class Gate:
    """Reads who is asking from a request: the store's sessions and API tokens."""

    store: ProposalStore
    secure_cookies: bool
    session_ttl: timedelta

    @property
    def cookie_name(self) -> str:
        """The session cookie's name."""
        return SECURE_SESSION_COOKIE if self.secure_cookies else SESSION_COOKIE

    def session_token(self, request: Request) -> str | None:
        """The session token the request's cookie carries, if any."""
        return request.cookies.get(self.cookie_name) or None

    def principal(self, request: Request) -> Principal | None:
        """Who the request is from, or ``None``. A bearer token, when sent, is the only
        credential looked at: a wrong one is not saved by a session cookie."""
        authorization = request.headers.get("authorization")
        if authorization is not None:
            scheme, _, bearer = authorization.partition(" ")
            if scheme.lower() != "bearer" or not bearer.strip():
                return None
            user = self.store.token_user(bearer.strip())
            return None if user is None else Principal(user, None, None)
        token = self.session_token(request)
        if token is None:
            return None
        found = self.store.session(token)
        if found is None:
            return None
        signed_in, csrf = found
        return Principal(signed_in, csrf, token)


def csrf_matches(expected: str | None, given: str | None) -> bool:
    """Whether ``given`` is the expected CSRF token (compared in constant time)."""
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


def new_login_token() -> str:
    """A fresh CSRF token for the login form (it has no session yet)."""
    return secrets.token_urlsafe(32)


async def _given_csrf(request: Request) -> str | None:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


def require(action: str | None) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency: the signed-in user, allowed to do ``action`` (``None``: any signed-in
    user), with a valid CSRF token on unsafe methods when signed in by session."""

    async def dependency(request: Request) -> Principal:
        gate: Gate = request.app.state.web.gate
        who = await run_in_threadpool(gate.principal, request)
        if who is None:
            sent = "authorization" in request.headers
            raise NotSignedIn(
                "the API token is not valid" if sent else "not signed in (or the session ended)"
            )
        request.state.user = who.user.name
        if action is not None and not can(who.user.role, action):
            raise Refused(who.user.name, f"the role {who.user.role} may not {action}")
        if request.method in UNSAFE_METHODS and who.csrf_token is not None:
            given = await _given_csrf(request)
            if not csrf_matches(who.csrf_token, given):
                raise Refused(
                    who.user.name,
                    "the CSRF token is missing or wrong; reload the page and try again",
                )
        return who

    return dependency
