"""The Celery app, built from the settings: broker, result backend, delivery and schedules.

Production uses Redis (``LEDGERPILOT_BROKER_URL=redis://127.0.0.1:6379/0``). The embedded
default needs no server: kombu's SQLAlchemy transport on a SQLite file under ``data_dir``
as the broker (:mod:`.embedded`) and a SQLite result backend beside it, with real worker
processes all the same (never eager mode).

Delivery is at least once and every task is idempotent by state: a task is acknowledged
only when it has finished (``task_acks_late``), and put back when its worker process dies
(``task_reject_on_worker_lost``); each worker process reserves one message at a time. Only
JSON crosses the broker: tasks take ids, not objects.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from celery import Celery

from .embedded import transport_for

if TYPE_CHECKING:
    from ledgerpilot.config import Settings

QUEUE = "ledgerpilot"
"""The queue every task goes to."""
DRAFT_DOCUMENT = "ledgerpilot.draft_document"
DECIDE = "ledgerpilot.decide"
POLL_AIS = "ledgerpilot.poll_ais"
POST_APPROVED = "ledgerpilot.post_approved"
"""The tasks' names, as the broker carries them."""

SQLITE_BUSY_TIMEOUT_S = 30.0
"""How long the embedded broker waits for another process's write on its SQLite file."""


@dataclass(frozen=True)
class RetryPolicy:
    """How a task retries on a transient error: exponential backoff, then gives up.

    The n-th retry waits ``min(first_delay * 2**n, max_delay)`` seconds, with up to 20%
    more at random so that a crowd of retries spreads out. After ``max_retries`` a draft
    is quarantined with the last error as its reason; an approval stays approved for the
    :data:`POST_APPROVED` sweep.
    """

    max_retries: int = 5
    first_delay: float = 2.0
    max_delay: float = 300.0


@dataclass(frozen=True)
class Options:
    """What a worker process knows beside the settings (carried on the app)."""

    settings: Settings
    retry: RetryPolicy


class LedgerpilotCelery(Celery):
    """A Celery app that carries the settings it was built from, for its tasks."""

    options: Options


def broker_url(settings: Settings) -> str:
    """The broker: ``broker_url``, else the embedded SQLite broker under ``data_dir``."""
    return settings.default_broker_url()


def result_backend(settings: Settings) -> str:
    """The result backend: ``result_backend``, else a SQLite file under ``data_dir``."""
    return settings.default_result_backend()


def poll_seconds(settings: Settings) -> float:
    """How often beat polls the AIS and sweeps unposted approvals."""
    return float(settings.poll_seconds)


def create_app(settings: Settings, *, retry: RetryPolicy | None = None) -> LedgerpilotCelery:
    """The Celery app for ``settings``, with ledgerpilot's tasks and beat schedule."""
    from . import audit_task, tasks

    broker = broker_url(settings)
    embedded = transport_for(broker)
    app = LedgerpilotCelery(
        "ledgerpilot",
        broker=embedded[1] if embedded else broker,
        backend=result_backend(settings),
        set_as_current=False,
    )
    app.options = Options(settings, retry or RetryPolicy())
    every = poll_seconds(settings)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        broker_connection_retry_on_startup=True,
        # A pool process that died is given up for lost after this many seconds (default
        # 10) and its task put back; the tasks are idempotent, so sooner costs nothing.
        worker_lost_wait=2.0,
        task_default_queue=QUEUE,
        result_expires=dt.timedelta(days=1),
        timezone="UTC",
        enable_utc=True,
        beat_schedule={
            "poll-ais": {"task": POLL_AIS, "schedule": every},
            "post-approved": {"task": POST_APPROVED, "schedule": every},
        },
    )
    _prepare_sqlite(broker)
    if embedded:
        app.conf.broker_transport = embedded[0]
        # Passed to create_engine: wait for another process's write instead of failing.
        app.conf.broker_transport_options = {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S}}
    _prepare_sqlite(result_backend(settings))
    tasks.register(app)
    audit_task.register(app)
    return app


def run_worker(
    settings: Settings,
    concurrency: int = 2,
    queues: Sequence[str] = (QUEUE,),
    loglevel: str = "INFO",
    *,
    pool: str | None = None,
    hostname: str | None = None,
    retry: RetryPolicy | None = None,
) -> None:
    """Run a Celery worker in this process until it is stopped (``celery worker``).

    ``pool``: Celery's pool (``prefork`` by default; ``solo`` runs tasks in this process).
    On the embedded SQLite broker, which cannot broadcast, the worker runs without
    gossip, mingle and remote control.
    """
    app = create_app(settings, retry=retry)
    argv = [
        "worker",
        f"--concurrency={concurrency}",
        f"--loglevel={loglevel}",
        f"--queues={','.join(queues)}",
    ]
    if pool:
        argv.append(f"--pool={pool}")
    if hostname:
        argv.append(f"--hostname={hostname}")
    if transport_for(broker_url(settings)):
        argv += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    app.worker_main(argv)


def run_beat(settings: Settings, loglevel: str = "INFO") -> None:
    """Run Celery beat in this process: :data:`POLL_AIS` and :data:`POST_APPROVED`, each
    every ``poll_seconds``; its schedule file lives under ``data_dir``."""
    app = create_app(settings)
    schedule = settings.data_dir / "celerybeat-schedule"
    schedule.parent.mkdir(parents=True, exist_ok=True)
    app.Beat(loglevel=loglevel, schedule=str(schedule)).run()


def dispatch_decision(settings: Settings) -> Callable[[str, dict[str, Any]], None]:
    """A function that asks the workers to carry out a decision recorded in the store.

    It enqueues :data:`DECIDE` with the proposal's id and the decision; the broker's
    errors propagate (the decision stands in the store either way, and the
    :data:`POST_APPROVED` sweep posts an approval whose task never ran).
    """
    app = create_app(settings)

    def dispatch(proposal_id: str, decision: dict[str, Any]) -> None:
        app.send_task(DECIDE, args=(proposal_id, decision), queue=QUEUE)

    return dispatch


def _prepare_sqlite(url: str) -> None:
    """Make the folder of a SQLite file URL (``sqla+sqlite:///PATH``, ``db+sqlite:///PATH``)."""
    for prefix in ("sqla+", "sqlalchemy+", "db+"):
        url = url.removeprefix(prefix)
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
