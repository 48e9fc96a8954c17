"""Fixtures of the bank API tests, on SQLite *and* PostgreSQL like the vending tests (whose
helper module ``vending_fixtures`` they reuse):

* ``app``/``client``: the Flask app on a connection whose outer transaction is rolled back
  after each test (SAVEPOINT recipe), for the per-path and per-error-code tests;
* ``live``: a real threaded HTTP server on a committed database of its own, for the races,
  schemathesis and the keypad meter.

PostgreSQL databases are named ``stsvend_api_*_<pid>`` so they never collide with the
vending tests' databases in the same run.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "vending"))

from api_helpers import ApiWorld, LiveServer, start_live_server
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from vending_fixtures import (
    BACKENDS,
    T0,
    FixedClock,
    alembic_upgrade,
    engine_for,
    migrated_postgres,
    migrated_sqlite,
    pg_admin_url,
    pg_create_database,
    pg_drop_database,
)

from vending.security_module import SoftwareSecurityModule
from vending.services import ServiceContext, VendingPolicy


@pytest.fixture(scope="session")
def api_postgres_url() -> Iterator[str]:
    yield from migrated_postgres("stsvend_api")


@pytest.fixture(scope="session")
def api_sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return migrated_sqlite(tmp_path_factory, "apidb")


@pytest.fixture(scope="session", params=BACKENDS)
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    yield from engine_for(request, "api_sqlite_url", "api_postgres_url")


@pytest.fixture(scope="session")
def seeded(engine: Engine, security: SoftwareSecurityModule) -> ApiWorld:
    """The world, committed once per database; each test then works inside a rolled-back
    transaction on top of it (so no test sees another's changes)."""
    with Session(engine, expire_on_commit=False) as session:
        return ApiWorld.build(ServiceContext(session=session, security=security,
                                             policy=VendingPolicy(), clock=FixedClock(T0)))


@pytest.fixture
def world(seeded: ApiWorld, ctx: ServiceContext) -> ApiWorld:
    """Keys, tariff, meters (see TestWorld) and API clients with every scope combination,
    seen through this test's transaction."""
    return seeded.using(ctx)


@pytest.fixture
def client(app: Flask, world: ApiWorld) -> FlaskClient:
    return app.test_client()


@pytest.fixture(scope="module", params=BACKENDS)
def live(request: pytest.FixtureRequest, master_keys: str,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A real HTTP server (threaded werkzeug) on a committed, migrated database of its own."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('live') / 'live.db'}"
    else:
        url = pg_create_database(pg_admin_url(),
                                 f"stsvend_api_live_{request.module.__name__[-12:]}_"
                                 f"{os.getpid()}")
    alembic_upgrade(url)
    with start_live_server(url, master_keys) as server:
        yield server
    if request.param != "sqlite":
        pg_drop_database(pg_admin_url(), url)
