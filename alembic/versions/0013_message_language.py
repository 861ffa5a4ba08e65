"""The language a question was asked in, for the reply's mail.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 09:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("tracker_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=8), nullable=True))


def downgrade():
    with op.batch_alter_table("tracker_messages", schema=None) as batch_op:
        batch_op.drop_column("language")
