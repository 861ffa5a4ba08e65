"""Estimates: expected step durations, a promised ready date, the active step's due time.

``template_steps.expected_minutes`` is copied to ``tracker_steps`` when a
tracker is created (editing a template never changes trackers made from
it). ``trackers.ready_by`` is a date the business set or promised;
``trackers.step_due_at`` is when the step now under way (or next to start)
is expected to end, written with every change, so the dashboard's "late"
filter is one indexed comparison rather than arithmetic over every step.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 07:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("template_steps", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expected_minutes", sa.Integer(), nullable=True))
    with op.batch_alter_table("tracker_steps", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expected_minutes", sa.Integer(), nullable=True))
    with op.batch_alter_table("trackers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ready_by", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("step_due_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_trackers_tenant_step_due", ["tenant_id", "step_due_at"],
                              unique=False)


def downgrade():
    with op.batch_alter_table("trackers", schema=None) as batch_op:
        batch_op.drop_index("ix_trackers_tenant_step_due")
        batch_op.drop_column("step_due_at")
        batch_op.drop_column("ready_by")
    with op.batch_alter_table("tracker_steps", schema=None) as batch_op:
        batch_op.drop_column("expected_minutes")
    with op.batch_alter_table("template_steps", schema=None) as batch_op:
        batch_op.drop_column("expected_minutes")
