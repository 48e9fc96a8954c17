"""Fixtures of the vending server tests: every database test runs on SQLite *and*
PostgreSQL, each test isolated in a SAVEPOINT of an outer transaction that is rolled back
(SQLAlchemy's "join an external transaction" recipe).

PostgreSQL: a fresh database ``stsvend_t_<pid>`` is created through ``TEST_POSTGRES_URL``
for the session and dropped at the end, so parallel runs never collide. An unreachable server
is a loud failure, never a skip.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker
from vending_fixtures import (
    BACKENDS,
    FixedClock,
    TestWorld,
    engine_for,
    make_config,
    migrated_postgres,
    migrated_sqlite,
)

from vending import create_app
from vending.security_module import SoftwareSecurityModule
from vending.services import ServiceContext, VendingPolicy


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
def policy() -> VendingPolicy:
    return VendingPolicy()


@pytest.fixture
def session(connection: Connection) -> Iterator[Session]:
    sess = Session(bind=connection, join_transaction_mode="create_savepoint",
                   expire_on_commit=False)
    yield sess
    sess.close()


@pytest.fixture
def ctx(session: Session, security: SoftwareSecurityModule, policy: VendingPolicy,
        clock: FixedClock) -> ServiceContext:
    return ServiceContext(session=session, security=security, policy=policy, clock=clock)


@pytest.fixture
def world(ctx: ServiceContext) -> TestWorld:
    """A supply group with a current DKGA-04 key on base date 2014, a flat tariff and meters."""
    return TestWorld.build(ctx)


@pytest.fixture
def app(connection: Connection, engine: Engine, master_keys: str, clock: FixedClock,
        tmp_path: Path) -> Iterator[Flask]:
    """The Flask app on the test connection: views and CLI commands see the test's data."""
    config = make_config(str(engine.url.render_as_string(hide_password=False)), master_keys)
    config.STSVEND_ENGINE = engine
    application = create_app(config)
    application.extensions["stsvend.sessionmaker"] = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    application.extensions["stsvend.clock"] = clock
    yield application


@pytest.fixture
def runner(app: Flask) -> Any:
    return app.test_cli_runner()
