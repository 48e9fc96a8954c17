"""Bank vend API: API clients (hashed keys, scopes, vendor credit, rate-limit bucket) and
meter readings (unique per meter and time).

Revision ID: api0001
Revises: 0001
Create Date: 2026-11-28

Column types are spelled out (see 0001): exact decimals are NUMERIC(18, 5) on PostgreSQL and
scaled 64-bit integers on SQLite; times are timezone-aware.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "api0001"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)
EXACT_DECIMAL = sa.Numeric(18, 5).with_variant(sa.BigInteger(), "sqlite")


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "api_clients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("key_prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.String(length=120), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("vendor_credit", EXACT_DECIMAL, nullable=True),
        sa.Column("rate_per_s", sa.Float(), nullable=True),
        sa.Column("burst", sa.Integer(), nullable=True),
        sa.Column("bucket_level", sa.Float(), nullable=False),
        sa.Column("bucket_at", sa.Float(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_clients")),
        sa.UniqueConstraint("name", name=op.f("uq_api_clients_name")),
        sa.UniqueConstraint("key_prefix", name=op.f("uq_api_clients_key_prefix")),
    )
    op.create_table(
        "meter_readings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meter_id", sa.Integer(), nullable=False),
        sa.Column("at", UTC_DATETIME, nullable=False),
        sa.Column("energy_kwh", EXACT_DECIMAL, nullable=False),
        sa.Column("client_ref", sa.String(length=80), nullable=False),
        sa.Column("received_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(["meter_id"], ["meters.id"],
                                name=op.f("fk_meter_readings_meter_id_meters")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meter_readings")),
        sa.UniqueConstraint("meter_id", "at", name=op.f("uq_meter_readings_meter_id_at")),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("meter_readings")
    op.drop_table("api_clients")
