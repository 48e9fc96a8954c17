"""Alembic migrations: up from an empty database, matching the models, and down again, on
SQLite (batch mode) and PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
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
