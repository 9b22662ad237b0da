"""Alembic environment of the reference AIS schema.

Run through :func:`ledgerpilot.connectors.migrations.upgrade`, which hands over an open
connection in ``config.attributes["connection"]``; no ``alembic.ini`` is involved.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from ledgerpilot.connectors.migrations import VERSION_TABLE
from ledgerpilot.connectors.schema import metadata


def run_migrations() -> None:
    """Run the migrations on the connection (or URL) that the caller configured."""
    config = context.config
    connection = config.attributes.get("connection")
    if connection is None:
        url = config.get_main_option("sqlalchemy.url")
        if not url:
            raise RuntimeError("no connection and no sqlalchemy.url to migrate")
        engine = create_engine(url)
        with engine.begin() as conn:
            _configure_and_run(conn)
        engine.dispose()
    else:
        _configure_and_run(connection)


def _configure_and_run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",  # type: ignore[attr-defined]
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("the reference AIS migrations run online only")
run_migrations()
