"""what the remote reported of a sent reply (WhatsApp statuses)

Revision ID: 0007_outbox_remote_status
Revises: 0006_status_event_message
Create Date: 2026-12-07 18:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0007_outbox_remote_status'
down_revision: str | None = '0006_status_event_message'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                'remote_status',
                sqlmodel.sql.sqltypes.AutoString(length=16),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('remote_status')
