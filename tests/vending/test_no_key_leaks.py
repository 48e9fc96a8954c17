"""Keys never reach logs, answers, CLI output, exceptions, reprs or plain database columns.

Everything the server says while vending, changing keys and failing is collected, with every
logger at DEBUG (SQL statements and their parameters included), and searched for the hex (and
raw bytes) of every vending key, every decoder key the test can derive and every master key.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import MetaData, select
from vending_fixtures import (
    ADMIN,
    CLERK,
    SGC,
    VENDING_KEYS,
    VK_04,
    TestWorld,
    decoder_key,
)

from vending.database import db
from vending.models import VendingKey
from vending.security_module import (
    MasterKeyring,
    SecurityModuleError,
    SoftwareSecurityModule,
)
from vending.services import (
    ServiceContext,
    add_vending_key,
    confirm_meter,
    engineering_token,
    reprint,
    set_current_krn,
    trial_vend,
    vend,
)
from vending.services.keystate import vending_key_ref


def _secrets(world: TestWorld, master_keys: str) -> list[str]:
    found: list[str] = []
    for vk, _dkga, _bd in VENDING_KEYS.values():
        found += [vk.hex(), vk.hex().upper()]
    for number in world.meters.values():
        for krn in VENDING_KEYS:
            for ti in (1, 7):
                found.append(decoder_key(number, krn, ti).hex())
    for entry in master_keys.split(","):
        encoded = entry.split(":", 1)[1]
        found += [encoded, base64.b64decode(encoded).hex()]
    return found


def _assert_clean(text: str, secrets: list[str], where: str) -> None:
    lowered = text.lower()
    for secret in secrets:
        assert secret.lower() not in lowered, f"key material found in {where}"


@pytest.fixture
def sql_log(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every logger at DEBUG, SQL echo included, *before* the test's connection exists
    (SQLAlchemy decides per connection whether to log)."""
    caplog.set_level(logging.DEBUG)
    engine_log = logging.getLogger("sqlalchemy.engine")
    engine_log.setLevel(logging.DEBUG)
    yield
    engine_log.setLevel(logging.WARNING)


def test_keys_are_absent_from_everything_said(
        sql_log: None, app: Any, runner: Any, ctx: ServiceContext, world: TestWorld,
        master_keys: str, caplog: pytest.LogCaptureFixture,
        capsys: pytest.CaptureFixture[str]) -> None:
    said: list[str] = []
    number = world.meters["current"]
    answers = [
        vend(ctx, meter_number=number, amount="10", request_id="l1", actor=CLERK),
        trial_vend(ctx, meter_number=number, amount="10"),
        engineering_token(ctx, meter_number=number, kind="clear_tamper", request_id="l2",
                          actor=ADMIN),
        engineering_token(ctx, meter_number=world.meters["second"], kind="key_change",
                          request_id="l3", actor=ADMIN, params={"to_ti": 7}),
        vend(ctx, meter_number=world.meters["legacy"], amount="10", request_id="l4",
             actor=CLERK),  # rollover key change
    ]
    set_current_krn(ctx, sgc=SGC, krn=3, actor=ADMIN)
    answers.append(vend(ctx, meter_number=number, amount="10", request_id="l5",
                        actor=CLERK))
    answers.append(reprint(ctx, answers[0].vend_id))
    said += [json.dumps(a.as_json()) for a in answers]
    said.append(json.dumps(confirm_meter(ctx, number).as_json()))
    # Failures: a key of the wrong size, a sealed key that does not open.
    with pytest.raises(Exception) as bad_key:
        add_vending_key(ctx, sgc=SGC, krn=9, dkga="02", base_date=1993, ea="07",
                        key=VK_04, actor=ADMIN)
    said.append(str(bad_key.value))
    row = ctx.session.scalars(select(VendingKey)).first()
    stranger = SoftwareSecurityModule(MasterKeyring.parse(MasterKeyring.generate_entry("x")
                                                          .replace("x:", "test2:")))
    with pytest.raises(SecurityModuleError) as unopened:
        stranger.key_check_value(vending_key_ref(row))
    said.append(str(unopened.value))
    said += [repr(row), repr(vending_key_ref(row)), repr(ctx.security),
             repr(MasterKeyring.parse(master_keys))]
    # CLI and HTTP.
    result = runner.invoke(args=["add-vending-key", "--sgc", "333333", "--krn", "1",
                                 "--dkga", "04", "--base-date", "2014", "--ea", "07"],
                           input=VK_04.hex() + "\n")
    assert result.exit_code == 0
    said.append(result.output)
    said.append(runner.invoke(args=["vend", number, "12"]).output)
    client = app.test_client()
    for path in ("/healthz", "/readyz", "/nope"):
        said.append(client.get(path).get_data(as_text=True))
    # Every text and JSON column of every table.
    with app.app_context():
        meta = MetaData()
        meta.reflect(bind=db.session.connection())
        for table in meta.sorted_tables:
            for record in db.session.execute(select(table)).all():
                said.append(repr(tuple(record)))
    captured = capsys.readouterr()
    said += [caplog.text, captured.out, captured.err]
    assert "SELECT" in caplog.text  # the SQL log really was captured
    secrets = _secrets(world, master_keys)
    for index, text in enumerate(said):
        _assert_clean(text, secrets, f"output #{index}")
    raw = [vk for vk, _, _ in VENDING_KEYS.values()]
    for record in said:
        for vk in raw:
            assert repr(vk)[2:-1] not in record
