"""An index on tenants.parent_id: an agency's clients are looked up by it.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 19:30:00.000000
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(op.f("ix_tenants_parent_id"), "tenants", ["parent_id"])


def downgrade():
    op.drop_index(op.f("ix_tenants_parent_id"), table_name="tenants")
