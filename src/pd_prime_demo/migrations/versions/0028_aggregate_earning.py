"""earned premium recognised in aggregate by product, state and day; the earning share as a SQL function

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-02 17:10:00.000000

``pd_earned_through(amount, start_on, end_on, basis, term_start, term_end, day)`` is the
earning rule of ``premium.earning.Earning.earned_through`` in SQL, to the cent: the share of a
piece earned through ``day`` (inclusive), by days or by the term's calendar months (whole months
counted with ``term_start + n * interval '1 month'``, which clamps like ``add_months``, the
partial month by its own days), as an exact ratio of integers rounded once, half away from zero
(``ROUND_HALF_UP``). Every function is ``LANGUAGE sql IMMUTABLE`` with a single expression, so
the planner inlines it into the query: no function call per row (plpgsql is ~10x slower).

The earning run then posts one journal per (product, state, accounting day) instead of one per
policy per day: ``earning_group_marks`` holds, per group, what the ledger has recognised and
through when (it replaces ``earning_marks``, one row per policy), and ``earning_postings``
names the group of every aggregate earning journal and of every earning reversal (an aggregate
journal has no policy).

An existing database stays consistent: the per-policy journals already posted stay on the
ledger as they are; each group's mark starts at what the ledger has credited to earned premium
for that group's policies (earning journals net of their reversals, the policies mapped to
their product and state by ``billing_accounts``) and at the latest day any of its policies was
earned through. The next run posts, per group, what the pieces say is earned less that amount,
so nothing is recognised twice and nothing is lost; a restatement reverses the per-policy
journals dated after its day too (each against its policy, winding its group's mark back).

Downgrade puts ``earning_marks`` back from the per-policy journals, and refuses when aggregate
journals exist (they cannot be split back into policies; restate to an earlier day first).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The helpers take a date clamped into the term where the rule clamps (``elapsed`` is 0 before
# the term and 1 after it). ``pd_month_days`` is the days of the term's months before a day,
# counting each whole month as ``pd_month_length`` days of the month the day falls in: the
# elapsed share times the term's months is ``pd_month_days / pd_month_length``.
FUNCTIONS = """
CREATE OR REPLACE FUNCTION pd_month_diff(from_on date, to_on date) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (date_part('year', to_on)::integer - date_part('year', from_on)::integer) * 12
         + date_part('month', to_on)::integer - date_part('month', from_on)::integer
$$;
CREATE OR REPLACE FUNCTION pd_add_months(start_on date, months integer) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (start_on + make_interval(months => months))::date
$$;
CREATE OR REPLACE FUNCTION pd_whole_months(term_start date, term_end date) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT pd_month_diff(term_start, term_end) > 0
       AND pd_add_months(term_start, pd_month_diff(term_start, term_end)) = term_end
$$;
CREATE OR REPLACE FUNCTION pd_months_done(term_start date, on_day date) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT pd_month_diff(term_start, on_day)
         - (pd_add_months(term_start, pd_month_diff(term_start, on_day)) > on_day)::integer
$$;
CREATE OR REPLACE FUNCTION pd_month_length(term_start date, term_end date, on_day date) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT pd_add_months(term_start, pd_months_done(term_start, greatest(term_start, least(on_day, term_end))) + 1)
         - pd_add_months(term_start, pd_months_done(term_start, greatest(term_start, least(on_day, term_end))))
$$;
CREATE OR REPLACE FUNCTION pd_month_days(term_start date, term_end date, on_day date) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT pd_months_done(term_start, greatest(term_start, least(on_day, term_end)))
             * pd_month_length(term_start, term_end, on_day)
         + (greatest(term_start, least(on_day, term_end))
            - pd_add_months(term_start, pd_months_done(term_start, greatest(term_start, least(on_day, term_end)))))
$$;
CREATE OR REPLACE FUNCTION pd_earned_through(
    amount numeric, start_on date, end_on date, basis text,
    term_start date, term_end date, day date
) RETURNS numeric LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN end_on <= start_on THEN CASE WHEN day >= start_on THEN amount ELSE 0 END
        WHEN day < start_on THEN 0
        WHEN day + 1 >= end_on THEN amount
        WHEN basis <> 'months' OR NOT pd_whole_months(term_start, term_end) THEN
            round(
                (amount * (greatest(term_start, least(day + 1, term_end))
                           - greatest(term_start, least(start_on, term_end))))::numeric(38, 18)
                / (greatest(term_start, least(end_on, term_end))
                   - greatest(term_start, least(start_on, term_end))),
                2)
        ELSE
            round(
                (amount
                 * (pd_month_days(term_start, term_end, day + 1) * pd_month_length(term_start, term_end, start_on)
                    - pd_month_days(term_start, term_end, start_on) * pd_month_length(term_start, term_end, day + 1))
                 * pd_month_length(term_start, term_end, end_on))::numeric(38, 18)
                / ((pd_month_days(term_start, term_end, end_on) * pd_month_length(term_start, term_end, start_on)
                    - pd_month_days(term_start, term_end, start_on) * pd_month_length(term_start, term_end, end_on))
                   * pd_month_length(term_start, term_end, day + 1)),
                2)
    END
$$;
"""

FUNCTION_NAMES = (
    "pd_earned_through(numeric, date, date, text, date, date, date)",
    "pd_month_days(date, date, date)",
    "pd_month_length(date, date, date)",
    "pd_months_done(date, date)",
    "pd_whole_months(date, date)",
    "pd_add_months(date, integer)",
    "pd_month_diff(date, date)",
)

EARNING_SOURCES = "('ledger.earning', 'ledger.earning_reversal')"

# Built from the constant above only: no input reaches these statements.
GROUP_MARKS = f"""
INSERT INTO earning_group_marks (product_code, state, earned_through, earned_posted)
SELECT m.product_code, m.state, m.earned_through, coalesce(p.earned, 0)
FROM (
    SELECT a.product_code, a.state, max(k.earned_through) AS earned_through
    FROM earning_marks k JOIN billing_accounts a ON a.policy_id = k.policy_id
    GROUP BY a.product_code, a.state
) m
LEFT JOIN (
    SELECT a.product_code, a.state, sum(l.credit - l.debit) AS earned
    FROM ledger_journal j
    JOIN ledger_lines l ON l.journal_id = j.id AND l.account = 'earned_premium'
    JOIN billing_accounts a ON a.policy_id = j.policy_id
    WHERE j.source IN {EARNING_SOURCES}
    GROUP BY a.product_code, a.state
) p ON p.product_code = m.product_code AND p.state = m.state
"""  # noqa: S608

POLICY_MARKS = f"""
INSERT INTO earning_marks (policy_id, earned_through, earned_posted)
SELECT j.policy_id, g.earned_through, sum(l.credit - l.debit)
FROM ledger_journal j
JOIN ledger_lines l ON l.journal_id = j.id AND l.account = 'earned_premium'
JOIN billing_accounts a ON a.policy_id = j.policy_id
JOIN earning_group_marks g ON g.product_code = a.product_code AND g.state = a.state
WHERE j.source IN {EARNING_SOURCES}
GROUP BY j.policy_id, g.earned_through
"""  # noqa: S608

GROUP_INCLUDE = ["amount", "start_on", "end_on", "basis", "term_start", "term_end"]


def upgrade() -> None:
    for function in FUNCTIONS.split("$$;")[:-1]:  # asyncpg takes one statement at a time
        op.execute(function + "$$")
    op.create_table(
        "earning_group_marks",
        sa.Column("product_code", sa.String(length=50), nullable=False),
        sa.Column("state", sa.String(length=2), nullable=False),
        sa.Column("earned_through", sa.Date(), nullable=False),
        sa.Column("earned_posted", sa.Numeric(precision=16, scale=2), nullable=False),
        sa.PrimaryKeyConstraint("product_code", "state", name=op.f("pk_earning_group_marks")),
    )
    op.create_table(
        "earning_postings",
        sa.Column("journal_id", sa.BigInteger(), nullable=False),
        sa.Column("product_code", sa.String(length=50), nullable=False),
        sa.Column("state", sa.String(length=2), nullable=False),
        sa.ForeignKeyConstraint(
            ["journal_id"],
            ["ledger_journal.id"],
            name=op.f("fk_earning_postings_journal_id_ledger_journal"),
        ),
        sa.PrimaryKeyConstraint("journal_id", name=op.f("pk_earning_postings")),
    )
    # A group's pieces through a day (the earning run, one group a chunk) and the distinct
    # groups (a loose index scan); covering, so a group is read from the index alone.
    op.create_index(
        "ix_premium_earnings_group",
        "premium_earnings",
        ["product_code", "state", "accounting_on"],
        postgresql_include=GROUP_INCLUDE,
    )
    op.execute(GROUP_MARKS)
    op.drop_table("earning_marks")


def downgrade() -> None:
    aggregate = op.get_bind().scalar(
        sa.text(
            "SELECT count(*) FROM ledger_journal WHERE source = 'ledger.earning' "
            "AND policy_id IS NULL"
        )
    )
    if aggregate:
        raise RuntimeError(
            f"{aggregate} aggregate earning journals cannot be split back into policies"
        )
    op.create_table(
        "earning_marks",
        sa.Column("policy_id", sa.UUID(), nullable=False),
        sa.Column("earned_through", sa.Date(), nullable=False),
        sa.Column("earned_posted", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.ForeignKeyConstraint(
            ["policy_id"], ["policies.id"], name=op.f("fk_earning_marks_policy_id_policies")
        ),
        sa.PrimaryKeyConstraint("policy_id", name=op.f("pk_earning_marks")),
    )
    op.execute(POLICY_MARKS)
    op.drop_index("ix_premium_earnings_group", table_name="premium_earnings")
    op.drop_table("earning_postings")
    op.drop_table("earning_group_marks")
    for name in FUNCTION_NAMES:
        op.execute(f"DROP FUNCTION IF EXISTS {name}")
