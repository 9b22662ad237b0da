"""The access log (auditors, admins) and the users page (admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from ..errors import StoreError
from ..roles import ROLES
from .auth import Principal
from .forms import Admin, Auditor, Form, field, notice, redirect
from .site import render, web_of

router = APIRouter(include_in_schema=False)

ACCESS_PAGE_SIZE = 100


@router.get("/access-log")
def access_log(
    request: Request, who: Auditor, page: Annotated[int, Query(ge=1, le=100_000)] = 1
) -> Response:
    """Every request the app refused, and every sign-in and sign-out, newest first."""
    store = web_of(request).desk.store
    records = store.access_log(limit=ACCESS_PAGE_SIZE + 1, offset=(page - 1) * ACCESS_PAGE_SIZE)
    return render(
        request,
        "access_log.html",
        who,
        {
            "records": records[:ACCESS_PAGE_SIZE],
            "page": page,
            "has_next": len(records) > ACCESS_PAGE_SIZE,
        },
        nav="access",
    )


def _users_page(
    request: Request,
    who: Principal,
    *,
    error: str | None = None,
    notice: str | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    users = web_of(request).desk.store.list_users()
    return render(
        request,
        "users.html",
        who,
        {
            "users": users,
            "roles": ROLES,
            "form": form or {"name": "", "role": "clerk"},
            "error": error,
            "notice": notice,
        },
        status_code=status_code,
        nav="users",
    )


@router.get("/users")
def users(request: Request, who: Admin, done: str | None = None) -> Response:
    """The users, their roles, and a form to add one."""
    return _users_page(request, who, notice=notice(done))


@router.post("/users")
def add_user(request: Request, who: Admin, form: Form) -> Response:
    """Add a user with a role and a first password."""
    name, role = field(form, "name", 64), field(form, "role", 16)
    password = form.get("password")
    if password != form.get("password_again"):
        return _users_page(
            request,
            who,
            error="The two passwords differ.",
            form={"name": name, "role": role},
            status_code=422,
        )
    try:
        web_of(request).desk.store.add_user(name, role, str(password or ""))
    except StoreError as exc:
        return _users_page(
            request, who, error=str(exc), form={"name": name, "role": role}, status_code=422
        )
    return redirect(request, "/users", done="user-added")


@router.post("/users/{name}/deactivate")
def deactivate_user(request: Request, who: Admin, name: str) -> Response:
    """Stop a user signing in; their sessions end (an admin cannot lock themselves out)."""
    if name == who.user.name:
        return _users_page(request, who, error="You cannot deactivate yourself.", status_code=409)
    web_of(request).desk.store.deactivate(name)
    return redirect(request, "/users", done="user-deactivated")


@router.post("/users/{name}/activate")
def activate_user(request: Request, who: Admin, name: str) -> Response:
    """Let a deactivated user sign in again."""
    web_of(request).desk.store.activate(name)
    return redirect(request, "/users", done="user-activated")
