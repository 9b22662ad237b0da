"""Every route of the app, without signing in and with each role: the expected answers.

The table must name every route the app has, so a new route without a row here fails
the test. Refusals (401, 403, and the sign-in redirect of a page) must be in the access log.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.routing import Mount

from ledgerpilot.review.store import ProposalStore

from .audit_kit import top_finding
from .kit import BY_ROLE, PASSWORD, save_proposal, signed_in

ROLES = ("clerk", "approver", "auditor", "admin")
WHO = (None, *ROLES)
OTHER_RENT = [
    {"account": "6120", "debit": "900.00", "credit": "0.00", "description": "Office rent"},
    {"account": "6120", "debit": "100.00", "credit": "0.00", "description": "Service charge"},
    {"account": "1310", "debit": "250.00", "credit": "0.00", "description": "Input VAT 25%"},
    {"account": "2110", "debit": "0.00", "credit": "1250.00", "description": "Office Rent Ltd"},
]
EDIT_FORM = {
    "account": ["6120", "6120", "1310", "2110"],
    "side": ["debit", "debit", "debit", "credit"],
    "amount": ["900.00", "100.00", "250.00", "1250.00"],
    "description": ["Office rent", "Service charge", "Input VAT 25%", "Office Rent Ltd"],
}


@dataclass(frozen=True)
class Call:
    """How to call a route: its URL and body, made fresh for each call."""

    form: bool
    """A form post (CSRF in a field) rather than JSON (CSRF in the header)."""
    make: Callable[[ProposalStore, int], tuple[str, Any]]
    """(store, call number) -> (url, body)."""


def _proposal(store: ProposalStore, n: int) -> str:
    return save_proposal(store, f"DOC-{n}")


def _user(store: ProposalStore, n: int, active: bool = True) -> str:
    store.add_user(f"target{n}", "clerk", PASSWORD)
    if not active:
        store.deactivate(f"target{n}")
    return f"target{n}"


def _new_user(n: int) -> dict[str, str]:
    return {"name": f"new{n}", "role": "clerk", "password": PASSWORD, "password_again": PASSWORD}


def fixed(url: str, body: Any = None, form: bool = False) -> Call:
    return Call(form, lambda store, n: (url, body))


def on_proposal(suffix: str, body: Any = None, form: bool = False) -> Call:
    return Call(form, lambda store, n: (f"/proposals/{_proposal(store, n)}{suffix}", body))


def on_api_proposal(suffix: str, body: Any = None) -> Call:
    return Call(False, lambda store, n: (f"/api/proposals/{_proposal(store, n)}{suffix}", body))


S = 303  # a page's answer: redirect (to the sign-in page, or after a form succeeds)
TABLE: dict[tuple[str, str], tuple[Call, dict[str | None, int]]] = {
    # method, path: how to call it, and the answer for nobody, clerk, approver, auditor, admin
    ("GET", "/"): (fixed("/"), dict.fromkeys(WHO, S)),
    ("GET", "/login"): (fixed("/login"), {None: 200, **dict.fromkeys(ROLES, S)}),
    ("POST", "/login"): (fixed("/login", {}, form=True), dict.fromkeys(WHO, 403)),
    ("POST", "/logout"): (fixed("/logout", {}, form=True), dict.fromkeys(WHO, S)),
    ("GET", "/queue"): (fixed("/queue"), {None: S, **dict.fromkeys(ROLES, 200)}),
    ("POST", "/queue/approve"): (
        fixed("/queue/approve", {"mode": "all", "min_confidence": "0.9"}, form=True),
        {None: S, "clerk": 403, "approver": 200, "auditor": 403, "admin": 403},
    ),
    ("GET", "/proposals/{proposal_id}"): (
        on_proposal(""),
        {None: S, **dict.fromkeys(ROLES, 200)},
    ),
    ("POST", "/proposals/{proposal_id}/approve"): (
        on_proposal("/approve", {}, form=True),
        {None: S, "clerk": 403, "approver": S, "auditor": 403, "admin": 403},
    ),
    ("POST", "/proposals/{proposal_id}/reject"): (
        on_proposal("/reject", {"reason": "a duplicate"}, form=True),
        {None: S, "clerk": 403, "approver": S, "auditor": 403, "admin": 403},
    ),
    ("POST", "/proposals/{proposal_id}/edit"): (
        on_proposal("/edit", EDIT_FORM, form=True),
        {None: S, "clerk": S, "approver": S, "auditor": 403, "admin": 403},
    ),
    ("GET", "/access-log"): (
        fixed("/access-log"),
        {None: S, "clerk": 403, "approver": 403, "auditor": 200, "admin": 200},
    ),
    ("GET", "/audit"): (
        fixed("/audit"),
        {None: S, "clerk": 403, "approver": 403, "auditor": 200, "admin": 200},
    ),
    ("GET", "/audit/findings/{finding_id}"): (
        Call(False, lambda store, n: (f"/audit/findings/{top_finding(store)}", None)),
        {None: S, "clerk": 403, "approver": 403, "auditor": 200, "admin": 200},
    ),
    ("POST", "/audit/findings/{finding_id}/follow-up"): (
        Call(
            True,
            lambda store, n: (
                f"/audit/findings/{top_finding(store)}/follow-up",
                {"status": "cleared", "note": "vouched to the invoice"},
            ),
        ),
        {None: S, "clerk": 403, "approver": 403, "auditor": S, "admin": S},
    ),
    ("GET", "/users"): (
        fixed("/users"),
        {None: S, "clerk": 403, "approver": 403, "auditor": 403, "admin": 200},
    ),
    ("POST", "/users"): (
        Call(True, lambda store, n: ("/users", _new_user(n))),
        {None: S, "clerk": 403, "approver": 403, "auditor": 403, "admin": S},
    ),
    ("POST", "/users/{name}/deactivate"): (
        Call(True, lambda store, n: (f"/users/{_user(store, n)}/deactivate", {})),
        {None: S, "clerk": 403, "approver": 403, "auditor": 403, "admin": S},
    ),
    ("POST", "/users/{name}/activate"): (
        Call(True, lambda store, n: (f"/users/{_user(store, n, active=False)}/activate", {})),
        {None: S, "clerk": 403, "approver": 403, "auditor": 403, "admin": S},
    ),
    # the Ask page; this app has no assistant: it says so (503 to a question, 404 documents)
    ("GET", "/ask"): (fixed("/ask"), {None: S, **dict.fromkeys(ROLES, 200)}),
    ("POST", "/ask"): (
        fixed("/ask", {"question": "How do I post a phone bill?"}, form=True),
        {None: S, **dict.fromkeys(ROLES, 503)},
    ),
    ("GET", "/ask/documents/{document_id}"): (
        fixed("/ask/documents/H-1"),
        {None: S, **dict.fromkeys(ROLES, 404)},
    ),
    ("GET", "/api/openapi.json"): (fixed("/api/openapi.json"), dict.fromkeys(WHO, 200)),
    ("GET", "/api/whoami"): (fixed("/api/whoami"), {None: 401, **dict.fromkeys(ROLES, 200)}),
    ("GET", "/api/proposals"): (
        fixed("/api/proposals"),
        {None: 401, **dict.fromkeys(ROLES, 200)},
    ),
    ("GET", "/api/proposals/{proposal_id}"): (
        on_api_proposal(""),
        {None: 401, **dict.fromkeys(ROLES, 200)},
    ),
    ("POST", "/api/proposals/{proposal_id}/check"): (
        on_api_proposal("/check", {"lines": OTHER_RENT}),
        {None: 401, "clerk": 200, "approver": 200, "auditor": 403, "admin": 403},
    ),
    ("POST", "/api/proposals/{proposal_id}/edit"): (
        on_api_proposal("/edit", {"lines": OTHER_RENT}),
        {None: 401, "clerk": 200, "approver": 200, "auditor": 403, "admin": 403},
    ),
    ("POST", "/api/proposals/{proposal_id}/approve"): (
        on_api_proposal("/approve", {}),
        {None: 401, "clerk": 403, "approver": 200, "auditor": 403, "admin": 403},
    ),
    ("POST", "/api/proposals/{proposal_id}/reject"): (
        on_api_proposal("/reject", {"reason": "a duplicate"}),
        {None: 401, "clerk": 403, "approver": 200, "auditor": 403, "admin": 403},
    ),
    ("POST", "/api/proposals/bulk-approve"): (
        fixed("/api/proposals/bulk-approve", {"min_confidence": 0.9}),
        {None: 401, "clerk": 403, "approver": 200, "auditor": 403, "admin": 403},
    ),
    ("GET", "/api/access-log"): (
        fixed("/api/access-log"),
        {None: 401, "clerk": 403, "approver": 403, "auditor": 200, "admin": 200},
    ),
    ("GET", "/static/{path}"): (fixed("/static/app.css"), dict.fromkeys(WHO, 200)),
}


def app_routes(app: FastAPI) -> Iterator[tuple[str, str]]:
    """(method, path) of every route, those of included routers too."""
    try:  # FastAPI 0.137+ keeps included routers whole in app.routes
        from fastapi.routing import iter_route_contexts

        routes: Any = list(iter_route_contexts(app.routes))
    except ImportError:  # pragma: no cover - older FastAPI lists every route itself
        routes = app.routes
    for route in routes:
        if isinstance(getattr(route, "original_route", route), Mount):
            yield "GET", f"{route.path}/{{path}}"
            continue
        for method in sorted(set(route.methods or ()) - {"HEAD"}):
            yield method, route.path


def test_the_table_names_every_route(app: FastAPI) -> None:
    assert sorted(app_routes(app)) == sorted(TABLE)


def _call(client: TestClient, method: str, call: Call, url: str, body: Any, csrf: str | None):
    if method == "GET":
        return client.get(url, follow_redirects=False)
    if call.form:
        data = dict(body or {})
        if csrf is not None:
            data["csrf_token"] = csrf
        return client.post(url, data=data, follow_redirects=False)
    headers = {} if csrf is None else {"X-CSRF-Token": csrf}
    return client.post(url, json=body, headers=headers, follow_redirects=False)


@pytest.mark.parametrize("role", WHO, ids=lambda r: r or "nobody")
def test_every_route_answers_each_role_as_the_table_says(
    app: FastAPI, store: ProposalStore, role: str | None
) -> None:
    counter = itertools.count()
    if role is None:
        client, csrf, name = TestClient(app), None, None
    else:
        name = BY_ROLE[role]
    failures = []
    for (method, path), (call, expected) in TABLE.items():
        if role is not None:  # a fresh session for each call: /logout ends it
            browser = signed_in(app, store, name)  # type: ignore[arg-type]
            client, csrf = browser.client, browser.csrf
        url, body = call.make(store, next(counter))
        before = len(store.access_log(limit=10_000))
        response = _call(client, method, call, url, body, csrf)
        want = expected[role]
        if response.status_code != want:
            failures.append(f"{method} {path} as {role}: {response.status_code}, not {want}")
            continue
        refused = want in (401, 403) or (want == S and role is None and path != "/")
        if refused:
            if role is None and want == S:
                assert response.headers["location"].startswith("/login"), path
            log = store.access_log(limit=10_000)
            assert len(log) == before + 1, f"{method} {path} as {role} was not logged"
            assert (log[0].user, log[0].method, log[0].path, log[0].status_code) == (
                None if path == "/login" else name,  # signing in is done by nobody yet
                method,
                url,
                want,
            )
    assert failures == []


@pytest.mark.parametrize("role", ROLES)
def test_api_tokens_get_the_same_answers_as_sessions(
    app: FastAPI, store: ProposalStore, role: str
) -> None:
    client = TestClient(
        app, headers={"Authorization": f"Bearer {store.create_api_token(BY_ROLE[role], 't')}"}
    )
    counter = itertools.count()
    for (method, path), (call, expected) in TABLE.items():
        if not path.startswith("/api/"):
            continue
        url, body = call.make(store, next(counter))
        response = _call(client, method, call, url, body, csrf=None)
        assert response.status_code == expected[role], f"{method} {path} as {role}"
