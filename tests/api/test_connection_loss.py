"""A pooled PostgreSQL connection the server drops (a restart, a failover, an idle timeout).

The engine does not test connections with a round trip before each request
(``DATABASE_PRE_PING`` is off by default: one round trip less per vend). This is what that
costs, measured on a real server: the first request on a dead connection is answered 503
``database_unavailable``, and the very next request works, with no restart of the app."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from vending_fixtures import make_config, migrated_postgres

from vending import create_app
from vending.database import db
from vending.services import Actor, ServiceContext
from vending.services.api_clients import create_api_client

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def dropped_url() -> Iterator[str]:
    yield from migrated_postgres("stsvend_api_drop")


@pytest.mark.parametrize("pre_ping", [False, True])
def test_a_dropped_connection_costs_at_most_one_request(dropped_url: str, master_keys: str,
                                                        pre_ping: bool) -> None:
    app = create_app(make_config(dropped_url, master_keys, DATABASE_PRE_PING=pre_ping))
    with app.app_context():
        key = create_api_client(ServiceContext.from_app(app, db.session),
                                name=f"drop-{pre_ping}", scopes="vend",
                                actor=Actor("cli", "test"), rate_per_s=None,
                                burst=None).api_key
    client = app.test_client()
    auth = {"Authorization": f"Bearer {key}"}
    assert client.get("/api/v1/client", headers=auth).status_code == 200
    engine = app.extensions["stsvend.engine"]
    with engine.connect() as conn:  # the pooled connection the request used
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    outside = create_engine(dropped_url, isolation_level="AUTOCOMMIT")
    with outside.connect() as admin:
        assert admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
    outside.dispose()

    first = client.get("/api/v1/client", headers=auth)
    if pre_ping:
        assert first.status_code == 200  # the ping found the dead connection first
    else:
        assert first.status_code == 503
        assert first.json["error"]["code"] == "database_unavailable"
    again = client.get("/api/v1/client", headers=auth)
    assert again.status_code == 200, again.json
    engine.dispose()
