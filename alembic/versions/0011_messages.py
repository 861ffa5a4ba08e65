"""Questions from the tracking page, replies, and the queue of reply mails.

``tracker_messages`` is tenant data like ``tracker_events`` (tenant_id leads
its key, row-level security forced) and goes with its tracker.
``trackers.message_count`` numbers a tracker's messages and tells the page
whether there is a conversation to load. ``message_mails`` is a work queue
read across tenants by the worker, like ``webhook_deliveries``: it holds
ids only, never an address. The webhook trigger of 0005 now also queues
``tracker.message_received``.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TENANT_MATCH = "tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::integer"
MAIL_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# As in 0005, with the message event added to the events that queue deliveries.
KIND = "CASE WHEN NEW.action IS NOT NULL THEN 'tracker.status_changed' ELSE NEW.type END"
OLD_TYPES = "'tracker.created', 'tracker.completed'"
NEW_TYPES = "'tracker.created', 'tracker.completed', 'tracker.message_received'"
QUEUE = f"""
    INSERT INTO webhook_deliveries (tenant_id, endpoint_id, tracker_id, seq, event_type, state,
                                    attempts, created_at, next_attempt_at, manual)
    SELECT NEW.tenant_id, e.id, NEW.tracker_id, NEW.seq, {KIND}, 'pending', 0,
           NEW.created_at, NEW.created_at, {{false}}
    FROM webhook_endpoints e
    WHERE e.tenant_id = NEW.tenant_id AND e.enabled
      AND {{contains}}(' ' || e.events || ' ', ' ' || {KIND} || ' ') > 0;
"""


def _replace_trigger(types: str) -> None:
    when = f"NEW.type IN ({types}) OR NEW.action IS NOT NULL"
    if op.get_bind().dialect.name == "postgresql":
        # The function is unchanged; only the trigger's condition names the types.
        op.execute("DROP TRIGGER queue_webhook_deliveries ON tracker_events")
        op.execute(
            "CREATE TRIGGER queue_webhook_deliveries AFTER INSERT ON tracker_events "
            f"FOR EACH ROW WHEN ({when}) EXECUTE FUNCTION queue_webhook_deliveries()"
        )
    else:
        op.execute("DROP TRIGGER queue_webhook_deliveries")
        op.execute(
            "CREATE TRIGGER queue_webhook_deliveries AFTER INSERT ON tracker_events "
            f"FOR EACH ROW WHEN {when} BEGIN" + QUEUE.format(false="0", contains="instr") + "END"
        )


def upgrade():
    with op.batch_alter_table("trackers") as batch_op:
        batch_op.add_column(
            sa.Column("message_count", sa.Integer(), server_default="0", nullable=False))
    op.create_table(
        "tracker_messages",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("tracker_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("event_seq", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "tracker_id"], ["trackers.tenant_id", "trackers.id"],
            name=op.f("fk_tracker_messages_tenant_id_tracker_id_trackers"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"],
                                name=op.f("fk_tracker_messages_tenant_id_tenants"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("tenant_id", "tracker_id", "id", name=op.f("pk_tracker_messages")),
    )
    op.create_index("ix_tracker_messages_inbox", "tracker_messages",
                    ["tenant_id", "kind", "created_at"])
    op.create_table(
        "message_mails",
        sa.Column("id", MAIL_ID, autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("tracker_id", sa.Integer(), nullable=False),
        sa.Column("reply_id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claim_token", sa.String(length=32), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "tracker_id", "reply_id"],
            ["tracker_messages.tenant_id", "tracker_messages.tracker_id", "tracker_messages.id"],
            name=op.f("fk_message_mails_tenant_id_tracker_id_reply_id_tracker_messages"),
            ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"],
                                name=op.f("fk_message_mails_tenant_id_tenants"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_mails")),
    )
    op.create_index("ix_message_mails_due", "message_mails", ["next_attempt_at"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE tracker_messages ENABLE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE tracker_messages FORCE ROW LEVEL SECURITY")
        op.execute(
            "CREATE POLICY tenant_isolation ON tracker_messages "
            f"USING ({TENANT_MATCH}) WITH CHECK ({TENANT_MATCH})"
        )
    _replace_trigger(NEW_TYPES)


def downgrade():
    _replace_trigger(OLD_TYPES)
    op.execute("DELETE FROM webhook_deliveries WHERE event_type = 'tracker.message_received'")
    op.drop_table("message_mails")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP POLICY IF EXISTS tenant_isolation ON tracker_messages")
    op.drop_table("tracker_messages")
    with op.batch_alter_table("trackers") as batch_op:
        batch_op.drop_column("message_count")
