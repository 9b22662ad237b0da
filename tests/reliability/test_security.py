"""Security: who may do what, forged requests, planted sessions, SQL text, secrets, the log.

Every check runs against the real parts: the web app over a real store and AIS (SQLite),
the ``ledgerpilot`` command, the mapped connector on a reference AIS, the settings object,
and the store's own database triggers (SQLite and PostgreSQL). The route table is the one
of ``tests/review/web/test_routes.py``, which runs every route without signing in and
with each role; here it must name every route of the app (a new route without a row
fails), every route but a short public list must refuse a stranger, and every route that
changes something must refuse a session without its CSRF token.

The SQL check reads the source: text handed to ``text()``, ``execute()``,
``exec_driver_sql()``, ``executemany()`` or ``literal_column()`` may not be built with an
f-string, ``%``, ``+``, ``.format()`` or ``.join()`` (directly, or through a variable
assigned so in the same function) unless the place is in :data:`REVIEWED_SQL` with the
reason it is safe. Values always travel as bound parameters.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import create_engine, exc, text
from typer.testing import CliRunner

from ledgerpilot.cli import app as cli
from ledgerpilot.config import Settings
from ledgerpilot.connectors import MappedAIS, ReferenceAIS, open_ais
from ledgerpilot.ledger import Document, JournalEntry
from ledgerpilot.review.store import ProposalStore
from ledgerpilot.review.web import create_app
from ledgerpilot.review.web.auth import SESSION_COOKIE, UNSAFE_METHODS
from tests.agent.drafting_kit import make_company, rent_invoice, rent_lines, sqlite_url
from tests.review.web.kit import (
    BY_ROLE,
    PASSWORD,
    Dispatched,
    add_users,
    login_token,
    save_proposal,
    signed_in,
)
from tests.review.web.test_routes import EDIT_FORM, OTHER_RENT, TABLE, WHO, _call, app_routes

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "ledgerpilot"
REFERENCE_MAPPING = ROOT / "mappings" / "reference.toml"

# ------------------------------------------------------------ routes and roles


@pytest.fixture(scope="module")
def company_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The web tests' small company: two posted rent invoices, three pending ones."""
    url = sqlite_url(tmp_path_factory.mktemp("security-ais") / "ais.sqlite")
    return make_company(url, [rent_invoice(f"SI-{n}", f"2024-03-0{n}") for n in (3, 4, 5)])


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ProposalStore]:
    """A new store with a user of every role (as tests/review/web/conftest.py makes it)."""
    with ProposalStore.create(sqlite_url(tmp_path / "store.sqlite")) as created:
        add_users(created)
        yield created


@pytest.fixture
def app(store: ProposalStore, company_url: str) -> Iterator[FastAPI]:
    """The real app over the store and the AIS; the workers' queue is a recorder."""
    with ReferenceAIS(company_url) as connector:
        yield create_app(store, connector, Dispatched(), secure_cookies=False)


PUBLIC = {
    ("GET", "/"): "redirects to the queue or the sign-in page; shows nothing",
    ("GET", "/login"): "the sign-in form",
    ("POST", "/login"): "signing in (guarded by the sign-in form's own CSRF token)",
    ("POST", "/logout"): "signing out (redirects; needs the session's CSRF token)",
    ("GET", "/api/openapi.json"): "the API's description, no data",
    ("GET", "/static/{path}"): "the style sheet and scripts",
}
"""Routes a stranger may call, each with why; every other route must refuse one."""
NEW_THIS_SESSION = [
    ("GET", "/ask"),
    ("POST", "/ask"),
    ("GET", "/ask/documents/{document_id}"),
    ("GET", "/audit"),
    ("GET", "/audit/findings/{finding_id}"),
    ("POST", "/audit/findings/{finding_id}/follow-up"),
]


def test_every_route_of_the_app_has_a_row_and_the_new_ones_are_there(app: FastAPI) -> None:
    routes = sorted(app_routes(app))
    assert routes == sorted(TABLE), "a route without a row in test_routes.TABLE, or a stale row"
    for route in NEW_THIS_SESSION:
        assert route in TABLE, route


def test_only_the_public_routes_answer_a_stranger() -> None:
    for route, (_, expected) in TABLE.items():
        if route in PUBLIC:
            continue
        # 401 from the API, or the redirect to the sign-in page (checked by test_routes).
        assert expected[None] in (401, 303), f"{route} answers a stranger {expected[None]}"
        assert set(expected) == set(WHO), f"{route}: an answer for nobody and each role"


def _allowed_role(expected: dict[str | None, int]) -> str | None:
    return next((r for r in WHO if r is not None and expected[r] not in (401, 403)), None)


@pytest.mark.parametrize("forged", [None, "forged-token"], ids=["missing", "wrong"])
def test_every_state_changing_route_refuses_a_session_without_its_csrf_token(
    app: FastAPI, store: ProposalStore, forged: str | None
) -> None:
    unsafe = [(m, p) for m, p in TABLE if m in UNSAFE_METHODS]
    assert len(unsafe) >= 15  # every POST of the app, /ask and the audit follow-up included
    checked = []
    for n, (method, path) in enumerate(unsafe):
        call, expected = TABLE[(method, path)]
        role = _allowed_role(expected)
        if role is None:  # /login: nobody is signed in to it; its own token is tested below
            continue
        browser = signed_in(app, store, BY_ROLE[role])
        url, body = call.make(store, 1000 + n)
        before = [(p.id, p.status) for p in store.list(limit=1000)]
        response = _call(browser.client, method, call, url, body, forged)
        assert response.status_code == 403, f"{method} {path} as {role} without CSRF"
        assert "CSRF" in response.text
        assert [(p.id, p.status) for p in store.list(limit=1000)] == before
        record = store.access_log(limit=1)[0]
        assert (record.user, record.status_code) == (BY_ROLE[role], 403)
        checked.append(path)
    assert "/ask" in checked and "/audit/findings/{finding_id}/follow-up" in checked


def test_the_sign_in_form_refuses_a_forged_token(app: FastAPI) -> None:
    client = TestClient(app)
    client.get("/login")
    response = client.post(
        "/login",
        data={"name": "alice", "password": PASSWORD, "csrf_token": "forged"},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert client.get("/api/whoami").status_code == 401


def test_a_session_planted_before_signing_in_is_not_kept(
    app: FastAPI, store: ProposalStore
) -> None:
    theirs, _ = store.create_session("clara", app.state.web.gate.session_ttl)
    for planted in ("chosen-by-an-attacker", theirs):
        client = TestClient(app)
        form = client.get("/login")
        client.cookies.set(SESSION_COOKIE, planted, domain="testserver.local")
        response = client.post(
            "/login",
            data={"name": "alice", "password": PASSWORD, "csrf_token": login_token(form.text)},
            follow_redirects=False,
        )
        assert response.status_code == 303
        issued = client.cookies.get(SESSION_COOKIE)
        assert issued and issued != planted
        assert store.session(planted) is None
        # The attacker's copy of the planted id opens nothing.
        stranger = TestClient(app)
        stranger.cookies.set(SESSION_COOKIE, planted, domain="testserver.local")
        assert stranger.get("/api/whoami").status_code == 401
        assert client.get("/api/whoami").json()["name"] == "alice"


# ------------------------------------------------------------ segregation of duties


def test_an_editor_cannot_approve_their_own_edit_through_the_web(
    app: FastAPI, store: ProposalStore
) -> None:
    pid = save_proposal(store, "SOD-WEB")
    alice = signed_in(app, store, "alice")
    assert alice.form(f"/proposals/{pid}/edit", EDIT_FORM).status_code == 303
    refused = alice.form(f"/proposals/{pid}/approve")
    assert refused.status_code == 403 and "segregation of duties" in refused.text
    assert store.get(pid).status == "needs_review"  # type: ignore[union-attr]
    assert signed_in(app, store, "bob").form(f"/proposals/{pid}/approve").status_code == 303
    assert store.get(pid).status == "approved"  # type: ignore[union-attr]


def test_an_editor_cannot_approve_their_own_edit_through_the_api(
    app: FastAPI, store: ProposalStore
) -> None:
    pid = save_proposal(store, "SOD-API")
    token = store.create_api_token("alice", "script")
    client = TestClient(app, headers={"Authorization": f"Bearer {token}"})
    assert client.post(f"/api/proposals/{pid}/edit", json={"lines": OTHER_RENT}).status_code == 200
    refused = client.post(f"/api/proposals/{pid}/approve", json={})
    assert refused.status_code == 403 and "segregation of duties" in refused.json()["detail"]
    assert store.get(pid).status == "needs_review"  # type: ignore[union-attr]
    assert [(d.user, d.action) for d in store.decisions(pid)] == [("alice", "edit")]


def test_an_editor_cannot_approve_their_own_edit_through_the_cli(
    store: ProposalStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LEDGERPILOT_BROKER_URL", raising=False)
    pid = save_proposal(store, "SOD-CLI")
    edited = [dict(line) for line in rent_lines()]
    edited[0]["description"] = "Office rent, March"
    store.edit(
        pid,
        user="alice",
        scheme={
            "document": "SOD-CLI",
            "kind": "supplier_invoice",
            "explanation": "e",
            "lines": edited,
        },
        violations=[],
    )
    result = CliRunner().invoke(
        cli, ["review", "approve", pid, "--user", "alice", "--store", store.url]
    )
    assert result.exit_code == 1, result.output
    assert "segregation of duties" in " ".join(result.output.split())
    assert store.get(pid).status == "needs_review"  # type: ignore[union-attr]
    assert [(d.user, d.action) for d in store.decisions(pid)] == [("alice", "edit")]


# ------------------------------------------------------------ SQL text and bound values

SQL_CALLS = frozenset({"text", "execute", "exec_driver_sql", "executemany", "literal_column"})
REVIEWED_SQL: dict[tuple[str, str], str] = {
    # (file under ledgerpilot/, enclosing function): why the built SQL text is safe
    ("connectors/bulk.py", "_insert"): "table and column names from our own SQLAlchemy "
    "metadata; the values are ? placeholders",
    ("connectors/database.py", "on_connect"): "PRAGMA values are module constants",
    ("connectors/database.py", "on_begin"): "foreign_keys ON or OFF from a bool",
    ("connectors/sqlite_writer.py", "*"): "table and column names from our own schema; the "
    "values are ? placeholders",
    ("connectors/mapping_sql.py", "*"): "SQL expressions are the mapping file's, the "
    "operator's trusted configuration (validated by mapping_format); values are bound",
    ("connectors/mapping_check.py", "*"): "probes the mapping file's own SQL expressions",
    ("connectors/mapping.py", "*"): "the mapping file's key expression; values are bound",
    ("review/models.py", "<module>"): "a CHECK constraint from the module's status constants",
    ("review/migrations/versions/0001_proposal_store.py", "upgrade"): "trigger DDL from "
    "module constants",
    ("review/migrations/versions/0002_users_and_queue.py", "upgrade"): "DDL and a one-off "
    "backfill from module constants and the dialect's name",
    ("review/migrations/versions/0003_audit_findings.py", "upgrade"): "trigger DDL from "
    "module constants",
}
"""Places that build SQL text on purpose, each with the reason it is safe."""


def _built(node: ast.AST) -> bool:
    """Whether an expression builds a string at run time (not a plain literal)."""
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(v, ast.FormattedValue) for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mod)):
        return True
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("format", "join")
    )


def _own_nodes(root: ast.AST) -> Iterator[ast.AST]:
    """The nodes of ``root``, not descending into the functions defined inside it."""
    for child in ast.iter_child_nodes(root):
        yield child
        if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            yield from _own_nodes(child)


def _scopes(tree: ast.Module) -> Iterator[tuple[str, list[ast.AST]]]:
    """(function name, its own nodes) for each function, and the module's own nodes."""
    yield "<module>", list(_own_nodes(tree))
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node.name, list(_own_nodes(node))


def built_sql(package: Path = PACKAGE) -> list[tuple[str, str, int, str]]:
    """Every place SQL text is built at run time: (file, function, line, the argument)."""
    found = []
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        where = path.relative_to(package).as_posix()
        for scope, nodes in _scopes(tree):
            assigned = {
                t.id
                for n in nodes
                if isinstance(n, ast.Assign) and _built(n.value)
                for t in n.targets
                if isinstance(t, ast.Name)
            }
            for node in nodes:
                if not isinstance(node, ast.Call) or not node.args:
                    continue
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                arg = node.args[0]
                if name in SQL_CALLS and (
                    _built(arg) or (isinstance(arg, ast.Name) and arg.id in assigned)
                ):
                    found.append((where, scope, node.lineno, ast.unparse(arg)[:80]))
    return found


def test_sql_is_built_only_with_bound_parameters_outside_the_reviewed_places() -> None:
    found = built_sql()
    assert found, "the check finds the reviewed places: it reads the source"
    unreviewed = [
        f"ledgerpilot/{where}:{line} in {scope}: {arg}"
        for where, scope, line, arg in found
        if (where, scope) not in REVIEWED_SQL and (where, "*") not in REVIEWED_SQL
    ]
    assert unreviewed == [], "SQL text built from values; bind them, or review and list it"
    used = {(w, s) for w, s, _, _ in found} | {(w, "*") for w, _, _, _ in found}
    assert set(REVIEWED_SQL) <= used, "a reviewed place no longer builds SQL: drop its entry"


def test_the_check_catches_an_f_string_passed_to_execute(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text(
        "def find(conn, name):\n"
        "    sql = f\"SELECT * FROM t WHERE name = '{name}'\"\n"
        "    conn.execute(text(sql))\n"
        "    conn.execute(text('SELECT * FROM t WHERE id = ' + name))\n"
        "    conn.exec_driver_sql('DELETE FROM t WHERE id = %s' % name)\n"
        "    conn.execute(text('SELECT * FROM t WHERE name = :name'), {'name': name})\n"
    )
    assert [(scope, line) for _, scope, line, _ in built_sql(tmp_path)] == [
        ("find", 3),
        ("find", 4),
        ("find", 5),
    ]


HOSTILE = "x'); DROP TABLE journal_lines; --"
ALWAYS_TRUE = "SI-3' OR '1'='1"


def _hostile_document(doc_id: str) -> Document:
    return rent_invoice(doc_id, "2024-03-06", description=HOSTILE, text=f"{ALWAYS_TRUE} {HOSTILE}")


@pytest.fixture
def mapped_company(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A reference AIS with a hostile document pending, and a mapping that filters on kind."""
    url = make_company(
        sqlite_url(tmp_path / "ais.sqlite"),
        [rent_invoice("SI-3", "2024-03-03"), _hostile_document(HOSTILE)],
    )
    mapping = tmp_path / "filtered.toml"
    shutil.copy(REFERENCE_MAPPING, mapping)
    source = mapping.read_text()
    # A filter of the mapping's own: the hostile values in the rows stay values.
    source = source.replace(
        '[documents]\ntable = "documents"\n',
        '[documents]\ntable = "documents"\nwhere = "kind <> \'other\'"\n',
    )
    mapping.write_text(source)
    yield url, mapping


def test_hostile_values_through_the_mappings_filters_are_bound_not_executed(
    mapped_company: tuple[str, Path],
) -> None:
    url, mapping = mapped_company
    with open_ais(url, mapping) as mapped:
        assert isinstance(mapped, MappedAIS)
        pending = {d.id for d in mapped.pending_documents()}
        assert pending == {"SI-3", HOSTILE}
        assert mapped.get_document(ALWAYS_TRUE) is None  # not "every document"
        assert mapped.get_document("' OR 1=1 --") is None
        found = mapped.get_document(HOSTILE)
        assert found is not None and found.lines[0].description == HOSTILE
        entry = JournalEntry.from_json(
            {"date": "2024-03-06", "description": HOSTILE, "lines": rent_lines()}, "EUR"
        )
        mapped.post_entry(HOSTILE, entry, key="k-hostile", posted_by=HOSTILE)
    with ReferenceAIS(url) as reference:
        posted = reference.get_document(HOSTILE)
        assert posted is not None and posted.entry is not None
        assert (posted.entry.description, posted.entry.posted_by) == (HOSTILE, HOSTILE)
        assert len(posted.entry.lines) == 3  # journal_lines is still there
        assert [d.id for d in reference.pending_documents()] == ["SI-3"]


# ------------------------------------------------------------ secrets


def test_placeholder_secrets_are_refused_with_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key in [k for k in os.environ if k.startswith("LEDGERPILOT_")]:
        monkeypatch.delenv(key)
    monkeypatch.chdir(ROOT / "tests")  # no .env here
    example = dict(
        line.split("=", 1)
        for line in (ROOT / ".env.example").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    placeholders = {k: v for k, v in example.items() if "change-me" in v}
    assert {"POSTGRES_PASSWORD", "REDIS_PASSWORD", "LEDGERPILOT_LLM_API_KEY"} <= set(placeholders)
    # As docker-compose.yml builds the settings from .env.example left as it is.
    composed = {
        "LEDGERPILOT_LLM_API_KEY": placeholders["LEDGERPILOT_LLM_API_KEY"],
        "LEDGERPILOT_STORE_URL": "postgresql+psycopg://ledgerpilot:"
        f"{placeholders['POSTGRES_PASSWORD']}@postgres:5432/ledgerpilot",
        "LEDGERPILOT_AIS_URL": "postgresql+psycopg://ledgerpilot:"
        f"{placeholders['POSTGRES_PASSWORD']}@postgres:5432/ais",
        "LEDGERPILOT_BROKER_URL": f"redis://:{placeholders['REDIS_PASSWORD']}@redis:6379/0",
        "LEDGERPILOT_RESULT_BACKEND": f"redis://:{placeholders['REDIS_PASSWORD']}@redis:6379/1",
    }
    for name, value in composed.items():
        with monkeypatch.context() as env:
            env.setenv(name, value)
            with pytest.raises(ValidationError, match=r"placeholder of \.env\.example") as refused:
                Settings()
            assert "change-me" not in str(refused.value).replace(".env.example", "")
    # Real secrets from the environment are taken.
    monkeypatch.setenv("LEDGERPILOT_LLM_API_KEY", "9f2c4e7a1b")
    monkeypatch.setenv("LEDGERPILOT_BROKER_URL", "redis://:5be1d0c3@redis:6379/0")
    settings = Settings()
    assert settings.llm_api_key == "9f2c4e7a1b"
    assert Settings(llm_api_key=None).llm_api_key is None  # no key at all is fine


def test_no_secret_is_written_into_the_code() -> None:
    credentials = re.compile(r"://[^/\s:@'\"]+:[^/\s@'\"{}]+@")
    offenders = [
        f"{path.relative_to(ROOT)}: {m.group(0)}"
        for path in PACKAGE.rglob("*.py")
        for m in credentials.finditer(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
    compose = (ROOT / "docker-compose.yml").read_text()
    # Every password in the compose file comes from the environment (.env), none inline.
    keys = re.compile(r"^\s*[A-Z_]*(PASSWORD|API_KEY|_AUTH)[A-Z_]*:\s*(\S+)", re.M)
    values = [m.group(2) for m in keys.finditer(compose)]
    assert len(values) >= 4
    for value in values:
        assert value.startswith("${"), value


# ------------------------------------------------------------ the append-only logs

APPEND_ONLY_TABLES = {
    "DecisionRow": "decisions",
    "AccessRow": "access_log",
    "AuditFollowUpRow": "audit_follow_ups",
}


def test_no_code_path_updates_or_deletes_a_logged_decision() -> None:
    offenders = []
    rows = set(APPEND_ONLY_TABLES)
    tables = "|".join(APPEND_ONLY_TABLES.values())
    raw = re.compile(rf"\b(UPDATE\s+({tables})\b|DELETE\s+FROM\s+({tables})\b)", re.I)
    for path in PACKAGE.rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        where = path.relative_to(ROOT).as_posix()
        if "migrations" not in where:
            offenders += [f"{where}: {m.group(0)}" for m in raw.finditer(source)]
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            named = {getattr(a, "id", "") for a in node.args}
            if name in ("update", "delete") and named & rows:
                offenders.append(f"{where}:{node.lineno}: {ast.unparse(node)[:60]}")
    assert offenders == []
    store_methods = [m for m in dir(ProposalStore) if re.match(r"(delete|remove|update|purge)", m)]
    assert store_methods == []


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "store.sqlite")
    return str(request.getfixturevalue("fresh_postgres_url"))


def test_the_database_refuses_to_rewrite_the_decision_and_access_logs(any_store_url: str) -> None:
    with ProposalStore.create(any_store_url) as logs:
        logs.add_user("ana", "approver", PASSWORD)
        pid = save_proposal(logs, "LOG-1")
        logs.reject(pid, user="ana", reason="a duplicate")
        logs.log_access(user="ana", method="GET", path="/queue", status_code=200, detail="")
        engine = create_engine(any_store_url)
        try:
            for table in ("decisions", "access_log"):
                for statement in (
                    f"UPDATE {table} SET user_name = 'mallory'",
                    f"DELETE FROM {table}",
                ):
                    with (
                        pytest.raises(exc.DBAPIError, match="append-only"),
                        engine.begin() as conn,
                    ):
                        conn.execute(text(statement))
        finally:
            engine.dispose()
        assert [(d.user, d.action) for d in logs.decisions(pid)] == [("ana", "reject")]
        assert [r.user for r in logs.access_log()] == ["ana"]
