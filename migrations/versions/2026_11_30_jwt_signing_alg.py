"""oauth apps: jwt_signing_alg

Revision ID: 7c2d9e41a0b3
Revises: f3bb0de6a256
Create Date: 2026-11-30 13:20:00.000000

Existing apps keep RS256, the algorithm their resource servers already verify.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7c2d9e41a0b3'
down_revision = 'f3bb0de6a256'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('oauth_apps', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('jwt_signing_alg', sa.String(length=8), server_default='RS256', nullable=False)
        )


def downgrade():
    with op.batch_alter_table('oauth_apps', schema=None) as batch_op:
        batch_op.drop_column('jwt_signing_alg')
