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
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "vending"))

from pricing_world import PricingWorld
from vending_fixtures import (
    BACKENDS,
    FixedClock,
    engine_for,
    make_config,
    migrated_postgres,
    migrated_sqlite,
)

from vending import create_app
from vending.security_module import SoftwareSecurityModule
from vending.services import ServiceContext, VendingPolicy


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
def session(connection: Connection) -> Iterator[Session]:
    sess = Session(bind=connection, join_transaction_mode="create_savepoint",
                   expire_on_commit=False)
    yield sess
    sess.close()


@pytest.fixture
def ctx(session: Session, security: SoftwareSecurityModule, clock: FixedClock) -> ServiceContext:
    return ServiceContext(session=session, security=security, policy=VendingPolicy(),
                          clock=clock)


@pytest.fixture
def world(ctx: ServiceContext) -> PricingWorld:
    return PricingWorld.build(ctx)


@pytest.fixture
def app(connection: Connection, engine: Engine, master_keys: str, clock: FixedClock,
        ) -> Iterator[Flask]:
    """The Flask app on the test connection: CLI commands see the test's data."""
    config = make_config(engine.url.render_as_string(hide_password=False), master_keys)
    config.STSVEND_ENGINE = engine
    application = create_app(config)
    application.extensions["stsvend.sessionmaker"] = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    application.extensions["stsvend.clock"] = clock
    yield application


@pytest.fixture
def runner(app: Flask) -> Any:
    return app.test_cli_runner()
