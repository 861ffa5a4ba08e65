"""Themes, page templates and custom-domain verification.

``tenant_themes`` (a tenant's own theme values) and ``page_templates`` (every
published version of its tracking and embed templates) are tenant tables
like those of 0001: tenant_id leads their primary key, and on PostgreSQL
row-level security is enabled and forced. ``tenants.branding_version`` is
bumped by every change to either, and read with the tenant chain, so each
worker knows when its cached theme or compiled template is stale.
``tenants.pending_domain`` and ``domain_token`` hold a custom domain until
its TXT record is verified; only then does it become ``tenants.domain``.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 05:10:00.000000
"""

import sqlalchemy as sa
from alembic import op

TENANT_MATCH = "tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::integer"
NEW_TENANT_TABLES = ("tenant_themes", "page_templates")

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _tenant_fk(table):
    return sa.ForeignKeyConstraint(
        ["tenant_id"], ["tenants.id"], name=op.f(f"fk_{table}_tenant_id_tenants"),
        ondelete="CASCADE",
    )


def upgrade():
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("branding_version", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("pending_domain", sa.String(length=253), nullable=True))
        batch_op.add_column(sa.Column("domain_token", sa.String(length=64), nullable=True))
    op.create_table(
        "tenant_themes",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("settings", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        _tenant_fk("tenant_themes"),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_tenant_themes")),
    )
    op.create_table(
        "page_templates",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("restored_from", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("render_error", sa.String(length=500), nullable=True),
        sa.Column("render_error_at", sa.DateTime(timezone=True), nullable=True),
        _tenant_fk("page_templates"),
        sa.PrimaryKeyConstraint("tenant_id", "kind", "version", name=op.f("pk_page_templates")),
    )
    if op.get_bind().dialect.name == "postgresql":
        for table in NEW_TENANT_TABLES:
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            op.execute(
                f"CREATE POLICY tenant_isolation ON {table} "
                f"USING ({TENANT_MATCH}) WITH CHECK ({TENANT_MATCH})"
            )


def downgrade():
    for table in reversed(NEW_TENANT_TABLES):
        if op.get_bind().dialect.name == "postgresql":
            op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
        op.drop_table(table)
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.drop_column("domain_token")
        batch_op.drop_column("pending_domain")
        batch_op.drop_column("branding_version")
