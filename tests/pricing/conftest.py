"""Fixtures of the server-side tariff tests: the vending tests' database set-up (every test on
SQLite *and* PostgreSQL, isolated in a rolled-back SAVEPOINT), reused through
``tests/vending/vending_fixtures.py``, plus a small world of tariffs, customers and meters.

The PostgreSQL database is this directory's own (``stsvend_p_<pid>``), so running it beside
``tests/vending`` in one session never drops the other's database.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "vending"))

from pricing_world import PricingWorld
from vending_fixtures import (
    BACKENDS,
    engine_for,
    migrated_postgres,
    migrated_sqlite,
)

from vending.services import ServiceContext


@pytest.fixture(scope="session")
def pricing_postgres_url() -> Iterator[str]:
    yield from migrated_postgres("stsvend_p")


@pytest.fixture(scope="session")
def pricing_sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return migrated_sqlite(tmp_path_factory, "pricing-db")


@pytest.fixture(scope="session", params=BACKENDS)
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    yield from engine_for(request, "pricing_sqlite_url", "pricing_postgres_url")


@pytest.fixture
def world(ctx: ServiceContext) -> PricingWorld:
    return PricingWorld.build(ctx)
