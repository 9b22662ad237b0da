"""Users, sessions, API tokens, the access log and claims; the queue's order on proposals.

Revision ID: 0002
Revises: 0001
Create Date: 2026-05-10 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out here rather than taken from the models, so that this revision keeps creating
# the same tables whatever the models become later.
ROLES = "'clerk', 'approver', 'auditor', 'admin'"
JSON = sa.JSON().with_variant(JSONB(), "postgresql")
APPEND_ONLY = "the access log is append-only"
# The queue's order as one number, as models.attention_of computes it for new writes:
# status rank, then 999 - violations, then 0 for no confidence or 1 + confidence * 10^6.
RANK = (
    "CASE status WHEN 'quarantined' THEN 0 WHEN 'needs_review' THEN 1 WHEN 'proposed' THEN 2 "
    "WHEN 'approved' THEN 3 ELSE 4 END"
)
SURE = (
    "CASE WHEN confidence IS NULL THEN 0 "
    "ELSE 1 + CAST(ROUND(MIN_(MAX_(confidence, 0.0), 1.0) * 1000000) AS BIGINT) END"
)


def upgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"

    op.add_column("proposals", sa.Column("document", JSON, nullable=True))
    op.add_column(
        "proposals", sa.Column("edited", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.add_column(
        "proposals",
        sa.Column("violation_count", sa.Integer(), nullable=False, server_default="0"),
    )
    op.add_column(
        "proposals", sa.Column("attention", sa.BigInteger(), nullable=False, server_default="0")
    )
    # Proposals stored before this revision get their sort keys and edited flag.
    length = "jsonb_array_length(violations)" if postgres else "json_array_length(violations)"
    least, greatest = ("LEAST", "GREATEST") if postgres else ("MIN", "MAX")
    sure = SURE.replace("MIN_", least).replace("MAX_", greatest)
    op.execute(f"UPDATE proposals SET violation_count = {length}")
    op.execute(
        f"UPDATE proposals SET attention = CAST({RANK} AS BIGINT) * 10000000000 "
        f"+ CAST(999 - {least}(violation_count, 999) AS BIGINT) * 10000000 + {sure}"
    )
    op.execute(
        "UPDATE proposals SET edited = "
        + ("TRUE" if postgres else "1")
        + " WHERE EXISTS (SELECT 1 FROM decisions WHERE decisions.proposal_id = proposals.id "
        "AND decisions.action = 'edit')"
    )
    op.create_index("ix_proposals_attention", "proposals", ["attention", "created_at", "id"])
    op.create_index(
        "ix_proposals_status_attention",
        "proposals",
        ["status", "attention", "created_at", "id"],
    )
    op.create_index(
        "ix_proposals_kind_attention",
        "proposals",
        ["document_kind", "attention", "created_at", "id"],
    )
    op.create_index("ix_proposals_created_at", "proposals", ["created_at", "id"])

    op.create_table(
        "users",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_users"),
        sa.CheckConstraint(f"role IN ({ROLES})", name=op.f("ck_users_role")),
    )
    op.create_table(
        "sessions",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user_name", sa.String(64), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name="pk_sessions"),
        sa.ForeignKeyConstraint(["user_name"], ["users.name"], name="fk_sessions_user_name_users"),
    )
    op.create_index("ix_sessions_user_name", "sessions", ["user_name"])
    op.create_index("ix_sessions_expires_at", "sessions", ["expires_at"])
    op.create_table(
        "api_tokens",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user_name", sa.String(64), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("token_hash", name="pk_api_tokens"),
        sa.ForeignKeyConstraint(
            ["user_name"], ["users.name"], name="fk_api_tokens_user_name_users"
        ),
    )
    op.create_index("ix_api_tokens_user_name", "api_tokens", ["user_name"])
    op.create_table(
        "access_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_name", sa.Text(), nullable=True),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_access_log"),
    )
    op.create_table(
        "claims",
        sa.Column("document_id", sa.String(200), nullable=False),
        sa.Column("claimed_by", sa.Text(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("document_id", name="pk_claims"),
    )

    if postgres:
        op.execute(
            "CREATE FUNCTION access_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{APPEND_ONLY}'; END $$"
        )
        op.execute(
            "CREATE TRIGGER access_log_append_only BEFORE UPDATE OR DELETE ON access_log "
            "FOR EACH ROW EXECUTE FUNCTION access_log_append_only()"
        )
        op.execute(
            "CREATE TRIGGER access_log_no_truncate BEFORE TRUNCATE ON access_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION access_log_append_only()"
        )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER access_log_no_{event.lower()} BEFORE {event} ON access_log "
                f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS access_log_no_truncate ON access_log")
        op.execute("DROP TRIGGER IF EXISTS access_log_append_only ON access_log")
        op.execute("DROP FUNCTION IF EXISTS access_log_append_only()")
    for table in ("claims", "access_log", "api_tokens", "sessions", "users"):
        op.drop_table(table)
    for index in (
        "ix_proposals_created_at",
        "ix_proposals_kind_attention",
        "ix_proposals_status_attention",
        "ix_proposals_attention",
    ):
        op.drop_index(index, table_name="proposals")
    for column in ("attention", "violation_count", "edited", "document"):
        op.drop_column("proposals", column)
