"""Alembic environment of the proposal store.

Run through :func:`ledgerpilot.review.migrations.upgrade`, which hands over an open
connection in ``config.attributes["connection"]``; no ``alembic.ini`` is involved.
"""

from __future__ import annotations

from typing import Any

from alembic import context

from ledgerpilot.review.migrations import TABLES, VERSION_TABLE
from ledgerpilot.review.models import metadata


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Only the store's own tables: the database may hold checkpoints or an AIS as well."""
    return type_ != "table" or name in TABLES


def run_migrations() -> None:
    """Run the migrations on the connection the caller configured."""
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("the store's migrations run on a connection given by upgrade()")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        include_name=include_name,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("the proposal store's migrations run online only")
run_migrations()
