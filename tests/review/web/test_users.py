"""The users page: an admin adds users and deactivates them."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from ledgerpilot.review.store import ProposalStore

from .kit import PASSWORD, login_token, signed_in


def test_an_admin_adds_a_user_who_can_then_sign_in(app: FastAPI, store: ProposalStore) -> None:
    adam = signed_in(app, store, "adam")
    page = adam.client.get("/users").text
    for name in ("alice", "bob", "clara", "audrey", "adam"):
        assert f"<td>{name}</td>" in page
    new = {"name": "dora", "role": "approver", "password": PASSWORD, "password_again": PASSWORD}
    response = adam.form("/users", new)
    assert response.status_code == 303 and response.headers["location"] == "/users?done=user-added"
    dora = store.get_user("dora")
    assert dora is not None and (dora.role, dora.active) == ("approver", True)
    client = TestClient(app)
    form = client.get("/login").text
    signed = client.post(
        "/login",
        data={"name": "dora", "password": PASSWORD, "csrf_token": login_token(form)},
        follow_redirects=False,
    )
    assert signed.status_code == 303


def test_adding_a_user_explains_what_is_wrong(app: FastAPI, store: ProposalStore) -> None:
    adam = signed_in(app, store, "adam")
    cases = [
        ({"name": "eve", "role": "clerk", "password": "short", "password_again": "short"},
         "at least 10 characters"),
        ({"name": "eve", "role": "clerk", "password": PASSWORD, "password_again": "other"},
         "The two passwords differ."),
        ({"name": "alice", "role": "clerk", "password": PASSWORD, "password_again": PASSWORD},
         "there is a user &#39;alice&#39; already"),
        ({"name": "eve", "role": "boss", "password": PASSWORD, "password_again": PASSWORD},
         "role must be one of"),
    ]  # fmt: skip
    for data, message in cases:
        response = adam.form("/users", data)
        assert response.status_code == 422
        assert message in response.text
    assert store.get_user("eve") is None


def test_deactivating_a_user_ends_their_sessions_but_not_ones_own(
    app: FastAPI, store: ProposalStore
) -> None:
    adam, clara = signed_in(app, store, "adam"), signed_in(app, store, "clara")
    assert clara.client.get("/api/whoami").status_code == 200
    response = adam.form("/users/clara/deactivate")
    assert response.headers["location"] == "/users?done=user-deactivated"
    assert clara.client.get("/api/whoami").status_code == 401
    assert store.get_user("clara").active is False  # type: ignore[union-attr]
    assert adam.form("/users/adam/deactivate").status_code == 409
    assert adam.form("/users/nobody/deactivate").status_code == 404
    assert adam.form("/users/clara/activate").status_code == 303
    assert store.get_user("clara").active is True  # type: ignore[union-attr]
