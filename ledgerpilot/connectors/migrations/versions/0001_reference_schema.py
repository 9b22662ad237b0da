"""The reference AIS schema: accounts, partners, documents, journal entries.

Revision ID: 0001
Revises:
Create Date: 2025-01-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out here rather than imported from the models, so that this revision keeps
# creating the same tables whatever the models become later.
KEY = sa.String(200).with_variant(sa.String(200, collation="C"), "postgresql")


def money(precision: int = 20, scale: int = 4) -> sa.types.TypeEngine:
    """NUMERIC on PostgreSQL; canonical text on SQLite (whose NUMERIC goes through float)."""
    return sa.Numeric(precision, scale).with_variant(sa.Text(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("account_type", sa.String(64), nullable=False),
        sa.Column("postable", sa.Boolean(), nullable=False),
        sa.Column("role", sa.String(64), nullable=True),
        sa.Column("reconcile", sa.Boolean(), nullable=False),
        sa.Column("local_name", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_accounts"),
        sa.UniqueConstraint("code", name="uq_accounts_code"),
    )
    op.create_table(
        "partners",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_id", KEY, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("vat", sa.Text(), nullable=True),
        sa.Column("country", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_partners"),
        sa.UniqueConstraint("external_id", name="uq_partners_external_id"),
    )
    op.create_table(
        "documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_id", KEY, nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("number", sa.Text(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("total_net", money(), nullable=False),
        sa.Column("total_tax", money(), nullable=False),
        sa.Column("total_gross", money(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name="fk_documents_partner_id_partners"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_documents"),
        sa.UniqueConstraint("external_id", name="uq_documents_external_id"),
    )
    op.create_index("ix_documents_date", "documents", ["date", "external_id"])
    op.create_index("ix_documents_partner_id", "documents", ["partner_id", "kind"])
    op.create_index("ix_documents_kind", "documents", ["kind", "date"])
    op.create_table(
        "document_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("net", money(), nullable=False),
        sa.Column("tax_rate", money(9, 4), nullable=False),
        sa.Column("tax", money(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"], name="fk_document_lines_document_id_documents"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_document_lines"),
    )
    op.create_index(
        "ix_document_lines_document_id", "document_lines", ["document_id", "position"],
        unique=True,
    )
    op.create_table(
        "journal_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=True),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("posting_key", KEY, nullable=True),
        sa.Column("posted_by", sa.Text(), nullable=True),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"], name="fk_journal_entries_document_id_documents"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_journal_entries"),
        sa.UniqueConstraint("document_id", name="uq_journal_entries_document_id"),
        sa.UniqueConstraint("posting_key", name="uq_journal_entries_posting_key"),
    )
    op.create_index("ix_journal_entries_date", "journal_entries", ["date"])
    op.create_table(
        "journal_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("account_code", sa.String(64), nullable=False),
        sa.Column("debit", money(), nullable=False),
        sa.Column("credit", money(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_code"], ["accounts.code"], name="fk_journal_lines_account_code_accounts"
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["journal_entries.id"], name="fk_journal_lines_entry_id_journal_entries"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_journal_lines"),
    )
    op.create_index(
        "ix_journal_lines_entry_id", "journal_lines", ["entry_id", "position"], unique=True
    )
    op.create_index("ix_journal_lines_account_code", "journal_lines", ["account_code"])


def downgrade() -> None:
    for table in ("journal_lines", "journal_entries", "document_lines", "documents",
                  "partners", "accounts"):
        op.drop_table(table)
