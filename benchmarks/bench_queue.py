"""Benchmark: the review queue page with 10,000 pending proposals, on SQLite and PostgreSQL.

Target (issue 4): the queue page answers in under 300 ms of server time, paginated. The
store is filled with ``--proposals`` drafted proposals (the inbox of a synthetic company,
saved as drafting saves them: mostly proposed, some needing review with violations, a few
quarantined), the web UI runs in its own process under uvicorn (``--serve`` below), and a
signed-in client asks for the queue page with several filters and pages, ``--requests``
times each, over HTTP on 127.0.0.1. Prints one JSON object per line (milliseconds)::

    .venv/bin/python benchmarks/bench_queue.py                  # SQLite, then PostgreSQL
    .venv/bin/python benchmarks/bench_queue.py --no-postgres --proposals 2000

PostgreSQL is the server at ``--postgres`` (a new database is made and dropped); it is
skipped, saying why, when the server cannot be reached.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx

from ledgerpilot.agent.state import DraftOutcome
from ledgerpilot.connectors import ReferenceAIS
from ledgerpilot.ledger import Document, Violation
from ledgerpilot.review import ProposalStore
from ledgerpilot.review.web.auth import SESSION_COOKIE
from ledgerpilot.synth import generate

TARGET_MS = 300.0
CASES: tuple[tuple[str, dict[str, str]], ...] = (
    ("first page, attention order", {}),
    ("page 100", {"page": "100"}),
    ("needs review", {"status": "needs_review"}),
    ("supplier invoices, confidence >= 0.9", {"kind": "supplier_invoice", "min_confidence": "0.9"}),
    ("with violations", {"violations": "with"}),
    ("partner contains 'd.o.o.'", {"partner": "d.o.o."}),
    ("search a document number", {"q": "{search}"}),
    ("200 rows a page", {"per_page": "200"}),
)
"""The queue pages asked for: (what, query string); ``{search}`` is a document number less
its last digit, so that about ten documents match."""


def _outcome(document: Document, truth: Document, rng: random.Random) -> DraftOutcome:
    """A drafted proposal for ``document`` as drafting saves it, with a plausible status."""
    assert truth.entry is not None
    lines = [line.to_json(document.currency) for line in truth.entry.lines]
    roll = rng.random()
    violations: tuple[Violation, ...] = ()
    if roll < 0.03:
        status, confidence = "quarantined", None
        lines = []
    elif roll < 0.25:
        status, confidence = "needs_review", round(rng.uniform(0.2, 0.8), 3)
        if roll < 0.12:
            violations = (Violation("unbalanced", "debits and credits differ by 0.01", None),)
    else:
        status, confidence = "proposed", round(rng.uniform(0.8, 1.0), 3)
    return DraftOutcome(
        document.id,
        status,
        backend="memory",
        model="memory:bench",
        confidence=confidence,
        scheme={
            "document": document.id,
            "kind": document.kind,
            "explanation": "as posted before",
            "lines": lines,
        }
        if lines
        else None,
        violations=violations,
        evidence=("H-1", "H-2", "H-3"),
        note="benchmark",
        document_kind=document.kind,
        partner_name=document.partner.name if document.partner else None,
        document=document.to_json(),
    )


def fill(store_url: str, ais_url: str, proposals: int, seed: int) -> tuple[float, str]:
    """A chart in the AIS and ``proposals`` drafted proposals in a new store; the seconds
    taken and a search term that matches about ten of them."""
    # per_year as large as the inbox keeps the inbox's dates within a year, as in life
    company = generate("hr", years=1, inbox=proposals, seed=seed, per_year=proposals)
    truth = {d.id: d for d in company.truth}
    rng = random.Random(seed)
    started = time.perf_counter()
    with ReferenceAIS.create(ais_url) as ais:
        ais.save_chart(company.chart)
    with ProposalStore.create(store_url) as store:
        for document in company.inbox:
            store.save_draft(_outcome(document, truth[document.id], rng))
        store.add_user("bench", "approver", "benchmark password")
    return time.perf_counter() - started, company.inbox[len(company.inbox) // 2].id[:-1]


def serve(store_url: str, ais_url: str, port: int) -> None:
    """Run the review app over the store on 127.0.0.1:``port`` (no workers)."""
    import uvicorn

    from ledgerpilot.review.web import create_app

    app = create_app(ProposalStore(store_url), ReferenceAIS(ais_url), None, secure_cookies=False)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


@contextlib.contextmanager
def running_app(store_url: str, ais_url: str) -> Iterator[str]:
    """The app in a process of its own; its base URL while it runs."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", store_url, ais_url, str(port)],
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/login", timeout=1)
                break
            except httpx.TransportError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the web app did not start") from None
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def measure(store_url: str, ais_url: str, backend: str, requests: int, search: str) -> None:
    """Time each case of :data:`CASES` against the running app; print a line per case."""
    with ProposalStore(store_url) as store:
        token, _ = store.create_session("bench", dt.timedelta(hours=1))
    with running_app(store_url, ais_url) as url, httpx.Client(base_url=url) as client:
        client.cookies.set(SESSION_COOKIE, token)
        for name, template in CASES:
            params = {k: v.format(search=search) for k, v in template.items()}
            timings = []
            for n in range(requests + 3):
                started = time.perf_counter()
                response = client.get("/queue", params=params)
                elapsed = (time.perf_counter() - started) * 1000
                if response.status_code != 200:
                    raise SystemExit(f"{name}: HTTP {response.status_code}")
                if n >= 3:  # the first few warm the app's caches and connections
                    timings.append(elapsed)
            rows = response.text.count('<a href="/proposals/')
            timings.sort()
            p95 = timings[max(0, round(0.95 * len(timings)) - 1)]
            print(
                json.dumps(
                    {
                        "store": backend,
                        "page": name,
                        "rows": rows,
                        "median_ms": round(statistics.median(timings), 1),
                        "p95_ms": round(p95, 1),
                        "target_ms": TARGET_MS,
                        "requests": len(timings),
                    }
                ),
                flush=True,
            )


@contextlib.contextmanager
def postgres_database(server: str) -> Iterator[str | None]:
    """A new database on ``server`` (``user@host:port``), dropped afterwards; ``None`` (and
    a line saying why) when the server cannot be reached."""
    import psycopg

    name = f"bench_queue_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(
            f"postgresql://{server}/postgres", autocommit=True, connect_timeout=3
        )
    except psycopg.OperationalError as exc:
        print(json.dumps({"store": "postgresql", "skipped": f"no server at {server}: {exc}"}))
        yield None
        return
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql+psycopg://{server}/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    """Fill a store per database and time the queue page; print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proposals", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=50, help="timed requests per page")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--postgres", default="postgres@127.0.0.1:5432", help="user@host:port")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument(
        "--serve", nargs=3, metavar=("STORE", "AIS", "PORT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], args.serve[1], int(args.serve[2]))
        return

    with tempfile.TemporaryDirectory(prefix="bench-queue-") as tmp:
        ais_url = f"sqlite:///{Path(tmp) / 'ais.sqlite'}"
        sqlite_store = f"sqlite:///{Path(tmp) / 'store.sqlite'}"
        stores: list[tuple[str, contextlib.AbstractContextManager[str | None]]] = [
            ("sqlite", contextlib.nullcontext(sqlite_store))
        ]
        if not args.no_postgres:
            stores.append(("postgresql", postgres_database(args.postgres)))
        for backend, database in stores:
            with database as store_url:
                if store_url is None:
                    continue
                seconds, search = fill(store_url, ais_url, args.proposals, args.seed)
                print(
                    json.dumps(
                        {
                            "store": backend,
                            "step": "fill",
                            "proposals": args.proposals,
                            "seconds": round(seconds, 1),
                        }
                    ),
                    flush=True,
                )
                measure(store_url, ais_url, backend, args.requests, search)
                Path(ais_url.removeprefix("sqlite:///")).unlink(missing_ok=True)


if __name__ == "__main__":
    main()
