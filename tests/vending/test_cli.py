"""The operator CLI (CONTRACT §3) through Flask's CLI runner, on the test transaction."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from vending_fixtures import CSV_HEADER, SGC, VK_04, TestWorld, decoder_key, drn

import tokens
from vending.database import db
from vending.models import AuditEntry, Meter, Tariff, User, Vend, VendingKey
from vending.services import ServiceContext, authenticate


def _count(app: Any, model: type) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_create_user_with_password_on_stdin(app: Any, runner: Any, ctx: ServiceContext) -> None:
    result = runner.invoke(args=["create-user", "alice", "--role", "supervisor",
                                 "--password-stdin"], input="correct horse battery\n")
    assert result.exit_code == 0, result.output
    assert "correct horse" not in result.output
    with app.app_context():
        user = db.session.scalars(select(User).where(User.username == "alice")).one()
        assert user.role.value == "supervisor" and user.password_hash.startswith("$argon2id$")
    assert authenticate(ctx, "alice", "correct horse battery") is not None
    assert authenticate(ctx, "alice", "wrong password!") is None
    again = runner.invoke(args=["create-user", "alice", "--role", "clerk", "--password-stdin"],
                          input="another password\n")
    assert again.exit_code == 1 and "already exists" in again.output
    short = runner.invoke(args=["create-user", "bob", "--role", "clerk", "--password-stdin"],
                          input="short\n")
    assert short.exit_code == 1 and "at least" in short.output


def test_add_vending_key_reads_stdin_and_never_echoes(app: Any, runner: Any) -> None:
    key_hex = VK_04.hex()
    result = runner.invoke(args=["add-vending-key", "--sgc", "222222", "--krn", "1", "--dkga",
                                 "04", "--base-date", "2014", "--ea", "07"], input=key_hex + "\n")
    assert result.exit_code == 0, result.output
    assert key_hex not in result.output and "key check value" in result.output
    with app.app_context():
        row = db.session.scalars(select(VendingKey)).one()
        assert VK_04 not in row.ciphertext and row.kid == "test2"
    bad = runner.invoke(args=["add-vending-key", "--sgc", "222222", "--krn", "2", "--dkga",
                              "02", "--base-date", "1993", "--ea", "07"], input=key_hex + "\n")
    assert bad.exit_code == 1 and "64-bit" in bad.output and key_hex not in bad.output
    dup = runner.invoke(args=["add-vending-key", "--sgc", "222222", "--krn", "1", "--dkga",
                              "04", "--base-date", "2014", "--ea", "07"], input=key_hex + "\n")
    assert dup.exit_code == 1 and "already has" in dup.output


def test_import_meters_and_load_tariff(app: Any, runner: Any, world: TestWorld,
                                       tmp_path: Path) -> None:
    tariff = tmp_path / "t.json"
    tariff.write_text(json.dumps({"code": "BIZ", "name": "Business", "currency": "ZAR",
                                  "effective_from": "2026-01-01", "energy": {"flat": "3.1"}}))
    result = runner.invoke(args=["load-tariff", str(tariff)])
    assert result.exit_code == 0 and "BIZ" in result.output
    assert _count(app, Tariff) == 2
    csv = tmp_path / "m.csv"
    csv.write_text(CSV_HEADER + f"{drn(40)},X,Y,ACC-40,{SGC},1,2,2,07,04,2014,BIZ\n"
                   f"{drn(41)},X,Y,ACC-41,{SGC},1,2,2,07,04,2014,GONE\n")
    before = _count(app, Meter)
    bad = runner.invoke(args=["import-meters", str(csv)])
    assert bad.exit_code == 1 and "line 3:" in bad.output and "GONE" in bad.output
    assert _count(app, Meter) == before
    csv.write_text(CSV_HEADER + f"{drn(40)},X,Y,ACC-40,{SGC},1,2,2,07,04,2014,BIZ\n")
    ok = runner.invoke(args=["import-meters", str(csv)])
    assert ok.exit_code == 0 and "imported 1" in ok.output


def test_vend_and_engineering_commands(runner: Any, world: TestWorld) -> None:
    number = world.meters["current"]
    result = runner.invoke(args=["vend", number, "25.00", "--request-id", "cli-1"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    decoded = tokens.decode(answer["tokens"][0]["token"], decoder_key(number, 2))
    assert decoded.units == 100 and answer["amount"] == "25.00"
    trial = runner.invoke(args=["vend", number, "25", "--trial"])
    assert json.loads(trial.output)["tokens"] == []
    eng = runner.invoke(args=["engineering-token", number, "set_power_limit", "--param",
                              "watts=2000"])
    assert eng.exit_code == 0, eng.output
    token = json.loads(eng.output)["tokens"][0]["token"]
    assert tokens.decode(token, decoder_key(number, 2)).watts == 2000
    blocked = runner.invoke(args=["vend", "12345678901", "25"])
    assert blocked.exit_code == 1 and "check_digit" in blocked.output


def test_seed_demo_fills_an_empty_database_once(app: Any, runner: Any) -> None:
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert "user admin / password " in result.output and "123457" in result.output
    assert _count(app, Meter) == 3 and _count(app, User) == 3
    again = runner.invoke(args=["seed-demo"])
    assert again.exit_code == 1 and "already has data" in again.output
    from vending.seed import DEMO_VENDING_KEY, demo_meter_number

    # the rolled-over demo meter gets its rollover set with its first vend
    number = demo_meter_number(3)
    vend_out = runner.invoke(args=["vend", number, "50"])
    assert vend_out.exit_code == 0, vend_out.output
    answer = json.loads(vend_out.output)
    assert [t["type"] for t in answer["tokens"]] == ["key_change", "key_change", "credit"]
    key = tokens.KeyDerivation(dkga="04", vending_key=DEMO_VENDING_KEY,
                               pan=tokens.pan_from_drn(number), kt=2, sgc="123457", ti=1,
                               krn=2, base_date=2014, ea="07").derive()
    assert tokens.decode(answer["tokens"][2]["token"], key).units == 200


def test_rekey_campaign_is_resumable(app: Any, runner: Any, world: TestWorld,
                                     tmp_path: Path) -> None:
    out = tmp_path / "rekey.jsonl"
    args = ["rekey", "--sgc", SGC, "--to-krn", "3", "--to-base-date", "2014", "--out", str(out)]
    first = runner.invoke(args=args)
    assert first.exit_code == 0, first.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(line["meter_number"] for line in lines) == sorted(world.meters.values())
    by_number = {line["meter_number"]: line for line in lines}
    for name, old_krn in (("current", 2), ("second", 2), ("legacy", 1)):
        number = world.meters[name]
        sections = [tokens.decode(t, decoder_key(number, old_krn))
                    for t in by_number[number]["tokens"]]
        new = tokens.assemble_key(sections, 64)
        assert new.krn == 3 and new.key == decoder_key(number, 3).key
        assert new.ro == (old_krn == 1)  # the 1993 meter also rolls its base date over
    rekeys = _count_kind(app, "rekey")
    assert rekeys == 3
    # Simulate a crash after the commit of the last meter but before its line was written.
    out.write_text("\n".join(out.read_text().splitlines()[:-1]) + "\n" + '{"meter_numb')
    second = runner.invoke(args=args)
    assert second.exit_code == 0, second.output
    lines2 = [json.loads(x) for x in out.read_text().splitlines() if x.startswith('{"meter_number')]
    assert len(lines2) == 3 and lines2[-1]["outcome"] == "recorded"
    assert lines2[-1]["tokens"] == lines[-1]["tokens"]  # the same set, not a second one
    assert _count_kind(app, "rekey") == 3
    with app.app_context():
        moved = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "meter.key_changed")).all()
        assert len(moved) == 3


def _count_kind(app: Any, kind: str) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Vend).where(Vend.kind == kind))


def test_rotate_master_key_reseals_under_the_current_key(
        app: Any, runner: Any, world: TestWorld, master_keys: str) -> None:
    from vending.security_module import MasterKeyring, SoftwareSecurityModule

    # Rotate: a new key first, the old ones still listed so they can unseal.
    rotated = MasterKeyring.generate_entry("new") + "," + master_keys
    app.extensions["stsvend.security_module"] = SoftwareSecurityModule(
        MasterKeyring.parse(rotated))
    result = runner.invoke(args=["rotate-master-key"])
    assert result.exit_code == 0 and "re-sealed 3" in result.output
    with app.app_context():
        assert {row.kid for row in db.session.scalars(select(VendingKey))} == {"new"}
    # With only the new key configured, vending still works.
    app.extensions["stsvend.security_module"] = SoftwareSecurityModule(
        MasterKeyring.parse(rotated.split(",")[0]))
    out = runner.invoke(args=["vend", world.meters["current"], "10"])
    assert out.exit_code == 0, out.output
