"""Demo data for ``make run`` and ``flask seed-demo``: only into an empty database.

The demo supply group uses the **public STS test vending keys** of the conformance vectors
(SPEC §9.2), so anyone can manufacture a matching keypad meter with
``python -m tokens derive-key``. They are published test keys: never use this group for
real meters. Passwords are random and printed once.
"""

from __future__ import annotations

import io
import secrets
from dataclasses import dataclass, field

from sqlalchemy import func, select

import tokens

from .errors import ConflictError
from .models import Meter, SupplyGroup, User
from .services import Actor, ServiceContext, add_vending_key, create_user, import_meters
from .services.tariffs import load_tariff

DEMO_SGC = "123457"
DEMO_VENDING_KEY = bytes.fromhex("abababababababab949494949494949401234567")  # public test VK
DEMO_TARIFF = {"code": "RES", "name": "Residential flat rate (demo)",
               "effective_from": "2020-01-01", "currency": "ZAR", "energy": {"flat": "2.5000"}}
SEED_ACTOR = Actor("system", "seed-demo")


def demo_meter_number(serial: int, mfr: str = "04") -> str:
    body = f"{mfr}{serial:08d}"
    return body + tokens.luhn_check_digit(body)


@dataclass(frozen=True)
class SeedResult:
    users: dict[str, str] = field(default_factory=dict)  # username -> password (shown once)
    meters: list[str] = field(default_factory=list)
    api_keys: dict[str, str] = field(default_factory=dict)  # API client -> key (shown once)
    sgc: str = DEMO_SGC

    def describe(self) -> str:
        lines = [f"demo supply group {self.sgc} (public STS test keys: demo only)",
                 "meters: " + ", ".join(self.meters),
                 f"  {self.meters[-1]} is on the 1993 base date: its first vend carries the "
                 "rollover key-change tokens"]
        lines += [f"user {name} / password {pw}" for name, pw in self.users.items()]
        lines += [f"API client {name} (scopes vend,engineering,readings) / key {key}"
                  for name, key in self.api_keys.items()]
        return "\n".join(lines)


def database_is_empty(ctx: ServiceContext) -> bool:
    try:
        groups = ctx.session.scalar(select(func.count()).select_from(SupplyGroup))
        users = ctx.session.scalar(select(func.count()).select_from(User))
        meters = ctx.session.scalar(select(func.count()).select_from(Meter))
        return not (groups or users or meters)
    finally:
        ctx.session.rollback()


def seed_demo(ctx: ServiceContext) -> SeedResult:
    if not database_is_empty(ctx):
        raise ConflictError("not_empty", "the database already has data; seed-demo only "
                                         "fills an empty database")
    # KRN 1: the pre-rollover key on base date 1993; KRN 2: the current key on 2014.
    add_vending_key(ctx, sgc=DEMO_SGC, krn=1, dkga="04", base_date=1993, ea="07",
                    key=DEMO_VENDING_KEY, actor=SEED_ACTOR)
    add_vending_key(ctx, sgc=DEMO_SGC, krn=2, dkga="04", base_date=2014, ea="07",
                    key=DEMO_VENDING_KEY, actor=SEED_ACTOR, make_current=True)
    load_tariff(ctx, DEMO_TARIFF, actor=SEED_ACTOR)
    meters = [demo_meter_number(n) for n in (1, 2, 3)]
    rows = [
        (meters[0], "Thandi Nkosi", "12 Jacaranda St, Pretoria", "ACC-0001", 2, 2014),
        (meters[1], "Pieter van Wyk", "4 Protea Ave, Stellenbosch", "ACC-0002", 2, 2014),
        (meters[2], "Amina Yusuf", "88 Baobab Rd, Polokwane", "ACC-0003", 1, 1993),
    ]
    csv_text = "meter_number,customer_name,address,account,sgc,ti,krn,kt,ea,dkga,base_date,tariff\n"
    csv_text += "".join(f'{m},{name},"{addr}",{acc},{DEMO_SGC},1,{krn},2,07,04,{bd},\n'
                        for m, name, addr, acc, krn, bd in rows)
    import_meters(ctx, io.StringIO(csv_text), actor=SEED_ACTOR)
    users: dict[str, str] = {}
    for name, role in (("admin", "admin"), ("supervisor", "supervisor"), ("clerk", "clerk")):
        password = secrets.token_urlsafe(12)
        create_user(ctx, username=name, role=role, password=password, actor=SEED_ACTOR)
        users[name] = password
    from .services.api_clients import create_api_client

    api = create_api_client(ctx, name="demo-bank", scopes="vend,engineering,readings",
                            actor=SEED_ACTOR, vendor_credit="100000.00")
    return SeedResult(users=users, meters=meters, api_keys={api.name: api.api_key})

