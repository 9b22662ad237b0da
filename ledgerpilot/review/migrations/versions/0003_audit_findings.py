"""Audit runs, their findings and reasons, and the auditors' append-only follow-ups.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out here rather than taken from the models, so that this revision keeps creating
# the same tables whatever the models become later.
SOURCES = "'command', 'nightly'"
FOLLOW_UP_STATUSES = "'explained', 'needs_follow_up', 'cleared'"
JSON = sa.JSON().with_variant(JSONB(), "postgresql")
AMOUNT = sa.Numeric(20, 4).with_variant(sa.Text(), "sqlite")
APPEND_ONLY = "the audit follow-ups are append-only"


def upgrade() -> None:
    op.create_table(
        "audit_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("ais", sa.Text(), nullable=False),
        sa.Column("period_from", sa.Date(), nullable=True),
        sa.Column("period_to", sa.Date(), nullable=True),
        sa.Column("entries_scanned", sa.Integer(), nullable=False),
        sa.Column("finding_count", sa.Integer(), nullable=False),
        sa.Column("checks", JSON, nullable=False),
        sa.Column("report_dir", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_runs"),
        sa.CheckConstraint(f"source IN ({SOURCES})", name="ck_audit_runs_source"),
    )
    op.create_index("ix_audit_runs_created_at", "audit_runs", ["created_at", "id"])
    op.create_table(
        "audit_findings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.String(200), nullable=False),
        sa.Column("document_id", sa.String(200), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("amount", AMOUNT, nullable=False),
        sa.Column("partner", sa.Text(), nullable=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("posted_by", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("entry", JSON, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_findings"),
        sa.ForeignKeyConstraint(
            ["run_id"], ["audit_runs.id"], name="fk_audit_findings_run_id_audit_runs"
        ),
    )
    op.create_index("ix_audit_findings_run_id", "audit_findings", ["run_id", "rank"])
    op.create_index("ix_audit_findings_entry_id", "audit_findings", ["entry_id"])
    op.create_table(
        "audit_reasons",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("finding_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("check_name", sa.String(64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_reasons"),
        sa.ForeignKeyConstraint(
            ["finding_id"],
            ["audit_findings.id"],
            name="fk_audit_reasons_finding_id_audit_findings",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["audit_runs.id"], name="fk_audit_reasons_run_id_audit_runs"
        ),
    )
    op.create_index("ix_audit_reasons_finding_id", "audit_reasons", ["finding_id", "position"])
    op.create_index(
        "ix_audit_reasons_run_id", "audit_reasons", ["run_id", "check_name", "finding_id"]
    )
    op.create_table(
        "audit_follow_ups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("finding_id", sa.Integer(), nullable=False),
        sa.Column("ais", sa.Text(), nullable=False),
        sa.Column("entry_id", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_name", sa.Text(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_follow_ups"),
        sa.ForeignKeyConstraint(
            ["finding_id"],
            ["audit_findings.id"],
            name="fk_audit_follow_ups_finding_id_audit_findings",
        ),
        sa.CheckConstraint(f"status IN ({FOLLOW_UP_STATUSES})", name="ck_audit_follow_ups_status"),
    )
    op.create_index("ix_audit_follow_ups_entry_id", "audit_follow_ups", ["entry_id", "id"])
    op.create_index("ix_audit_follow_ups_finding_id", "audit_follow_ups", ["finding_id", "id"])

    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION audit_follow_ups_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{APPEND_ONLY}'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_follow_ups_append_only BEFORE UPDATE OR DELETE "
            "ON audit_follow_ups FOR EACH ROW EXECUTE FUNCTION audit_follow_ups_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_follow_ups_no_truncate BEFORE TRUNCATE ON audit_follow_ups "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_follow_ups_append_only()"
        )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_follow_ups_no_{event.lower()} BEFORE {event} "
                f"ON audit_follow_ups BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_follow_ups_no_truncate ON audit_follow_ups")
        op.execute("DROP TRIGGER IF EXISTS audit_follow_ups_append_only ON audit_follow_ups")
        op.execute("DROP FUNCTION IF EXISTS audit_follow_ups_append_only()")
    for table in ("audit_follow_ups", "audit_reasons", "audit_findings", "audit_runs"):
        op.drop_table(table)
