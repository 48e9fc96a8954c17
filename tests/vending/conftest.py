"""Fixtures of the vending server tests: every database test runs on SQLite *and*
PostgreSQL, each test isolated in a SAVEPOINT of an outer transaction that is rolled back
(SQLAlchemy's "join an external transaction" recipe).

PostgreSQL: a fresh database ``stsvend_t_<pid>`` is created through ``TEST_POSTGRES_URL``
for the session and dropped at the end, so parallel runs never collide. An unreachable server
is a loud failure, never a skip.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from vending_fixtures import (
    BACKENDS,
    TestWorld,
    engine_for,
    migrated_postgres,
    migrated_sqlite,
)

from vending.services import ServiceContext


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session."""
    yield from migrated_postgres("stsvend_t")


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return migrated_sqlite(tmp_path_factory, "db")


@pytest.fixture(scope="session", params=BACKENDS)
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    yield from engine_for(request, "sqlite_url", "postgres_url")


@pytest.fixture
def world(ctx: ServiceContext) -> TestWorld:
    """A supply group with a current DKGA-04 key on base date 2014, a flat tariff and meters."""
    return TestWorld.build(ctx)
