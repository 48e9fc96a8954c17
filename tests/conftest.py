"""Fixtures every database test directory shares (tests/vending, pricing, api, pos).

Each of those directories declares its own ``engine`` (parametrised over SQLite and
PostgreSQL, on databases it names itself: see ``vending_fixtures.engine_for``); what stands
on top of an engine, and the keys and clock of the services, is the same everywhere and
lives here."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine

sys.path.insert(0, str(Path(__file__).resolve().parent / "vending"))

from vending_fixtures import T0, FixedClock, master_keys_value

from vending.security_module import MasterKeyring, SoftwareSecurityModule


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
