"""Who published each page template version.

``page_templates.published_by`` is the actor as the audit trail of trackers
records it (``key:<id>`` for an API key, the person's email from the
dashboard); NULL for versions published before it was kept.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 07:50:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("page_templates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("published_by", sa.String(length=100), nullable=True))


def downgrade():
    with op.batch_alter_table("page_templates", schema=None) as batch_op:
        batch_op.drop_column("published_by")
