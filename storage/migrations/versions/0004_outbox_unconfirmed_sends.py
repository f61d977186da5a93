"""outbox: sends begun and not yet confirmed, so a message cut off by two
crashes is not sent a third time

Revision ID: 0004_outbox_unconfirmed_sends
Revises: 0003_agency_ticket
Create Date: 2026-12-07 18:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_outbox_unconfirmed_sends"
down_revision: str | None = "0003_agency_ticket"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "unconfirmed_sends",
                sa.Integer(),
                nullable=False,
                server_default=sa.text("0"),
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("unconfirmed_sends")
