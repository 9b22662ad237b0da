"""The proposal store: proposals and the append-only decision log.

Revision ID: 0001
Revises:
Create Date: 2025-01-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out here rather than taken from the models, so that this revision keeps creating
# the same tables whatever the models become later.
STATUSES = "'proposed', 'needs_review', 'quarantined', 'approved', 'rejected', 'posted'"
ACTIONS = "'approve', 'edit', 'reject', 'post', 'quarantine'"
JSON = sa.JSON().with_variant(JSONB(), "postgresql")
ACTIVE = sa.text("status NOT IN ('rejected')")
APPEND_ONLY = "the decision log is append-only"


def upgrade() -> None:
    op.create_table(
        "proposals",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("document_id", sa.String(200), nullable=False),
        sa.Column("document_kind", sa.String(64), nullable=False),
        sa.Column("partner_name", sa.Text(), nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("backend", sa.String(64), nullable=True),
        sa.Column("model", sa.Text(), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("scheme", JSON, nullable=True),
        sa.Column("violations", JSON, nullable=False),
        sa.Column("evidence", JSON, nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("thread_id", sa.Text(), nullable=True),
        sa.Column("ais_entry_id", sa.String(200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_proposals"),
        sa.CheckConstraint(f"status IN ({STATUSES})", name="ck_proposals_status"),
    )
    op.create_index(
        "uq_proposals_active_document",
        "proposals",
        ["document_id"],
        unique=True,
        sqlite_where=ACTIVE,
        postgresql_where=ACTIVE,
    )
    op.create_index("ix_proposals_document_id", "proposals", ["document_id", "created_at"])
    op.create_index("ix_proposals_status", "proposals", ["status", "created_at"])

    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("proposal_id", sa.String(32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_name", sa.Text(), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("before", JSON, nullable=True),
        sa.Column("after", JSON, nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("backend", sa.String(64), nullable=True),
        sa.Column("model", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_decisions"),
        sa.ForeignKeyConstraint(
            ["proposal_id"], ["proposals.id"], name="fk_decisions_proposal_id_proposals"
        ),
        sa.CheckConstraint(f"action IN ({ACTIONS})", name="ck_decisions_action"),
    )
    op.create_index("ix_decisions_proposal_id", "decisions", ["proposal_id", "id"])

    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION decisions_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{APPEND_ONLY}'; END $$"
        )
        op.execute(
            "CREATE TRIGGER decisions_append_only BEFORE UPDATE OR DELETE ON decisions "
            "FOR EACH ROW EXECUTE FUNCTION decisions_append_only()"
        )
        op.execute(
            "CREATE TRIGGER decisions_no_truncate BEFORE TRUNCATE ON decisions "
            "FOR EACH STATEMENT EXECUTE FUNCTION decisions_append_only()"
        )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER decisions_no_{event.lower()} BEFORE {event} ON decisions "
                f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS decisions_no_truncate ON decisions")
        op.execute("DROP TRIGGER IF EXISTS decisions_append_only ON decisions")
        op.execute("DROP FUNCTION IF EXISTS decisions_append_only()")
    op.drop_table("decisions")
    op.drop_table("proposals")
