"""Signing in and out, sessions, API tokens and CSRF, over HTTP."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from ledgerpilot.connectors import ReferenceAIS
from ledgerpilot.review.store import ProposalStore
from ledgerpilot.review.web import create_app
from ledgerpilot.review.web.auth import LOGIN_COOKIE, SECURE_SESSION_COOKIE, SESSION_COOKIE

from .kit import PASSWORD, login_token, meta_csrf, save_proposal, signed_in


def sign_in(client: TestClient, name: str, password: str = PASSWORD, next: str = "") -> object:
    """Fill in and send the sign-in form, as a browser does."""
    page = client.get("/login")
    return client.post(
        "/login",
        data={
            "name": name,
            "password": password,
            "csrf_token": login_token(page.text),
            "next": next,
        },
        follow_redirects=False,
    )


def set_cookie_headers(response: object) -> list[str]:
    return response.headers.get_list("set-cookie")  # type: ignore[attr-defined]


def last_access(store: ProposalStore) -> tuple[str | None, str, str, int, str]:
    r = store.access_log(limit=1)[0]
    return r.user, r.method, r.path, r.status_code, r.detail


def test_signing_in_gives_a_session_cookie_that_opens_the_queue(
    app: FastAPI, store: ProposalStore
) -> None:
    client = TestClient(app)
    response = sign_in(client, "alice")
    assert response.status_code == 303
    assert response.headers["location"] == "/queue"
    (cookie,) = [c for c in set_cookie_headers(response) if c.startswith(SESSION_COOKIE + "=")]
    attributes = [a.strip().lower() for a in cookie.split(";")]
    assert "httponly" in attributes and "samesite=lax" in attributes and "path=/" in attributes
    assert "secure" not in attributes  # secure_cookies=False: plain HTTP on localhost
    queue = client.get("/queue")
    assert queue.status_code == 200
    assert "alice" in queue.text and "Review queue" in queue.text
    assert last_access(store)[:4] == ("alice", "POST", "/login", 303)


def test_a_wrong_password_or_unknown_user_signs_nobody_in(
    app: FastAPI, store: ProposalStore
) -> None:
    client = TestClient(app)
    for name, password in (("alice", "not the password"), ("mallory", PASSWORD)):
        response = sign_in(client, name, password)
        assert response.status_code == 401
        assert "Wrong user name or password" in response.text
        assert not any(c.startswith(SESSION_COOKIE) for c in set_cookie_headers(response))
        assert last_access(store) == (
            None,
            "POST",
            "/login",
            401,
            f"failed sign-in as {name!r}",
        )
    assert client.get("/api/whoami").status_code == 401


def test_the_sign_in_form_needs_its_own_csrf_token(app: FastAPI, store: ProposalStore) -> None:
    client = TestClient(app)
    client.get("/login")
    assert client.cookies.get(LOGIN_COOKIE)  # the browser has the form's cookie, not its token
    response = client.post(
        "/login",
        data={"name": "alice", "password": PASSWORD, "csrf_token": "forged"},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert last_access(store)[3] == 403
    assert client.get("/api/whoami").status_code == 401


def test_signing_in_never_keeps_the_session_the_browser_came_with(
    app: FastAPI, store: ProposalStore
) -> None:
    # An attacker plants a session id in the victim's browser, one the attacker knows:
    # a made-up one, or a real session of their own. Signing in must not adopt either.
    own, _ = store.create_session("clara", app.state.web.gate.session_ttl)
    for planted in ("made-up-by-the-attacker", own):
        client = TestClient(app)
        form = client.get("/login")
        client.cookies.set(SESSION_COOKIE, planted, domain="testserver.local")
        response = client.post(
            "/login",
            data={"name": "alice", "password": PASSWORD, "csrf_token": login_token(form.text)},
            follow_redirects=False,
        )
        assert response.status_code == 303
        fresh = client.cookies.get(SESSION_COOKIE)
        assert fresh and fresh != planted
        assert store.session(planted) is None  # the planted one (if real) has ended
        assert client.get("/api/whoami").json()["name"] == "alice"


def test_signing_out_ends_the_session_on_the_server(app: FastAPI, store: ProposalStore) -> None:
    client = TestClient(app)
    sign_in(client, "alice")
    token = client.cookies.get(SESSION_COOKIE)
    assert token is not None
    csrf = meta_csrf(client.get("/queue").text)
    response = client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert last_access(store)[:4] == ("alice", "POST", "/logout", 303)
    # A copy of the old cookie is worth nothing now.
    replay = TestClient(app)
    replay.cookies.set(SESSION_COOKIE, token, domain="testserver.local")
    assert replay.get("/api/whoami").status_code == 401
    assert store.session(token) is None


def test_signing_out_needs_the_csrf_token(app: FastAPI, store: ProposalStore) -> None:
    alice = signed_in(app, store, "alice")
    response = alice.client.post("/logout", data={}, follow_redirects=False)
    assert response.status_code == 403
    assert store.session(alice.token) is not None


def test_secure_cookies_are_host_only_and_https_only(
    store: ProposalStore, ais: ReferenceAIS
) -> None:
    app = create_app(store, ais, None)  # secure_cookies=True is the default
    client = TestClient(app, base_url="https://review.example")
    response = sign_in(client, "alice")
    (cookie,) = [c for c in set_cookie_headers(response) if c.startswith(SECURE_SESSION_COOKIE)]
    attributes = [a.strip().lower() for a in cookie.split(";")]
    assert {"secure", "httponly", "samesite=lax", "path=/"} <= set(attributes)
    assert not any(a.startswith("domain=") for a in attributes)
    assert client.get("/api/whoami").json()["name"] == "alice"


def test_not_signed_in_pages_go_to_the_sign_in_page_and_the_api_answers_401(
    app: FastAPI, store: ProposalStore
) -> None:
    client = TestClient(app)
    page = client.get("/queue?status=proposed", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=/queue%3Fstatus%3Dproposed"
    assert last_access(store)[:4] == (None, "GET", "/queue", 303)
    api = client.get("/api/proposals")
    assert api.status_code == 401
    assert api.headers["www-authenticate"] == "Bearer"
    assert last_access(store)[:4] == (None, "GET", "/api/proposals", 401)


def test_after_signing_in_the_browser_goes_where_it_was_going_but_never_off_site(
    app: FastAPI,
) -> None:
    client = TestClient(app)
    response = sign_in(client, "alice", next="/queue?status=proposed")
    assert response.headers["location"] == "/queue?status=proposed"
    for elsewhere in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        other = TestClient(app)
        assert sign_in(other, "alice", next=elsewhere).headers["location"] == "/queue"


def test_forms_without_the_right_csrf_token_are_refused_and_logged(
    app: FastAPI, store: ProposalStore
) -> None:
    pid = save_proposal(store, "SI-3")
    alice = signed_in(app, store, "alice")
    for data in ({}, {"csrf_token": "wrong"}):
        response = alice.client.post(f"/proposals/{pid}/approve", data=data, follow_redirects=False)
        assert response.status_code == 403
        assert "CSRF" in response.text
        user, method, path, status, detail = last_access(store)
        assert (user, method, path, status) == ("alice", "POST", f"/proposals/{pid}/approve", 403)
        assert "CSRF" in detail
    assert store.get(pid).status == "proposed"  # type: ignore[union-attr]
    assert alice.form(f"/proposals/{pid}/approve").status_code == 303
    assert store.get(pid).status == "approved"  # type: ignore[union-attr]


def test_json_calls_with_the_session_cookie_need_the_csrf_header(
    app: FastAPI, store: ProposalStore
) -> None:
    pid = save_proposal(store, "SI-3")
    alice = signed_in(app, store, "alice")
    url = f"/api/proposals/{pid}/approve"
    assert alice.client.post(url, json={}).status_code == 403
    wrong = alice.client.post(url, json={}, headers={"X-CSRF-Token": "wrong"})
    assert wrong.status_code == 403
    assert store.get(pid).status == "proposed"  # type: ignore[union-attr]
    assert alice.api(url, {}).status_code == 200
    assert store.get(pid).status == "approved"  # type: ignore[union-attr]


def test_api_tokens_need_no_csrf_token_and_a_bad_one_is_not_rescued_by_a_cookie(
    app: FastAPI, store: ProposalStore
) -> None:
    pid = save_proposal(store, "SI-3")
    token = store.create_api_token("alice", "integration test")
    client = TestClient(app, headers={"Authorization": f"Bearer {token}"})
    assert client.get("/api/whoami").json() == {
        "name": "alice",
        "role": "approver",
        "via": "token",
        "may": ["view", "edit", "decide", "bulk_approve", "ask"],
    }
    assert client.post(f"/api/proposals/{pid}/approve").status_code == 200
    # A wrong bearer token is refused even with a valid session cookie beside it.
    bob = signed_in(app, store, "bob")
    response = bob.client.get("/api/whoami", headers={"Authorization": "Bearer lp_forged"})
    assert response.status_code == 401
    assert last_access(store)[3:] == (401, "the API token is not valid")


def test_a_deactivated_user_is_signed_out_everywhere(app: FastAPI, store: ProposalStore) -> None:
    clara = signed_in(app, store, "clara")
    token = store.create_api_token("clara", "script")
    assert clara.client.get("/api/whoami").status_code == 200
    store.deactivate("clara")
    assert clara.client.get("/api/whoami").status_code == 401
    bearer = TestClient(app, headers={"Authorization": f"Bearer {token}"})
    assert bearer.get("/api/whoami").status_code == 401
    assert sign_in(TestClient(app), "clara").status_code == 401


def test_pages_forbid_framing_and_foreign_scripts(app: FastAPI, store: ProposalStore) -> None:
    alice = signed_in(app, store, "alice")
    response = alice.client.get("/queue")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"
    assert "<script>" not in response.text  # no inline script: the policy would block it
    assert TestClient(app).get("/static/app.css").status_code == 200
