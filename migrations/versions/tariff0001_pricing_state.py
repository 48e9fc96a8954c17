"""Tariff engine in the server: per-vend pricing (block counter, carry), fixed-charge
collections, customer debts and their payments, free basic electricity issues, and the
customer's tariff category.

Revision ID: tariff0001
Revises: 0002_pos
Create Date: 2026-11-28

Column types are spelled out (see 0001): exact decimals are NUMERIC(18, 5) on PostgreSQL and
scaled 64-bit integers on SQLite; times are timezone-aware.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "tariff0001"
down_revision: str | Sequence[str] | None = "0002_pos"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)
EXACT_DECIMAL = sa.Numeric(18, 5).with_variant(sa.BigInteger(), "sqlite")


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("category", sa.String(length=32), nullable=True))

    op.create_table(
        "vend_pricing",
        sa.Column("vend_id", sa.Integer(), nullable=False),
        sa.Column("meter_id", sa.Integer(), nullable=False),
        sa.Column("tariff_code", sa.String(length=32), nullable=False),
        sa.Column("tariff_version", sa.String(length=32), nullable=False),
        sa.Column("block_period_key", sa.String(length=16), nullable=True),
        sa.Column("energy_kwh", EXACT_DECIMAL, nullable=False),
        sa.Column("carried_in", EXACT_DECIMAL, nullable=False),
        sa.Column("remainder", EXACT_DECIMAL, nullable=False),
        sa.Column("amount", EXACT_DECIMAL, nullable=False),
        sa.Column("total", EXACT_DECIMAL, nullable=False),
        sa.Column("tax", EXACT_DECIMAL, nullable=False),
        sa.Column("fbe_kwh", EXACT_DECIMAL, nullable=False),
        sa.ForeignKeyConstraint(["meter_id"], ["meters.id"],
                                name=op.f("fk_vend_pricing_meter_id_meters")),
        sa.ForeignKeyConstraint(["vend_id"], ["vends.id"],
                                name=op.f("fk_vend_pricing_vend_id_vends")),
        sa.PrimaryKeyConstraint("vend_id", name=op.f("pk_vend_pricing")),
    )
    with op.batch_alter_table("vend_pricing", schema=None) as batch_op:
        batch_op.create_index("ix_vend_pricing_meter_period", ["meter_id", "block_period_key"],
                              unique=False)

    op.create_table(
        "charge_collections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meter_id", sa.Integer(), nullable=False),
        sa.Column("collected_key", sa.String(length=80), nullable=False),
        sa.Column("vend_id", sa.Integer(), nullable=False),
        sa.Column("amount", EXACT_DECIMAL, nullable=False),
        sa.ForeignKeyConstraint(["meter_id"], ["meters.id"],
                                name=op.f("fk_charge_collections_meter_id_meters")),
        sa.ForeignKeyConstraint(["vend_id"], ["vends.id"],
                                name=op.f("fk_charge_collections_vend_id_vends")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charge_collections")),
        sa.UniqueConstraint("meter_id", "collected_key",
                            name=op.f("uq_charge_collections_meter_id_collected_key")),
    )
    with op.batch_alter_table("charge_collections", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_charge_collections_vend_id"), ["vend_id"],
                              unique=False)

    op.create_table(
        "debts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("original", EXACT_DECIMAL, nullable=False),
        sa.Column("balance", EXACT_DECIMAL, nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.CheckConstraint("balance >= 0", name=op.f("ck_debts_balance_not_negative")),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                name=op.f("fk_debts_customer_id_customers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_debts")),
    )
    with op.batch_alter_table("debts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_debts_customer_id"), ["customer_id"], unique=False)

    op.create_table(
        "debt_payments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("vend_id", sa.Integer(), nullable=False),
        sa.Column("debt_id", sa.Integer(), nullable=False),
        sa.Column("amount", EXACT_DECIMAL, nullable=False),
        sa.ForeignKeyConstraint(["debt_id"], ["debts.id"],
                                name=op.f("fk_debt_payments_debt_id_debts")),
        sa.ForeignKeyConstraint(["vend_id"], ["vends.id"],
                                name=op.f("fk_debt_payments_vend_id_vends")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_debt_payments")),
    )
    with op.batch_alter_table("debt_payments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_debt_payments_debt_id"), ["debt_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_debt_payments_vend_id"), ["vend_id"], unique=False)

    op.create_table(
        "fbe_issues",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meter_id", sa.Integer(), nullable=False),
        sa.Column("period_key", sa.String(length=16), nullable=False),
        sa.Column("vend_id", sa.Integer(), nullable=False),
        sa.Column("kwh", EXACT_DECIMAL, nullable=False),
        sa.ForeignKeyConstraint(["meter_id"], ["meters.id"],
                                name=op.f("fk_fbe_issues_meter_id_meters")),
        sa.ForeignKeyConstraint(["vend_id"], ["vends.id"],
                                name=op.f("fk_fbe_issues_vend_id_vends")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fbe_issues")),
        sa.UniqueConstraint("meter_id", "period_key",
                            name=op.f("uq_fbe_issues_meter_id_period_key")),
    )
    with op.batch_alter_table("fbe_issues", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fbe_issues_vend_id"), ["vend_id"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("fbe_issues", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fbe_issues_vend_id"))
    op.drop_table("fbe_issues")
    with op.batch_alter_table("debt_payments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_debt_payments_vend_id"))
        batch_op.drop_index(batch_op.f("ix_debt_payments_debt_id"))
    op.drop_table("debt_payments")
    with op.batch_alter_table("debts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_debts_customer_id"))
    op.drop_table("debts")
    with op.batch_alter_table("charge_collections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_charge_collections_vend_id"))
    op.drop_table("charge_collections")
    with op.batch_alter_table("vend_pricing", schema=None) as batch_op:
        batch_op.drop_index("ix_vend_pricing_meter_period")
    op.drop_table("vend_pricing")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("category")
