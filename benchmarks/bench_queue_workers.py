"""Benchmark: drafting an inbox into the queue end to end, through Redis, PostgreSQL and
two worker processes with the ``memory`` backend.

Target (issue 4): at least 50 documents a second drafted into the queue. A synthetic
company (``--years`` of history, ``--documents`` pending) goes into a new PostgreSQL AIS
database, a new store database beside it; ``ledgerpilot worker --concurrency 2`` (two
worker processes) runs on Redis; the clock starts when ``poll_ais`` is sent, as beat sends
it, and stops when every pending document has its proposal in the store. Prints one JSON
object per line::

    .venv/bin/python benchmarks/bench_queue_workers.py
    .venv/bin/python benchmarks/bench_queue_workers.py --documents 300 --years 1

The databases are made and dropped here; Redis database ``--redis-db`` (15 by default,
which the test suite does not use) is flushed before and after.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import redis

from ledgerpilot.config import Settings
from ledgerpilot.connectors import ReferenceAIS
from ledgerpilot.review import ProposalStore
from ledgerpilot.synth import SyntheticCompany, generate
from ledgerpilot.workers import POLL_AIS, create_app

TARGET_PER_SECOND = 50.0
START_SECONDS = 120.0


@contextlib.contextmanager
def database(server: str, prefix: str = "bench_workers") -> Iterator[str]:
    """A new PostgreSQL database on ``server`` (``user@host:port``), its name starting with
    ``prefix``; dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(f"postgresql://{server}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql+psycopg://{server}/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def worker(env: dict[str, str], concurrency: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``ledgerpilot worker`` in its own process group, once it is ready; stopped afterwards
    (SIGTERM, then SIGKILL after 30 seconds)."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "ledgerpilot.cli", "worker", "--concurrency", str(concurrency)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + START_SECONDS
        while " ready." not in log.read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the worker did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


def worker_env(data_dir: str, ais_url: str, store_url: str, broker: str) -> dict[str, str]:
    """This process's environment without its ``LEDGERPILOT_`` settings, plus those of a
    worker on ``broker`` that drafts with the ``memory`` backend from the AIS at ``ais_url``
    into the store at ``store_url``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGERPILOT_")}
    env.update(
        LEDGERPILOT_DATA_DIR=data_dir,
        LEDGERPILOT_AIS_URL=ais_url,
        LEDGERPILOT_STORE_URL=store_url,
        LEDGERPILOT_BROKER_URL=broker,
        LEDGERPILOT_RESULT_BACKEND=broker,
        LEDGERPILOT_BACKEND="memory",
    )
    return env


def load_company(
    company: SyntheticCompany, ais_url: str, store_url: str, pending: int
) -> dict[str, Any]:
    """Load ``company`` (chart, history, inbox of ``pending`` documents) into a new AIS at
    ``ais_url`` and make an empty store at ``store_url``; the ``company`` step's figures."""
    started = time.perf_counter()
    with ReferenceAIS.create(ais_url) as ais:
        history = ais.load(company.history(), chart=company.chart)
        ais.load(company.inbox)
    ProposalStore.create(store_url).close()
    return {
        "step": "company",
        "history": history.inserted,
        "pending": pending,
        "seconds": round(time.perf_counter() - started, 1),
    }


def add_company_options(
    parser: argparse.ArgumentParser, documents: int, years: int, concurrency_help: str
) -> None:
    """The options of the synthetic company and of the worker: ``--documents`` (pending, by
    default ``documents``), ``--years`` (of history, by default ``years``), ``--per-year``,
    ``--chart``, ``--seed``, ``--concurrency`` (its help ``concurrency_help``)."""
    parser.add_argument("--documents", type=int, default=documents, help="pending documents")
    parser.add_argument("--years", type=int, default=years, help="years of posted history")
    parser.add_argument("--per-year", type=int, default=2_500)
    parser.add_argument("--chart", default="hr")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--concurrency", type=int, default=2, help=concurrency_help)


def add_server_options(parser: argparse.ArgumentParser) -> None:
    """The options naming the PostgreSQL server and the Redis database."""
    parser.add_argument("--postgres", default="postgres@127.0.0.1:5432", help="user@host:port")
    parser.add_argument("--redis", default="127.0.0.1:6379", help="host:port")
    parser.add_argument("--redis-db", type=int, default=15)


def main() -> None:
    """Build the company, start the workers, draft the inbox through the queue; print figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_company_options(parser, documents=1_000, years=2, concurrency_help="worker processes")
    add_server_options(parser)
    args = parser.parse_args()

    broker = f"redis://{args.redis}/{args.redis_db}"
    queue_db = redis.Redis.from_url(broker)
    queue_db.flushdb()
    with (
        tempfile.TemporaryDirectory(prefix="bench-workers-") as tmp,
        database(args.postgres) as ais_url,
        database(args.postgres) as store_url,
    ):
        company = generate(
            args.chart,
            years=args.years,
            inbox=args.documents,
            seed=args.seed,
            per_year=args.per_year,
        )
        print(json.dumps(load_company(company, ais_url, store_url, args.documents)), flush=True)
        env = worker_env(tmp, ais_url, store_url, broker)
        settings = Settings(
            data_dir=Path(tmp),
            ais_url=ais_url,
            store_url=store_url,
            broker_url=broker,
            result_backend=broker,
        )
        log = Path(tmp) / "worker.log"
        with (
            worker(env, args.concurrency, log),
            ProposalStore(store_url) as store,
        ):
            app = create_app(settings)
            started = time.perf_counter()
            app.send_task(POLL_AIS)
            first_tenth = None
            while True:
                counts = store.counts()
                done = sum(counts.values())
                now = time.perf_counter()
                if first_tenth is None and done >= args.documents // 10:
                    first_tenth = (now, done)
                if done >= args.documents:
                    break
                if now - started > 600:
                    raise SystemExit(f"only {done} of {args.documents} drafted after 600 s")
                time.sleep(0.05)
            seconds = now - started
            app.close()
        # Celery logs each task's own run time: "... succeeded in 0.0123s: ..."
        runs = sorted(
            float(m)
            for m in re.findall(
                r"draft_document\[[^\]]+\] succeeded in ([0-9.]+)s", log.read_text(errors="replace")
            )
        )
        steady = None
        if first_tenth is not None and now > first_tenth[0]:
            steady = (done - first_tenth[1]) / (now - first_tenth[0])
        print(
            json.dumps(
                {
                    "step": "draft through the queue",
                    "documents": done,
                    "workers": args.concurrency,
                    "seconds": round(seconds, 2),
                    "documents_per_second": round(done / seconds, 1),
                    "after_the_first_tenth_per_second": None
                    if steady is None
                    else round(steady, 1),
                    "target_per_second": TARGET_PER_SECOND,
                    "task_median_ms": round(1000 * statistics.median(runs), 1) if runs else None,
                    "statuses": {k: v for k, v in counts.items() if v},
                }
            ),
            flush=True,
        )
    queue_db.flushdb()


if __name__ == "__main__":
    main()
