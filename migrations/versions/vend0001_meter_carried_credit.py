"""The meter row keeps its carry: the remainder of its latest issued credit vend (energy money
smaller than 0.1 kWh that the next vend spends first).

Before, every vend read it back from ``vends`` with a query of its own. Kept on the meter row,
which each vend already locks and updates, it costs nothing extra, and it is read in the same
locked statement, so a vend that waited for the lock sees the carry its predecessor left.
Reversals recompute it from ``vends``.

Revision ID: vend0001
Revises: tariff0001
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "vend0001"
down_revision: str | Sequence[str] | None = "tariff0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EXACT_DECIMAL = sa.Numeric(18, 5).with_variant(sa.BigInteger(), "sqlite")


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("meters", schema=None) as batch_op:
        batch_op.add_column(sa.Column("carried_credit", EXACT_DECIMAL, nullable=False,
                                      server_default="0"))
    # The carry of every meter that already vended: the same value on both databases, as
    # vends.remainder and meters.carried_credit share one column type.
    op.execute(
        "UPDATE meters SET carried_credit = COALESCE(("
        " SELECT v.remainder FROM vends v"
        " WHERE v.meter_id = meters.id AND v.kind = 'credit' AND v.status = 'issued'"
        " ORDER BY v.created_at DESC, v.id DESC LIMIT 1), 0)"
    )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("meters", schema=None) as batch_op:
        batch_op.drop_column("carried_credit")
