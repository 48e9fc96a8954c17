"""The API-client commands through the Flask CLI runner: ``create-api-client`` prints the key
once and the key works; credit top-ups; disabling; refusals; the key is stored only hashed."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from api_helpers import OPERATOR, ApiWorld
from flask import Flask
from sqlalchemy import select
from vending_fixtures import alembic_upgrade, make_config

from vending import create_app
from vending.models import ApiClient, AuditEntry
from vending.services import ServiceContext

KEY = re.compile(r"sv_[0-9a-f]{8}_[A-Za-z0-9_-]{43}")


def run(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=list(args))


def test_create_api_client_prints_a_working_key_once(app: Flask, world: ApiWorld,
                                                     ctx: ServiceContext) -> None:
    result = run(app, "create-api-client", "Mobile Money", "--scopes", "vend,readings",
                 "--vendor-credit", "250.50", "--rate-limit", "5", "--burst", "10")
    assert result.exit_code == 0, result.output
    [key] = KEY.findall(result.output)
    assert "shown once" in result.output
    client = app.test_client()
    me = client.get("/api/v1/client", headers={"Authorization": f"Bearer {key}"})
    assert me.status_code == 200
    assert me.json["name"] == "Mobile Money" and me.json["scopes"] == ["readings", "vend"]
    assert me.json["vendor_credit"] == "250.50"
    assert me.json["rate_limit"] == {"per_second": 5.0, "burst": 10}
    row = ctx.session.scalars(select(ApiClient).where(ApiClient.name == "Mobile Money")).one()
    assert key not in repr(row) and key not in (row.key_hash, row.key_prefix)
    assert row.key_prefix in key  # the non-secret lookup prefix
    audit = ctx.session.scalars(select(AuditEntry).where(AuditEntry.action ==
                                                         "api_client.created")).all()
    assert audit and all(key not in str(a.after) for a in audit)

    topped = run(app, "api-client-credit", "Mobile Money", "49.50")
    assert topped.exit_code == 0 and "300.00" in topped.output
    assert run(app, "disable-api-client", "Mobile Money").exit_code == 0
    refused = client.get("/api/v1/client", headers={"Authorization": f"Bearer {key}"})
    assert refused.status_code == 403 and refused.json["error"]["code"] == "client_disabled"
    assert run(app, "enable-api-client", "Mobile Money").exit_code == 0
    assert client.get("/api/v1/client",
                      headers={"Authorization": f"Bearer {key}"}).status_code == 200


def test_create_api_client_refusals(app: Flask, world: ApiWorld) -> None:
    for args, message in [
        (("bank", "--scopes", "vend"), "client_exists"),
        (("new", "--scopes", "vend,admin"), "invalid_scopes"),
        (("new", "--scopes", ""), "invalid_scopes"),
        (("new", "--scopes", "vend", "--vendor-credit", "1.234"), "invalid_amount"),
        (("new", "--scopes", "vend", "--vendor-credit", "-5"), "invalid_amount"),
        (("bad/name", "--scopes", "vend"), "invalid_name"),
    ]:
        result = run(app, "create-api-client", *args)
        assert result.exit_code == 1 and message in result.output, (args, result.output)
        assert not KEY.search(result.output)
    assert "unknown_client" in run(app, "api-client-credit", "nobody", "5").output
    assert "no_vendor_float" in run(app, "api-client-credit", "unlimited", "5").output


def test_no_rate_limit_option(app: Flask, world: ApiWorld) -> None:
    result = run(app, "create-api-client", "utility-channel", "--scopes", "vend",
                 "--no-rate-limit")
    [key] = KEY.findall(result.output)
    me = app.test_client().get("/api/v1/client", headers={"Authorization": f"Bearer {key}"})
    assert me.json["rate_limit"] is None and me.json["vendor_credit"] is None


def test_seed_demo_prints_a_working_api_key(tmp_path: Path, master_keys: str) -> None:
    """CONTRACT §3: seed-demo creates a demo API client and prints its key (once)."""
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    alembic_upgrade(url)
    app = create_app(make_config(url, master_keys))
    result = run(app, "seed-demo")
    assert result.exit_code == 0, result.output
    [key] = KEY.findall(result.output)
    client = app.test_client()
    me = client.get("/api/v1/client", headers={"Authorization": f"Bearer {key}"}).json
    assert me["name"] == "demo-bank" and me["vendor_credit"] == "100000.00"
    assert me["scopes"] == ["engineering", "readings", "vend"]
    meter = result.output.split("meters: ", 1)[1].split(",", 1)[0].strip()
    sold = client.post("/api/v1/vends", json={"meter_number": meter, "amount": "20",
                                              "request_id": "demo-1"},
                       headers={"Authorization": f"Bearer {key}"})
    assert sold.status_code == 201, sold.json
    app.extensions["stsvend.engine"].dispose()


def test_the_new_client_result_hides_its_key(ctx: ServiceContext, world: ApiWorld) -> None:
    from vending.services.api_clients import create_api_client

    new = create_api_client(ctx, name="repr-check", scopes="vend", actor=OPERATOR)
    assert KEY.fullmatch(new.api_key)
    assert new.api_key not in repr(new) and new.api_key not in str(new)
