"""Alembic migrations: up from an empty database, matching the models, and down again, on
SQLite (batch mode) and PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from vending_fixtures import (
    alembic_downgrade,
    alembic_upgrade,
    pg_create_database,
    pg_drop_database,
)

from vending.models import Base


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrate.db'}"
        return
    admin = os.environ.get("TEST_POSTGRES_URL",
                           "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    url = pg_create_database(admin, f"stsvend_m_{os.getpid()}")
    yield url
    pg_drop_database(admin, url)


def test_migrations_up_and_down(empty_url: str) -> None:
    engine = create_engine(empty_url)
    try:
        alembic_upgrade(empty_url)
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            assert set(Base.metadata.tables) <= tables
            # the schema the migrations build is the schema the models describe
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
            assert conn.execute(text("SELECT value FROM counters WHERE name = 'receipt_no'")
                                ).scalar_one() == 0
            if engine.dialect.name == "postgresql":
                assert conn.execute(text("SELECT nextval('receipt_no_seq')")).scalar_one() == 1
        alembic_downgrade(empty_url)
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
            if engine.dialect.name == "postgresql":
                assert conn.execute(text(
                    "SELECT count(*) FROM pg_class WHERE relname = 'receipt_no_seq'")
                ).scalar_one() == 0
        alembic_upgrade(empty_url)  # and up again from the downgraded database
        with engine.connect() as conn:
            assert set(Base.metadata.tables) <= set(inspect(conn).get_table_names())
    finally:
        engine.dispose()


def test_meter_carry_is_filled_from_each_meters_latest_issued_credit_vend(
        empty_url: str) -> None:
    """vend0001 moves the carry onto the meter row: a meter that vended before the upgrade
    keeps spending what its latest issued credit vend left over (not a reversed one's, not an
    engineering issue's), and one that never vended starts at zero."""
    engine = create_engine(empty_url)
    sqlite = engine.dialect.name == "sqlite"

    def money(text_value: str) -> object:  # an exact decimal as that database stores it
        return int(Decimal(text_value).scaleb(5)) if sqlite else Decimal(text_value)

    try:
        alembic_upgrade(empty_url, "tariff0001")
        with engine.begin() as conn:
            t = "2026-03-01 10:00:00"
            conn.execute(text("INSERT INTO supply_groups (id, sgc, name, current_krn, "
                              "created_at) VALUES (1, '123456', 'sg', 1, :t)"), {"t": t})
            conn.execute(text("INSERT INTO customers (id, name, address, account, created_at) "
                              "VALUES (1, 'c', 'a', 'acc', :t)"), {"t": t})
            for meter_id in (1, 2):
                conn.execute(text(
                    "INSERT INTO meters (id, meter_number, pan, customer_id, supply_group_id, "
                    "ti, krn, kt, ea, dkga, base_date, ken, status, last_tid, created_at, "
                    "updated_at) VALUES (:id, :n, :p, 1, 1, 1, 1, 2, '07', '04', 2014, 255, "
                    "'active', 0, :t, :t)"),
                    {"id": meter_id, "n": f"0700000000{meter_id}", "p": f"60072{meter_id}",
                     "t": t})
            vends = [  # (id, kind, status, created_at, remainder) on meter 1
                (1, "credit", "issued", "2026-03-01 10:00:00", "0.11"),
                (2, "credit", "issued", "2026-03-02 10:00:00", "0.22"),  # the carry
                (3, "credit", "reversed", "2026-03-03 10:00:00", "0.33"),
                (4, "engineering", "issued", "2026-03-04 10:00:00", "0"),
            ]
            for vend_id, kind, status, at, remainder in vends:
                conn.execute(text(
                    "INSERT INTO vends (id, kind, status, meter_id, receipt_no, client_ref, "
                    "request_id, request_hash, actor, amount, units_kwh, breakdown, remainder, "
                    "details, created_at) VALUES (:id, :kind, :status, 1, :id, 'cli:x', :rid, "
                    "'h', 'cli:x', :amount, :amount, '[]', :remainder, '{}', :at)"),
                    {"id": vend_id, "kind": kind, "status": status, "rid": f"r{vend_id}",
                     "amount": money("10"), "remainder": money(remainder), "at": at})
        alembic_upgrade(empty_url)
        with engine.connect() as conn:
            carry = dict(conn.execute(text("SELECT id, carried_credit FROM meters")).all())
        assert {k: Decimal(v) / (10**5 if sqlite else 1) for k, v in carry.items()} == {
            1: Decimal("0.22"), 2: Decimal(0)}
    finally:
        engine.dispose()
