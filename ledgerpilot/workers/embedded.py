"""The embedded broker: kombu's SQLAlchemy transport on a SQLite file, polled briskly.

kombu's transport looks for new messages once a second, and a worker process that has its
one message in hand does not look again until the next poll: about one task a second per
process. This transport is the same but polls every :data:`POLL_SECONDS`, a cheap query on
a local file. The broker URL stays ``sqla+sqlite:///PATH``; :func:`transport_for` gives
Celery the transport and the bare SQLAlchemy URL to hand it.
"""

from __future__ import annotations

from kombu.transport import sqlalchemy

POLL_SECONDS = 0.1
"""How often a worker looks for new messages on the embedded broker."""
PREFIXES = ("sqla+", "sqlalchemy+")


class Transport(sqlalchemy.Transport):
    """kombu's SQLAlchemy transport, polling every :data:`POLL_SECONDS`."""

    polling_interval = POLL_SECONDS


def transport_for(broker_url: str) -> tuple[str, str] | None:
    """``(transport class path, SQLAlchemy URL)`` for an embedded broker URL, else ``None``."""
    for prefix in PREFIXES:
        if broker_url.startswith(prefix):
            return f"{__name__}:Transport", broker_url.removeprefix(prefix)
    return None
