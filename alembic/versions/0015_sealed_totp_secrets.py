"""users.totp_secret holds a sealed secret (some 140 characters), not the
32 characters of the secret itself.

Secrets stored before are left as they are: the app reads one of 32
characters or fewer as the secret itself and seals it the next time it
passes a code (tracee.accounts.two_factor), which needs the keys the app
runs with; a migration may run without them.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 23:10:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users") as batch:
        batch.alter_column("totp_secret", type_=sa.Text(), existing_type=sa.String(length=32),
                           existing_nullable=True)


def downgrade():
    # A sealed secret does not fit the old column and cannot be unsealed here.
    sealed = op.get_bind().execute(
        sa.text("SELECT count(*) FROM users WHERE length(totp_secret) > 32")).scalar()
    if sealed:
        raise RuntimeError(f"{sealed} users have a sealed two-factor secret, which the "
                           "schema before 0015 cannot hold; turn their two-factor off first")
    with op.batch_alter_table("users") as batch:
        batch.alter_column("totp_secret", type_=sa.String(length=32), existing_type=sa.Text(),
                           existing_nullable=True)
