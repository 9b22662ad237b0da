"""Celery app, tasks and schedules that run drafting, decisions and polling.

:func:`run_worker` and :func:`run_beat` run a worker or beat in this process (the
``ledgerpilot worker`` and ``ledgerpilot beat`` commands); :func:`dispatch_decision` gives
the web UI and the CLI a function that asks the workers to carry out a decision recorded
in the store. The tasks themselves are in :mod:`.tasks`.
"""

from .app import (
    DECIDE,
    DRAFT_DOCUMENT,
    POLL_AIS,
    POST_APPROVED,
    QUEUE,
    LedgerpilotCelery,
    RetryPolicy,
    create_app,
    dispatch_decision,
    run_beat,
    run_worker,
)

__all__ = [
    "DECIDE",
    "DRAFT_DOCUMENT",
    "POLL_AIS",
    "POST_APPROVED",
    "QUEUE",
    "LedgerpilotCelery",
    "RetryPolicy",
    "create_app",
    "dispatch_decision",
    "run_beat",
    "run_worker",
]
