"""outbox: the agency system's ticket number and its status read back

Revision ID: 0003_agency_ticket
Revises: 0002_routing_model
Create Date: 2026-12-07 18:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0003_agency_ticket"
down_revision: str | None = "0002_routing_model"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("agency_ticket", sa.String(256), nullable=True))
        batch_op.add_column(sa.Column("agency_status", sa.String(256), nullable=True))
        batch_op.add_column(
            sa.Column(
                "agency_checked_at",
                storage.types.UTCDateTime(timezone=True),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("agency_status_error", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("agency_status_error")
        batch_op.drop_column("agency_checked_at")
        batch_op.drop_column("agency_status")
        batch_op.drop_column("agency_ticket")
