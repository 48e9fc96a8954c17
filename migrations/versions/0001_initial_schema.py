"""Initial schema: supply groups and sealed vending keys, customers and meters (with their key
state), tariffs, vends and issued tokens, users, the audit log and the receipt counter.

Revision ID: 0001
Revises:
Create Date: 2026-11-28

Column types are spelled out rather than imported from the models, so this revision stays
as it is when the models change: exact decimals are NUMERIC(18, 5) on PostgreSQL and scaled
64-bit integers on SQLite (see vending/models/types.py); times are timezone-aware.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)
EXACT_DECIMAL = sa.Numeric(18, 5).with_variant(sa.BigInteger(), "sqlite")


def _enum(name: str, length: int, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=length)


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', UTC_DATETIME, nullable=False),
    sa.Column('actor', sa.String(length=80), nullable=False),
    sa.Column('action', sa.String(length=60), nullable=False),
    sa.Column('entity', sa.String(length=40), nullable=False),
    sa.Column('entity_id', sa.String(length=64), nullable=False),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_at'), ['at'], unique=False)

    op.create_table('counters',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_counters'))
    )
    op.create_table('customers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('address', sa.String(length=400), nullable=False),
    sa.Column('account', sa.String(length=64), nullable=False),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('created_at', UTC_DATETIME, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customers')),
    sa.UniqueConstraint('account', name=op.f('uq_customers_account'))
    )
    op.create_table('supply_groups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sgc', sa.String(length=6), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('current_krn', sa.Integer(), nullable=True),
    sa.Column('created_at', UTC_DATETIME, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supply_groups')),
    sa.UniqueConstraint('sgc', name=op.f('uq_supply_groups_sgc'))
    )
    op.create_table('tariffs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('document', sa.JSON(), nullable=False),
    sa.Column('created_at', UTC_DATETIME, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tariffs')),
    sa.UniqueConstraint('code', 'effective_from', name=op.f('uq_tariffs_code_effective_from'))
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=80), nullable=False),
    sa.Column('role', _enum('role', 16, 'admin', 'supervisor', 'clerk'), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', UTC_DATETIME, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('username', name=op.f('uq_users_username'))
    )
    op.create_table('meters',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meter_number', sa.String(length=13), nullable=False),
    sa.Column('pan', sa.String(length=18), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('supply_group_id', sa.Integer(), nullable=False),
    sa.Column('ti', sa.Integer(), nullable=False),
    sa.Column('krn', sa.Integer(), nullable=False),
    sa.Column('kt', sa.Integer(), nullable=False),
    sa.Column('ea', sa.String(length=2), nullable=False),
    sa.Column('dkga', sa.String(length=2), nullable=False),
    sa.Column('base_date', sa.Integer(), nullable=False),
    sa.Column('ken', sa.Integer(), nullable=False),
    sa.Column('status', _enum('meterstatus', 16, 'active', 'blocked'), nullable=False),
    sa.Column('tariff_code', sa.String(length=32), nullable=True),
    sa.Column('last_tid', sa.Integer(), nullable=False),
    sa.Column('created_at', UTC_DATETIME, nullable=False),
    sa.Column('updated_at', UTC_DATETIME, nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'],
        name=op.f('fk_meters_customer_id_customers')),
    sa.ForeignKeyConstraint(['supply_group_id'], ['supply_groups.id'],
        name=op.f('fk_meters_supply_group_id_supply_groups')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meters')),
    sa.UniqueConstraint('meter_number', name=op.f('uq_meters_meter_number')),
    sa.UniqueConstraint('pan', name=op.f('uq_meters_pan'))
    )
    op.create_table('vending_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('supply_group_id', sa.Integer(), nullable=False),
    sa.Column('krn', sa.Integer(), nullable=False),
    sa.Column('dkga', sa.String(length=2), nullable=False),
    sa.Column('base_date', sa.Integer(), nullable=False),
    sa.Column('ea', sa.String(length=2), nullable=False),
    sa.Column('kid', sa.String(length=40), nullable=False),
    sa.Column('nonce', sa.LargeBinary(length=12), nullable=False),
    sa.Column('ciphertext', sa.LargeBinary(length=64), nullable=False),
    sa.Column('created_at', UTC_DATETIME, nullable=False),
    sa.ForeignKeyConstraint(['supply_group_id'], ['supply_groups.id'],
        name=op.f('fk_vending_keys_supply_group_id_supply_groups')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vending_keys')),
    sa.UniqueConstraint('supply_group_id', 'krn', name=op.f('uq_vending_keys_supply_group_id_krn'))
    )
    op.create_table('vends',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', _enum('vendkind', 24, 'credit', 'engineering', 'key_change', 'rekey'),
              nullable=False),
    sa.Column('status', _enum('vendstatus', 24, 'issued', 'reversed'), nullable=False),
    sa.Column('meter_id', sa.Integer(), nullable=False),
    sa.Column('receipt_no', sa.BigInteger(), nullable=False),
    sa.Column('client_ref', sa.String(length=80), nullable=False),
    sa.Column('request_id', sa.String(length=80), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('actor', sa.String(length=80), nullable=False),
    sa.Column('amount', EXACT_DECIMAL, nullable=False),
    sa.Column('units_kwh', EXACT_DECIMAL, nullable=False),
    sa.Column('tariff_code', sa.String(length=32), nullable=True),
    sa.Column('tariff_version', sa.String(length=32), nullable=True),
    sa.Column('breakdown', sa.JSON(), nullable=False),
    sa.Column('remainder', EXACT_DECIMAL, nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('created_at', UTC_DATETIME, nullable=False),
    sa.Column('reversed_at', UTC_DATETIME, nullable=True),
    sa.Column('reversed_by', sa.String(length=80), nullable=True),
    sa.Column('reversal_reason', sa.String(length=400), nullable=True),
    sa.ForeignKeyConstraint(['meter_id'], ['meters.id'], name=op.f('fk_vends_meter_id_meters')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vends')),
    sa.UniqueConstraint('client_ref', 'request_id', name=op.f('uq_vends_client_ref_request_id')),
    sa.UniqueConstraint('receipt_no', name=op.f('uq_vends_receipt_no'))
    )
    with op.batch_alter_table('vends', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vends_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_vends_meter_id'), ['meter_id'], unique=False)

    op.create_table('issued_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('vend_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('meter_id', sa.Integer(), nullable=False),
    sa.Column('type', _enum('tokentype', 24, 'credit', 'key_change', 'clear_credit',
                            'clear_tamper', 'set_power_limit', 'set_phase_unbalance',
                            'meter_test'), nullable=False),
    sa.Column('token', sa.String(length=20), nullable=False),
    sa.Column('units_kwh', EXACT_DECIMAL, nullable=True),
    sa.Column('tid', sa.Integer(), nullable=True),
    sa.Column('krn', sa.Integer(), nullable=False),
    sa.Column('base_date', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['meter_id'], ['meters.id'],
        name=op.f('fk_issued_tokens_meter_id_meters')),
    sa.ForeignKeyConstraint(['vend_id'], ['vends.id'], name=op.f('fk_issued_tokens_vend_id_vends')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_issued_tokens')),
    sa.UniqueConstraint('meter_id', 'base_date', 'tid',
        name=op.f('uq_issued_tokens_meter_id_base_date_tid'))
    )
    with op.batch_alter_table('issued_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_issued_tokens_vend_id'), ['vend_id'], unique=False)

    # Receipt numbers: a sequence on PostgreSQL, a counter row elsewhere (SQLite).
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE SEQUENCE receipt_no_seq START WITH 1")
    counters = sa.table("counters", sa.column("name", sa.String),
                        sa.column("value", sa.BigInteger))
    op.bulk_insert(counters,
                   [{"name": "receipt_no", "value": 0}])


def downgrade() -> None:
    """Downgrade schema."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP SEQUENCE IF EXISTS receipt_no_seq")
    with op.batch_alter_table('issued_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_issued_tokens_vend_id'))

    op.drop_table('issued_tokens')
    with op.batch_alter_table('vends', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vends_meter_id'))
        batch_op.drop_index(batch_op.f('ix_vends_created_at'))

    op.drop_table('vends')
    op.drop_table('vending_keys')
    op.drop_table('meters')
    op.drop_table('users')
    op.drop_table('tariffs')
    op.drop_table('supply_groups')
    op.drop_table('customers')
    op.drop_table('counters')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_at'))

    op.drop_table('audit_log')
