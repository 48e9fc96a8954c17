"""Helpers of the POS tests (a uniquely named module, imported by tests/pos/conftest.py and
the tests): a migrated database, a world of keys, a tariff, meters and users, a config."""

from __future__ import annotations

import io
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tokens
from vending.services import (
    Actor,
    ServiceContext,
    add_vending_key,
    create_user,
    import_meters,
    load_tariff,
)

REPO = Path(__file__).resolve().parents[2]
# The database, clock and master-key helpers are the vending tests' own (re-exported here).
sys.path.insert(0, str(REPO / "tests" / "vending"))
from vending_fixtures import (  # noqa: E402, F401
    FixedClock,
    alembic_upgrade,
    drn,
    master_keys_value,
    pg_admin_url,
)
from vending_fixtures import make_config as vending_config  # noqa: E402

ADMIN_ACTOR = Actor("cli", "pos-test")
SGC = "654321"
VK_04 = bytes.fromhex("0f1e2d3c4b5a69788796a5b4c3d2e1f001234567")
VK_02 = bytes.fromhex("4c4c4c4c4c4c4c4c")
PASSWORDS = {"clerk": "clerk-pass-1", "clerk2": "clerk2-pass-1", "super": "super-pass-1",
             "admin": "admin-pass-1"}
ROLES = {"clerk": "clerk", "clerk2": "clerk", "super": "supervisor", "admin": "admin"}
CSV_HEADER = "meter_number,customer_name,address,account,sgc,ti,krn,kt,ea,dkga,base_date,tariff\n"


def make_config(url: str, master_keys: str, **overrides: Any) -> type:
    """The vending tests' config with the POS's settings: plain-http cookies (tests serve over
    http), the utility's time zone, a lockout after 3 failures."""
    return vending_config(url, master_keys, **{
        "STSVEND_TIMEZONE": "Africa/Johannesburg", "SESSION_COOKIE_SECURE": False,
        "POS_IDLE_MINUTES": 15, "POS_SESSION_HOURS": 12, "POS_LOCKOUT_ATTEMPTS": 3,
        "POS_LOCKOUT_MINUTES": 15, "LOG_LEVEL": "WARNING", **overrides})


@dataclass(frozen=True)
class PosWorld:
    """Meters: ``current`` and ``second`` on KRN 2 (DKGA-04, base 2014, the current key),
    ``legacy`` on KRN 1 (DKGA-02, base 1993: its next vend carries the rollover key change).
    Users: clerk, clerk2, super (supervisor), admin; passwords in :data:`PASSWORDS`."""

    meters: dict[str, str]
    users: dict[str, int]


def build_world(ctx: ServiceContext) -> PosWorld:
    add_vending_key(ctx, sgc=SGC, krn=1, dkga="02", base_date=1993, ea="07", key=VK_02,
                    actor=ADMIN_ACTOR)
    add_vending_key(ctx, sgc=SGC, krn=2, dkga="04", base_date=2014, ea="07", key=VK_04,
                    actor=ADMIN_ACTOR, make_current=True)
    load_tariff(ctx, {"code": "RES", "name": "Residential", "currency": "ZAR",
                      "effective_from": "2020-01-01", "energy": {"flat": "2.5000"}},
                actor=ADMIN_ACTOR)
    meters = {"current": drn(1), "second": drn(2), "legacy": drn(3)}
    rows = [(meters["current"], "Thandi Nkosi", "12 Jacaranda St", "ACC-1", 2, 2014, "04"),
            (meters["second"], "Pieter van Wyk", "4 Protea Ave", "ACC-2", 2, 2014, "04"),
            (meters["legacy"], "Amina Yusuf", "88 Baobab Rd", "ACC-3", 1, 1993, "02")]
    text = CSV_HEADER + "".join(f"{m},{name},{addr},{acc},{SGC},1,{krn},2,07,{dkga},{bd},\n"
                                for m, name, addr, acc, krn, bd, dkga in rows)
    import_meters(ctx, io.StringIO(text), actor=ADMIN_ACTOR)
    users = {}
    for name, password in PASSWORDS.items():
        users[name] = create_user(ctx, username=name, role=ROLES[name], password=password,
                                  actor=ADMIN_ACTOR).id
    return PosWorld(meters=meters, users=users)


def decoder_key(meter_number: str, krn: int) -> tokens.DecoderKey:
    """The meter's decoder key derived independently of the server (the tests' oracle)."""
    vk, dkga, bd = {1: (VK_02, "02", 1993), 2: (VK_04, "04", 2014)}[krn]
    return tokens.KeyDerivation(dkga=dkga, vending_key=vk, pan=tokens.pan_from_drn(meter_number),
                                kt=2, sgc=SGC, ti=1, krn=krn, base_date=bd, ea="07").derive()
