"""Users, roles, passwords, sessions, API tokens and the access log in the store."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from argon2 import PasswordHasher
from sqlalchemy import create_engine, exc, text

from ledgerpilot.review import PERMISSIONS, ROLES, NotAllowed, StoreError, UnknownUser, can
from ledgerpilot.review.store import ProposalStore

from .store_kit import CHEAP_HASHER, PASSWORD, add_people

HOUR = dt.timedelta(hours=1)


def rows(url: str, table: str) -> list[tuple[object, ...]]:
    """Every row of a table, read past the store."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(f"SELECT * FROM {table}"))]
    finally:
        engine.dispose()


def test_what_each_role_may_do() -> None:
    assert ROLES == ("clerk", "approver", "auditor", "admin")
    allowed = {action: sorted(r for r in ROLES if can(r, action)) for action in PERMISSIONS}
    assert allowed == {
        "view": ["admin", "approver", "auditor", "clerk"],
        "edit": ["approver", "clerk"],
        "decide": ["approver"],
        "bulk_approve": ["approver"],
        "audit": ["admin", "auditor"],
        "users": ["admin"],
        "ask": ["admin", "approver", "auditor", "clerk"],
    }
    assert not can("owner", "view")
    with pytest.raises(ValueError, match="action must be one of view, edit"):
        can("admin", "delete")


def test_a_user_is_added_with_an_argon2id_hash(url: str, store: ProposalStore) -> None:
    user = store.add_user("ana", "approver", PASSWORD)
    assert (user.name, user.role, user.active) == ("ana", "approver", True)
    assert user.can("decide") and not user.can("users")
    assert store.get_user("ana") == user
    assert store.get_user("bob") is None
    [(name, role, hashed, active, _)] = rows(url, "users")
    assert (name, role, bool(active)) == ("ana", "approver", True)
    assert str(hashed).startswith("$argon2id$")
    assert PASSWORD not in str(hashed)


def test_users_are_checked(store: ProposalStore) -> None:
    store.add_user("ana", "approver", PASSWORD)
    with pytest.raises(StoreError, match="there is a user 'ana' already"):
        store.add_user("ana", "clerk", PASSWORD)
    with pytest.raises(StoreError, match="at least 10 characters"):
        store.add_user("bob", "clerk", "short")
    with pytest.raises(StoreError, match="role must be one of clerk, approver"):
        store.add_user("bob", "boss", PASSWORD)
    for name in ("", "policy:auto-approve", "a b", "-x", "x" * 65):
        with pytest.raises(StoreError, match="a user name is 1 to 64"):
            store.add_user(name, "clerk", PASSWORD)
    with pytest.raises(StoreError, match="reserved for the workers"):
        store.add_user("Worker", "approver", PASSWORD)
    assert [u.name for u in store.list_users()] == ["ana"]


def test_the_database_refuses_an_unknown_role(url: str, store: ProposalStore) -> None:
    engine = create_engine(url)
    try:
        with pytest.raises(exc.IntegrityError), engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO users (name, role, password_hash, active, created_at) "
                    "VALUES ('eve', 'owner', 'x', TRUE, CURRENT_TIMESTAMP)"
                )
            )
    finally:
        engine.dispose()


def test_sign_in_with_the_right_password_only(store: ProposalStore) -> None:
    add_people(store)
    signed_in = store.authenticate("ana", PASSWORD)
    assert signed_in is not None and signed_in.role == "approver"
    assert store.authenticate("ana", PASSWORD.upper()) is None
    assert store.authenticate("ana", "") is None
    assert store.authenticate("nobody", PASSWORD) is None
    store.deactivate("ana")
    assert store.authenticate("ana", PASSWORD) is None
    assert store.get_user("ana").active is False  # type: ignore[union-attr]
    store.activate("ana")
    assert store.authenticate("ana", PASSWORD) is not None


def test_a_weaker_hash_is_replaced_at_sign_in(url: str, store: ProposalStore) -> None:
    store.add_user("ana", "approver", PASSWORD)  # small costs: CHEAP_HASHER
    [(_, _, weak, _, _)] = rows(url, "users")
    assert "m=8192,t=1,p=1" in str(weak)
    store.password_hasher = PasswordHasher()  # argon2-cffi's current defaults
    assert store.authenticate("ana", PASSWORD) is not None
    [(_, _, strong, _, _)] = rows(url, "users")
    assert str(strong).startswith("$argon2id$") and not store.password_hasher.check_needs_rehash(
        str(strong)
    )
    assert strong != weak
    store.password_hasher = CHEAP_HASHER
    assert store.authenticate("ana", PASSWORD) is not None  # the stronger hash still verifies


def test_a_new_password_and_a_new_role(store: ProposalStore) -> None:
    store.add_user("ana", "clerk", PASSWORD)
    token, _ = store.create_session("ana", HOUR)
    store.set_password("ana", "another long one")
    assert store.authenticate("ana", PASSWORD) is None
    assert store.authenticate("ana", "another long one") is not None
    assert store.session(token) is None  # a new password ends the sessions
    assert store.set_role("ana", "approver").role == "approver"
    with pytest.raises(UnknownUser, match="no user 'bob'"):
        store.set_password("bob", "another long one")
    with pytest.raises(UnknownUser):
        store.deactivate("bob")


def test_sessions_keep_only_a_hash_and_expire(url: str, store: ProposalStore) -> None:
    add_people(store)
    token, csrf = store.create_session("ana", HOUR)
    assert len(token) >= 40 and len(csrf) >= 40 and token != csrf
    found = store.session(token)
    assert found is not None
    user, found_csrf = found
    assert (user.name, found_csrf) == ("ana", csrf)
    [stored] = rows(url, "sessions")
    assert token not in map(str, stored)
    assert stored[0] == hashlib.sha256(token.encode()).hexdigest()
    assert store.session(token + "x") is None

    short, _ = store.create_session("bob", dt.timedelta(microseconds=1))
    assert store.session(short) is None  # expired already
    store.end_session(token)
    assert store.session(token) is None
    with pytest.raises(StoreError, match="a session lasts a positive time"):
        store.create_session("ana", dt.timedelta(0))
    with pytest.raises(UnknownUser):
        store.create_session("zoe", HOUR)


def test_a_deactivated_user_loses_sessions_and_tokens(store: ProposalStore) -> None:
    add_people(store)
    token, _ = store.create_session("ana", HOUR)
    api = store.create_api_token("ana", "ERP sync")
    store.deactivate("ana")
    assert store.session(token) is None
    assert store.token_user(api) is None
    with pytest.raises(NotAllowed, match="'ana' is deactivated"):
        store.create_session("ana", HOUR)
    with pytest.raises(NotAllowed, match="'ana' is deactivated"):
        store.authorize("ana", "view")


def test_api_tokens_keep_only_a_hash(url: str, store: ProposalStore) -> None:
    add_people(store)
    token = store.create_api_token("carl", "ERP sync")
    assert token.startswith("lp_")
    user = store.token_user(token)
    assert user is not None and (user.name, user.role) == ("carl", "clerk")
    assert store.token_user("lp_nothing") is None
    [(key, name, label, _, last_used)] = rows(url, "api_tokens")
    assert (key, name, label) == (hashlib.sha256(token.encode()).hexdigest(), "carl", "ERP sync")
    assert last_used is not None
    assert all(token not in str(value) for row in rows(url, "api_tokens") for value in row)


def test_authorize_names_the_role_needed(store: ProposalStore) -> None:
    add_people(store)
    assert store.authorize("adm", "users").name == "adm"
    with pytest.raises(NotAllowed, match="'aud' has the role auditor; managing users needs"):
        store.authorize("aud", "users")
    with pytest.raises(NotAllowed, match="there is no user 'zoe'"):
        store.authorize("zoe", "view")


def test_the_access_log_is_append_only(url: str, store: ProposalStore) -> None:
    store.log_access(None, "get", "/queue", 401, "not signed in")
    store.log_access("carl", "POST", "/proposals/p1/approve", 403, "needs the role approver")
    store.log_access("ana", "POST", "/proposals/p1/approve", 303)
    log = store.access_log()
    assert [(r.user, r.method, r.path, r.status_code, r.detail) for r in log] == [
        ("ana", "POST", "/proposals/p1/approve", 303, ""),
        ("carl", "POST", "/proposals/p1/approve", 403, "needs the role approver"),
        (None, "GET", "/queue", 401, "not signed in"),
    ]
    assert [r.id for r in store.access_log(limit=1, offset=1)] == [log[1].id]
    assert log[0].at >= log[2].at and log[0].at.tzinfo is not None
    engine = create_engine(url)
    statements = ["UPDATE access_log SET status_code = 200", "DELETE FROM access_log"]
    if engine.dialect.name == "postgresql":
        statements.append("TRUNCATE access_log")
    try:
        for statement in statements:
            with (
                pytest.raises(exc.DBAPIError, match="the access log is append-only"),
                engine.begin() as conn,
            ):
                conn.execute(text(statement))
    finally:
        engine.dispose()
    assert store.access_log() == log
