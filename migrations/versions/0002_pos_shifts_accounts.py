"""POS web UI: till shifts and the POS side of operator accounts (language, login lockout).

Revision ID: 0002_pos
Revises: api0001
Create Date: 2026-11-28

Column types are spelled out (as in 0001) so this revision does not move with the models.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_pos"
down_revision: str | Sequence[str] | None = "api0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)
EXACT_DECIMAL = sa.Numeric(18, 5).with_variant(sa.BigInteger(), "sqlite")


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "shifts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.Enum("open", "closed", name="shiftstatus", native_enum=False,
                                    length=16), nullable=False),
        sa.Column("opening_float", EXACT_DECIMAL, nullable=False),
        sa.Column("opened_at", UTC_DATETIME, nullable=False),
        sa.Column("closed_at", UTC_DATETIME, nullable=True),
        sa.Column("counted", sa.JSON(), nullable=True),
        sa.Column("report", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_shifts_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shifts")),
    )
    with op.batch_alter_table("shifts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_shifts_user_id"), ["user_id"], unique=False)
        batch_op.create_index("uq_shifts_one_open_per_user", ["user_id"], unique=True,
                              sqlite_where=sa.text("status = 'open'"),
                              postgresql_where=sa.text("status = 'open'"))
    op.create_table(
        "pos_accounts",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", UTC_DATETIME, nullable=True),
        sa.Column("last_login_at", UTC_DATETIME, nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_pos_accounts_user_id_users")),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_pos_accounts")),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("pos_accounts")
    with op.batch_alter_table("shifts", schema=None) as batch_op:
        batch_op.drop_index("uq_shifts_one_open_per_user")
        batch_op.drop_index(batch_op.f("ix_shifts_user_id"))
    op.drop_table("shifts")
