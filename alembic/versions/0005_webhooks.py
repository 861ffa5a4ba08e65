"""Webhooks: endpoints, the delivery queue, attempts, and the trigger that
queues a delivery per subscribed endpoint as each tracker event is written.

The trigger runs inside the transaction that writes the event, so a change
and its deliveries commit or vanish together, at no round trip to the
request. Endpoints and attempts are tenant data (row-level security, forced);
the queue is read across tenants by workers (see docs/architecture.md).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TENANT_TABLES = ("webhook_endpoints", "webhook_attempts")
TENANT_MATCH = "tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::integer"
DELIVERY_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# The event a delivery reports: a step event marked with the update's action
# is its tracker.status_changed; tracker.created/completed are themselves.
KIND = "CASE WHEN NEW.action IS NOT NULL THEN 'tracker.status_changed' ELSE NEW.type END"
WHEN = "NEW.type IN ('tracker.created', 'tracker.completed') OR NEW.action IS NOT NULL"
QUEUE = f"""
    INSERT INTO webhook_deliveries (tenant_id, endpoint_id, tracker_id, seq, event_type, state,
                                    attempts, created_at, next_attempt_at, manual)
    SELECT NEW.tenant_id, e.id, NEW.tracker_id, NEW.seq, {KIND}, 'pending', 0,
           NEW.created_at, NEW.created_at, {{false}}
    FROM webhook_endpoints e
    WHERE e.tenant_id = NEW.tenant_id AND e.enabled
      AND {{contains}}(' ' || e.events || ' ', ' ' || {KIND} || ' ') > 0;
"""


def upgrade():
    op.add_column("tracker_events", sa.Column("action", sa.String(length=10), nullable=True))
    op.create_table(
        "webhook_endpoints",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("events", sa.String(length=200), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("previous_secret", sa.Text(), nullable=True),
        sa.Column("previous_secret_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled_reason", sa.String(length=200), nullable=True),
        sa.Column("owners_notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"],
                                name=op.f("fk_webhook_endpoints_tenant_id_tenants"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_webhook_endpoints")),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", DELIVERY_ID, autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("endpoint_id", sa.Integer(), nullable=False),
        sa.Column("tracker_id", sa.Integer(), nullable=True),
        sa.Column("seq", sa.Integer(), nullable=True),
        sa.Column("event_type", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claim_token", sa.String(length=32), nullable=True),
        sa.Column("manual", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "endpoint_id"], ["webhook_endpoints.tenant_id", "webhook_endpoints.id"],
            name=op.f("fk_webhook_deliveries_tenant_id_endpoint_id_webhook_endpoints"),
            ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"],
                                name=op.f("fk_webhook_deliveries_tenant_id_tenants"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
    )
    op.create_index("uq_webhook_deliveries_event", "webhook_deliveries",
                    ["tenant_id", "endpoint_id", "tracker_id", "seq"], unique=True)
    op.create_index("ix_webhook_deliveries_due", "webhook_deliveries", ["next_attempt_at"],
                    postgresql_where=sa.text("state = 'pending'"),
                    sqlite_where=sa.text("state = 'pending'"))
    op.create_index("ix_webhook_deliveries_finished", "webhook_deliveries", ["finished_at"])
    op.create_table(
        "webhook_attempts",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", DELIVERY_ID, nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("endpoint_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=40), nullable=False),
        sa.Column("event_type", sa.String(length=40), nullable=False),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("response_body", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "endpoint_id"], ["webhook_endpoints.tenant_id", "webhook_endpoints.id"],
            name=op.f("fk_webhook_attempts_tenant_id_endpoint_id_webhook_endpoints"),
            ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["delivery_id"], ["webhook_deliveries.id"],
            name=op.f("fk_webhook_attempts_delivery_id_webhook_deliveries"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"],
                                name=op.f("fk_webhook_attempts_tenant_id_tenants"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("tenant_id", "delivery_id", "number",
                                name=op.f("pk_webhook_attempts")),
    )
    op.create_index("ix_webhook_attempts_endpoint", "webhook_attempts",
                    ["tenant_id", "endpoint_id", "attempted_at"])

    if op.get_bind().dialect.name == "postgresql":
        for table in TENANT_TABLES:
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            op.execute(
                f"CREATE POLICY tenant_isolation ON {table} "
                f"USING ({TENANT_MATCH}) WITH CHECK ({TENANT_MATCH})"
            )
        # Runs as the writer of the event (no SECURITY DEFINER), so row-level
        # security limits it to the tenant the transaction is bound to.
        op.execute(
            "CREATE FUNCTION queue_webhook_deliveries() RETURNS trigger LANGUAGE plpgsql AS $$\n"
            "BEGIN" + QUEUE.format(false="false", contains="strpos") + "RETURN NULL;\nEND $$"
        )
        op.execute(
            "CREATE TRIGGER queue_webhook_deliveries AFTER INSERT ON tracker_events "
            f"FOR EACH ROW WHEN ({WHEN}) EXECUTE FUNCTION queue_webhook_deliveries()"
        )
    else:
        op.execute(
            "CREATE TRIGGER queue_webhook_deliveries AFTER INSERT ON tracker_events "
            f"FOR EACH ROW WHEN {WHEN} BEGIN" + QUEUE.format(false="0", contains="instr") + "END"
        )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS queue_webhook_deliveries ON tracker_events")
        op.execute("DROP FUNCTION IF EXISTS queue_webhook_deliveries()")
        for table in TENANT_TABLES:
            op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
    else:
        op.execute("DROP TRIGGER IF EXISTS queue_webhook_deliveries")
    op.drop_table("webhook_attempts")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_endpoints")
    with op.batch_alter_table("tracker_events") as batch_op:
        batch_op.drop_column("action")
