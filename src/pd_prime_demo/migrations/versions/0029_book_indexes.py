"""the indexes the book-wide jobs, reports and list pages need

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-02 17:10:00.000000

Each index serves one query named beside it; tests/integration/test_query_plans.py checks on a
generated book that the query's plan uses it (and reads no big table whole). The sweeps' indexes
are partial on the rows still to do (open quotes, offered renewals, installments not yet
invoiced), so they stay the size of the day's work, not of the book.

They are built CONCURRENTLY (outside the migration's transaction), so migrating a live book
does not block its writes for the minutes a build over millions of rows takes. A build that
failed half-way leaves an INVALID index behind: it is dropped and built again on the next run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import sqlalchemy as sa
from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# A NamedTuple, not a dataclass: Alembic loads this file outside sys.modules.
class _Index(NamedTuple):
    name: str
    table: str
    columns: tuple[str, ...]
    where: str | None = None


OPEN_QUOTES = "status IN ('approved', 'draft', 'quoted', 'referred')"

INDEXES = (
    # Quote expiry (quotes.service.read.expire_due): open quotes past their validity.
    _Index("ix_quotes_open_expires_on", "quotes", ("expires_on", "id"), OPEN_QUOTES),
    # Renewal lapses (policies.service.renew.lapse_due): offers still open after their term.
    _Index(
        "ix_policy_renewals_offered", "policy_renewals", ("term_start", "id"), "status = 'offered'"
    ),
    # Renewal offers (policies.service.renew.offer_due): terms ending within the lead time.
    _Index("ix_policy_transactions_term_end", "policy_transactions", ("term_end", "policy_id")),
    # The billing run's invoices (billing.service.invoicing.invoice_due): installments due
    # within the lead time and not yet invoiced nor cancelled.
    _Index(
        "ix_installments_to_invoice",
        "installments",
        ("due_on", "id"),
        "invoice_number IS NULL AND cancelled_on IS NULL",
    ),
    # GET /account/sessions: a user's live sessions, newest first, a page at a time.
    _Index("ix_auth_sessions_user_created", "auth_sessions", ("user_id", "created_at", "id")),
    # GET /users and GET /api-clients: keyset pages on (created_at, id).
    _Index("ix_users_created_at_id", "users", ("created_at", "id")),
    _Index("ix_api_clients_created_at_id", "api_clients", ("created_at", "id")),
    # GET /claims/diary (everyone's open tasks by due date).
    _Index("ix_claim_diary_open_due", "claim_diary", ("due_on", "id"), "status = 'open'"),
)

# Superseded: (user_id, created_at, id) serves every lookup by user_id.
REPLACED = (_Index("ix_auth_sessions_user_id", "auth_sessions", ("user_id",)),)


def _drop_invalid(name: str) -> None:
    invalid = op.get_bind().scalar(
        sa.text(
            "SELECT NOT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE c.relname = :name"
        ),
        {"name": name},
    )
    if invalid:
        op.drop_index(name, postgresql_concurrently=True)


def _create(index: _Index) -> None:
    _drop_invalid(index.name)
    op.create_index(
        index.name,
        index.table,
        list(index.columns),
        postgresql_where=sa.text(index.where) if index.where else None,
        postgresql_concurrently=True,
        if_not_exists=True,
    )


def upgrade() -> None:
    with op.get_context().autocommit_block():
        for index in INDEXES:
            _create(index)
        for index in REPLACED:
            op.drop_index(index.name, postgresql_concurrently=True, if_exists=True)


def downgrade() -> None:
    with op.get_context().autocommit_block():
        for index in REPLACED:
            _create(index)
        for index in reversed(INDEXES):
            op.drop_index(index.name, postgresql_concurrently=True, if_exists=True)
