"""Signing in and out: a new server-side session at each sign-in, ended at sign-out."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from .auth import CSRF_FIELD, LOGIN_COOKIE, csrf_matches, new_login_token
from .forms import Form, SignedIn, field, redirect
from .site import render, root, web_of

router = APIRouter(include_in_schema=False)

LOGIN_TOKEN_MAX_AGE_S = 3600
"""How long the sign-in form stays usable."""


def _safe_next(value: str | None, default: str) -> str:
    """A local path to go to after signing in; anything else (another site) is ignored."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    if any(c in value for c in "\r\n\t") or value.split("?")[0].rstrip("/").endswith("/login"):
        return default
    return value


def _login_page(
    request: Request,
    next_path: str,
    *,
    name: str = "",
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    token = new_login_token()
    response = render(
        request,
        "login.html",
        None,
        {"login_token": token, "next": next_path, "name": name, "error": error},
        status_code=status_code,
    )
    gate = web_of(request).gate
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        max_age=LOGIN_TOKEN_MAX_AGE_S,
        path=f"{root(request)}/login",
        secure=gate.secure_cookies,
        httponly=True,
        samesite="lax",
    )
    return response


@router.get("/")
def home(request: Request) -> RedirectResponse:
    """The queue is the start page."""
    return redirect(request, "/queue")


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:
    """The sign-in form (signed-in users go on to where they were going)."""
    next_path = _safe_next(next, f"{root(request)}/queue")
    if web_of(request).gate.principal(request) is not None:
        return RedirectResponse(next_path, status_code=303)
    return _login_page(request, next_path)


@router.post("/login")
def login(request: Request, form: Form) -> Response:
    """Sign in: a new session (never the one the browser came with), or the form again."""
    web = web_of(request)
    gate, store = web.gate, web.desk.store
    name = field(form, "name", 64)
    password = form.get("password")
    next_path = _safe_next(field(form, "next"), f"{root(request)}/queue")
    if not csrf_matches(request.cookies.get(LOGIN_COOKIE), field(form, CSRF_FIELD)):
        store.log_access(None, "POST", request.url.path, 403, "sign-in form without its token")
        return _login_page(
            request,
            next_path,
            name=name,
            error="The sign-in form had expired. Please sign in again.",
            status_code=403,
        )
    user = store.authenticate(name, password) if name and isinstance(password, str) else None
    if user is None:
        store.log_access(None, "POST", request.url.path, 401, f"failed sign-in as {name!r}")
        return _login_page(
            request,
            next_path,
            name=name,
            error="Wrong user name or password.",
            status_code=401,
        )
    old = gate.session_token(request)
    if old is not None:
        store.end_session(old)
    token, _ = store.create_session(user.name, gate.session_ttl)
    store.log_access(user.name, "POST", request.url.path, 303, "signed in")
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(
        gate.cookie_name,
        token,
        max_age=int(gate.session_ttl.total_seconds()),
        path="/",
        secure=gate.secure_cookies,
        httponly=True,
        samesite="lax",
    )
    response.delete_cookie(LOGIN_COOKIE, path=f"{root(request)}/login")
    return response


@router.post("/logout")
def logout(request: Request, who: SignedIn) -> RedirectResponse:
    """Sign out: the session ends on the server, and the cookie is dropped."""
    web = web_of(request)
    if who.session_token is not None:
        web.desk.store.end_session(who.session_token)
    web.desk.store.log_access(who.user.name, "POST", request.url.path, 303, "signed out")
    response = redirect(request, "/login")
    response.delete_cookie(
        web.gate.cookie_name, path="/", secure=web.gate.secure_cookies, httponly=True
    )
    return response
