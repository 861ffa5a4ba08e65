"""Customer mail: subscriptions, the daily counts, the job queue and its trigger.

``mail_subscriptions`` (an address per tracker, deleted with its tracker)
and ``customer_mail_days`` (mails sent per tenant and day, for the daily
cap) are tenant tables: tenant_id leads their keys, and on PostgreSQL
row-level security is enabled and forced. ``customer_mail_jobs`` is a work
queue like ``webhook_deliveries``: workers claim from it across tenants,
and it holds no address or token.

A trigger on ``tracker_events`` queues news for a tracker with confirmed
subscribers in the change's own transaction, unless unclaimed news for it is
already waiting: a burst of changes becomes one job, which the worker sends
once ``tracee.customer_mail.quiet_seconds`` have passed since the first.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TENANT_TABLES = ("mail_subscriptions", "customer_mail_days")
TENANT_MATCH = "tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::integer"
JOB_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = ("NEW.type IN ('step.started', 'step.completed', 'step.reopened', 'step.reset', "
        "'tracker.completed')")
QUEUE = """
    INSERT INTO customer_mail_jobs (tenant_id, tracker_id, kind, state, attempts, created_at,
                                    next_attempt_at)
    SELECT NEW.tenant_id, NEW.tracker_id, 'update', 'pending', 0, NEW.created_at, NEW.created_at
    WHERE EXISTS (
        SELECT 1 FROM mail_subscriptions s
        WHERE s.tenant_id = NEW.tenant_id AND s.tracker_id = NEW.tracker_id
          AND s.confirmed_at IS NOT NULL)
      AND NOT EXISTS (
        SELECT 1 FROM customer_mail_jobs j
        WHERE j.tenant_id = NEW.tenant_id AND j.tracker_id = NEW.tracker_id
          AND j.kind = 'update' AND j.state = 'pending' AND j.claimed_until IS NULL);
"""


def _tracker_fk(table):
    return sa.ForeignKeyConstraint(
        ["tenant_id", "tracker_id"], ["trackers.tenant_id", "trackers.id"],
        name=op.f(f"fk_{table}_tenant_id_tracker_id_trackers"), ondelete="CASCADE")


def _tenant_fk(table):
    return sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"],
                                   name=op.f(f"fk_{table}_tenant_id_tenants"), ondelete="CASCADE")


def upgrade():
    op.create_table(
        "mail_subscriptions",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("tracker_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("notified_state", sa.String(length=64), nullable=True),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True),
        _tracker_fk("mail_subscriptions"),
        _tenant_fk("mail_subscriptions"),
        sa.PrimaryKeyConstraint("tenant_id", "tracker_id", "id",
                                name=op.f("pk_mail_subscriptions")),
        sa.UniqueConstraint("tenant_id", "tracker_id", "email",
                            name=op.f("uq_mail_subscriptions_tenant_id_tracker_id_email")),
        sa.UniqueConstraint("tenant_id", "tracker_id", "token",
                            name=op.f("uq_mail_subscriptions_tenant_id_tracker_id_token")),
    )
    op.create_table(
        "customer_mail_days",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("sent", sa.Integer(), nullable=False),
        sa.Column("deferred", sa.Integer(), nullable=False),
        _tenant_fk("customer_mail_days"),
        sa.PrimaryKeyConstraint("tenant_id", "day", name=op.f("pk_customer_mail_days")),
    )
    op.create_table(
        "customer_mail_jobs",
        sa.Column("id", JOB_ID, autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("tracker_id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claim_token", sa.String(length=32), nullable=True),
        sa.Column("note", sa.String(length=300), nullable=True),
        _tracker_fk("customer_mail_jobs"),
        _tenant_fk("customer_mail_jobs"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_mail_jobs")),
    )
    op.create_index("ix_customer_mail_jobs_tracker", "customer_mail_jobs",
                    ["tenant_id", "tracker_id"])
    op.create_index("ix_customer_mail_jobs_due", "customer_mail_jobs", ["next_attempt_at"],
                    postgresql_where=sa.text("state = 'pending'"),
                    sqlite_where=sa.text("state = 'pending'"))
    op.create_index("ix_customer_mail_jobs_finished", "customer_mail_jobs", ["finished_at"])

    if op.get_bind().dialect.name == "postgresql":
        for table in TENANT_TABLES:
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            op.execute(
                f"CREATE POLICY tenant_isolation ON {table} "
                f"USING ({TENANT_MATCH}) WITH CHECK ({TENANT_MATCH})"
            )
        # Runs as the writer of the event (no SECURITY DEFINER): row-level
        # security shows it the bound tenant's subscriptions only.
        op.execute(
            "CREATE FUNCTION queue_customer_mail() RETURNS trigger LANGUAGE plpgsql AS $$\n"
            "BEGIN" + QUEUE + "RETURN NULL;\nEND $$"
        )
        op.execute(
            "CREATE TRIGGER queue_customer_mail AFTER INSERT ON tracker_events "
            f"FOR EACH ROW WHEN ({WHEN}) EXECUTE FUNCTION queue_customer_mail()"
        )
    else:
        op.execute(
            "CREATE TRIGGER queue_customer_mail AFTER INSERT ON tracker_events "
            f"FOR EACH ROW WHEN {WHEN} BEGIN" + QUEUE + "END"
        )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS queue_customer_mail ON tracker_events")
        op.execute("DROP FUNCTION IF EXISTS queue_customer_mail()")
        for table in TENANT_TABLES:
            op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
    else:
        op.execute("DROP TRIGGER IF EXISTS queue_customer_mail")
    op.drop_table("customer_mail_jobs")
    op.drop_table("customer_mail_days")
    op.drop_table("mail_subscriptions")
