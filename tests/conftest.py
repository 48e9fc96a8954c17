"""Fixtures the database test directories share (tests/vending, pricing, api; pos uses the
keys and the clock).

Each of those directories declares its own ``engine`` (parametrised over SQLite and
PostgreSQL, on databases it names itself: see ``vending_fixtures.engine_for``); what stands
on top of an engine, and the keys and clock of the services, is the same everywhere and
lives here."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parent / "vending"))

from vending_fixtures import T0, FixedClock, make_config, master_keys_value

from vending import create_app
from vending.security_module import MasterKeyring, SoftwareSecurityModule
from vending.services import ServiceContext, VendingPolicy


@pytest.fixture(scope="session")
def master_keys() -> str:
    """Random master keys for the run (``kid:base64,...``, two of them: rotation is tested)."""
    return master_keys_value()


@pytest.fixture(scope="session")
def security(master_keys: str) -> SoftwareSecurityModule:
    return SoftwareSecurityModule(MasterKeyring.parse(master_keys))


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction rolled back after the test: the directory's committed
    world stays as it was (services work in savepoints on top of it)."""
    with engine.connect() as conn:
        outer = conn.begin()
        yield conn
        outer.rollback()


@pytest.fixture
def policy() -> VendingPolicy:
    return VendingPolicy()


@pytest.fixture
def session(connection: Connection) -> Iterator[Session]:
    """The services' session: each unit of work commits to a savepoint of the test's
    transaction."""
    sess = Session(bind=connection, join_transaction_mode="create_savepoint",
                   expire_on_commit=False)
    yield sess
    sess.close()


@pytest.fixture
def ctx(session: Session, security: SoftwareSecurityModule, policy: VendingPolicy,
        clock: FixedClock) -> ServiceContext:
    return ServiceContext(session=session, security=security, policy=policy, clock=clock)


@pytest.fixture
def app(connection: Connection, engine: Engine, master_keys: str, clock: FixedClock) -> Flask:
    """The Flask app on the test connection: views and CLI commands see the test's data."""
    config = make_config(engine.url.render_as_string(hide_password=False), master_keys)
    config.STSVEND_ENGINE = engine
    application = create_app(config)
    application.extensions["stsvend.sessionmaker"] = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    application.extensions["stsvend.clock"] = clock
    return application


@pytest.fixture
def runner(app: Flask) -> Any:
    return app.test_cli_runner()
