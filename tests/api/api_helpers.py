"""Helpers of the bank API tests (a uniquely named module, importable by any test): the test
world with API clients, and a real threaded HTTP server on a committed database."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session
from vending_fixtures import TestWorld, make_config
from werkzeug.serving import make_server

from vending import create_app
from vending.database import db
from vending.models import ApiClient
from vending.services import Actor, ServiceContext
from vending.services.api_clients import create_api_client

OPERATOR = Actor("cli", "api-test")

# name -> (scopes, vendor credit or None, rate per second or None, burst)
CLIENTS: dict[str, tuple[str, str | None, float | None, int | None]] = {
    "bank": ("vend", "1000.00", None, None),
    "other_bank": ("vend", "1000.00", None, None),
    "unlimited": ("vend,engineering,readings", None, None, None),
    "poor": ("vend", "15.00", None, None),
    "gateway": ("readings", None, None, None),
    "engineer": ("engineering", None, None, None),
    "slow": ("vend", None, 1.0, 2),
    "disabled": ("vend,engineering,readings", None, None, None),
}


@dataclass
class ApiWorld:
    """The vending TestWorld (meters ``current``, ``second``, ``legacy``) plus API clients;
    ``keys`` holds each client's API key (tests only) and ``ids`` its id."""

    __test__ = False

    base: TestWorld
    keys: dict[str, str] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)

    @classmethod
    def build(cls, ctx: ServiceContext) -> ApiWorld:
        world = cls(base=TestWorld.build(ctx))
        for name, (scopes, credit, rate, burst) in CLIENTS.items():
            new = create_api_client(ctx, name=name, scopes=scopes, actor=OPERATOR,
                                    vendor_credit=credit, rate_per_s=rate, burst=burst)
            world.keys[name], world.ids[name] = new.api_key, new.id
        from vending.services.api_clients import set_client_enabled

        set_client_enabled(ctx, "disabled", False, actor=OPERATOR)
        return world

    def using(self, ctx: ServiceContext) -> ApiWorld:
        """The same world seen through another service context (a test's transaction)."""
        return ApiWorld(base=TestWorld(ctx=ctx, meters=self.base.meters), keys=self.keys,
                        ids=self.ids)

    @property
    def meters(self) -> dict[str, str]:
        return self.base.meters

    def auth(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[name]}"}

    def credit(self, name: str) -> Decimal | None:
        session = self.base.ctx.session
        try:
            return session.scalars(select(ApiClient.vendor_credit)
                                   .where(ApiClient.id == self.ids[name])).one()
        finally:
            session.rollback()


@dataclass
class LiveServer:
    base_url: str
    database_url: str
    app: Flask
    world: ApiWorld

    def credit(self, name: str) -> Decimal | None:
        with self.app.app_context():
            return self.world_in(db.session).credit(name)

    def world_in(self, session: Session) -> ApiWorld:
        return self.world.using(ServiceContext.from_app(self.app, session))

    def query(self, fn: Any) -> Any:
        """Run ``fn(session)`` in a fresh session of the server's database."""
        with self.app.app_context():
            try:
                return fn(db.session)
            finally:
                db.session.rollback()


@contextmanager
def start_live_server(database_url: str, master_keys: str) -> Iterator[LiveServer]:
    config = make_config(database_url, master_keys, LOG_LEVEL="WARNING")
    app = create_app(config)
    with app.app_context():
        world = ApiWorld.build(ServiceContext.from_app(app, db.session))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-api", daemon=True)
    thread.start()
    try:
        yield LiveServer(base_url=f"http://127.0.0.1:{server.server_port}",
                         database_url=database_url, app=app, world=world)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        app.extensions["stsvend.engine"].dispose()
