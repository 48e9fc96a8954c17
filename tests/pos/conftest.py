"""Fixtures of the POS tests.

Every test gets its own real database, copied from a template that was migrated and filled
(keys, tariff, meters, users) once per session: a file copy on SQLite, ``CREATE DATABASE ...
TEMPLATE`` on PostgreSQL. Each test therefore runs the app as deployed (its own engine, real
commits), which the live HTTP server of the browser tests needs (another thread), and the
argon2 hashing of the users is paid once. PostgreSQL unreachable is a failure, never a skip.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from argon2 import PasswordHasher
from flask import Flask
from pos_fixtures import (
    PASSWORDS,
    FixedClock,
    PosWorld,
    alembic_upgrade,
    build_world,
    make_config,
    pg_admin_url,
)
from sqlalchemy import select
from sqlalchemy.engine import make_url
from vending_fixtures import T0
from werkzeug.serving import make_server

from vending import create_app
from vending.database import db
from vending.models import User


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _pg(admin: str, *statements: str) -> None:
    try:
        with psycopg.connect(_libpq(admin), autocommit=True, connect_timeout=5) as conn:
            for statement in statements:
                conn.execute(statement)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL at TEST_POSTGRES_URL is unreachable: {exc}", pytrace=False)


def _fill(url: str, master_keys: str) -> PosWorld:
    alembic_upgrade(url)
    app = create_app(make_config(url, master_keys))
    app.extensions["stsvend.clock"] = FixedClock(T0)
    from vending.services import ServiceContext

    with app.app_context():
        world = build_world(ServiceContext.from_app(app, db.session))
        # The users were created with the production argon2id cost (64 MiB, 3 passes), which
        # a test asserts; their stored hashes are replaced by cheap argon2id ones so the many
        # sign-ins of the tests stay fast (verification follows the hash's own parameters).
        cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
        for user in db.session.scalars(select(User)):
            assert user.password_hash.startswith("$argon2id$v=19$m=65536,t=3")
            user.password_hash = cheap.hash(PASSWORDS[user.username])
        db.session.commit()
    app.extensions["stsvend.engine"].dispose()
    return world


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory,
                    master_keys: str) -> tuple[Path, PosWorld]:
    path = tmp_path_factory.mktemp("template") / "pos.db"
    world = _fill(f"sqlite:///{path}", master_keys)
    return path, world


@pytest.fixture(scope="session")
def postgres_template(master_keys: str) -> Iterator[tuple[str, str, PosWorld]]:
    admin = pg_admin_url()
    name = f"stsvend_pos_tpl_{os.getpid()}"
    _pg(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
    url = make_url(admin).set(database=name).render_as_string(hide_password=False)
    world = _fill(url, master_keys)
    yield admin, name, world
    _pg(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, PosWorld]]:
    """(URL, world) of a fresh copy of the template database."""
    if request.param == "sqlite":
        template, world = request.getfixturevalue("sqlite_template")
        path = tmp_path / "pos.db"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}", world
        return
    admin, template_name, world = request.getfixturevalue("postgres_template")
    name = f"stsvend_pos_{os.getpid()}_{abs(hash(request.node.nodeid)) % 10**8}"
    _pg(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
        f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"')
    yield make_url(admin).set(database=name).render_as_string(hide_password=False), world
    _pg(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def world(database: tuple[str, PosWorld]) -> PosWorld:
    return database[1]


@pytest.fixture
def app(database: tuple[str, PosWorld], master_keys: str, clock: FixedClock) -> Iterator[Flask]:
    application = create_app(make_config(database[0], master_keys))
    application.extensions["stsvend.clock"] = clock
    yield application
    application.extensions["stsvend.engine"].dispose()


@pytest.fixture
def live_server(database: tuple[str, PosWorld], master_keys: str) -> Iterator[str]:
    """The app on a real HTTP server (127.0.0.1, a free port) with the real clock."""
    application = create_app(make_config(database[0], master_keys))
    server = make_server("127.0.0.1", 0, application, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="pos-live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()
    application.extensions["stsvend.engine"].dispose()


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's chromium through Playwright. Missing chromium fails the test (no skip)."""
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install chromium"
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
