"""Images tenants upload (logos, favicons), kept in the database by content hash.

``tenant_assets`` is a tenant table like those of 0006: tenant_id leads its
key, and on PostgreSQL row-level security is enabled and forced.
``asset_links`` is a directory like ``tracking_links``: an asset's public
address (``/assets/<sha256>.<ext>``) names no tenant, so the link is read
first and binds the tenant whose row is then served.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 07:50:00.000000
"""

import sqlalchemy as sa
from alembic import op

TENANT_MATCH = "tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::integer"

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "tenant_assets",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=40), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_tenant_assets_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "sha256", name=op.f("pk_tenant_assets")),
    )
    op.create_table(
        "asset_links",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "sha256"], ["tenant_assets.tenant_id", "tenant_assets.sha256"],
            name=op.f("fk_asset_links_tenant_id_sha256_tenant_assets"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("sha256", "tenant_id", name=op.f("pk_asset_links")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE tenant_assets ENABLE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE tenant_assets FORCE ROW LEVEL SECURITY")
        op.execute(
            "CREATE POLICY tenant_isolation ON tenant_assets "
            f"USING ({TENANT_MATCH}) WITH CHECK ({TENANT_MATCH})"
        )


def downgrade():
    op.drop_table("asset_links")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP POLICY IF EXISTS tenant_isolation ON tenant_assets")
    op.drop_table("tenant_assets")
