"""Engine and session set-up, without Flask-SQLAlchemy: one engine per app, one session per
app context (``db.session``), closed on teardown.

SQLite (the embedded default) is made safe for several gunicorn workers: foreign keys on, WAL,
a busy timeout, and every transaction opened with ``BEGIN IMMEDIATE`` so that two writers queue
for the write lock instead of failing on a lock upgrade. That also gives SQLite the effect of
PostgreSQL's ``SELECT ... FOR UPDATE`` on the meter row: writers are serialised.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

# Execution option for connections that only read (health checks): a plain deferred BEGIN.
READ_ONLY = "stsvend_read_only"


def make_engine(url: str, *, pre_ping: bool = False, **kwargs: Any) -> Engine:
    """An engine for ``url`` with the SQLite adjustments above; ``kwargs`` go to SQLAlchemy.

    ``pre_ping`` (``DATABASE_PRE_PING``) tests each checked-out connection with a round trip;
    without it (the default: one round trip less per request), a connection the server has
    dropped fails its request once and SQLAlchemy then replaces the whole pool."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        kwargs.setdefault("pool_pre_ping", pre_ping)
        return create_engine(url, **kwargs)
    connect_args = dict(kwargs.pop("connect_args", {}))
    connect_args.setdefault("timeout", 30)
    engine = create_engine(url, connect_args=connect_args, **kwargs)
    configure_sqlite(engine)
    return engine


def configure_sqlite(engine: Engine) -> None:
    """Take transaction control away from pysqlite and begin IMMEDIATE (see module doc)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let SQLAlchemy emit BEGIN itself
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA busy_timeout = 30000")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("BEGIN")  # a reader: WAL lets it run beside a writer
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """Flask extension: the engine and session factory live in ``app.extensions`` (so several
    apps, as in tests, never share one), the session in the app context."""

    def init_app(self, app: Flask, engine: Engine | None = None) -> None:
        engine = engine or make_engine(app.config["DATABASE_URL"],
                                       pre_ping=bool(app.config.get("DATABASE_PRE_PING")))
        app.extensions["stsvend.engine"] = engine
        app.extensions["stsvend.sessionmaker"] = sessionmaker(bind=engine, expire_on_commit=False)
        app.teardown_appcontext(self._remove)

    @property
    def engine(self) -> Engine:
        return current_app.extensions["stsvend.engine"]

    @property
    def session(self) -> Session:
        """The session of the current app context (created on first use)."""
        session = g.get("_stsvend_session")
        if session is None:
            session = current_app.extensions["stsvend.sessionmaker"]()
            g._stsvend_session = session
        return session

    @staticmethod
    def _remove(_exc: BaseException | None) -> None:
        session = g.pop("_stsvend_session", None)
        if session is not None:
            session.close()


db = Database()
