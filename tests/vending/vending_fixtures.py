"""Helpers of the vending tests (importable by the worker processes of the concurrency
tests too): databases, migrations, a fixed clock, and a small world of keys and meters."""

from __future__ import annotations

import base64
import io
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

import tokens
from vending.database import make_engine
from vending.models import Meter
from vending.services import (
    Actor,
    ServiceContext,
    add_vending_key,
    import_meters,
    load_tariff,
)

REPO = Path(__file__).resolve().parents[2]
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
# SQLite and PostgreSQL, the parameters of each directory's ``engine`` fixture.
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
# The tests' fixed "now": a Monday morning in March 2026 (UTC).
T0 = datetime(2026, 3, 2, 9, 30, 15, tzinfo=UTC)
ADMIN = Actor("cli", "test-admin")
CLERK = Actor("user", "clerk1")

# Test vending keys (random per run would be stronger, fixed ones make failures reproducible).
VK_04 = bytes.fromhex("0f1e2d3c4b5a69788796a5b4c3d2e1f001234567")
VK_04_NEW = bytes.fromhex("1122334455667788990011223344556677889900")
VK_02 = bytes.fromhex("4c4c4c4c4c4c4c4c")
SGC = "654321"


class FixedClock:
    """An injectable clock that moves only when told to."""

    def __init__(self, start: datetime) -> None:
        self.at = start

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **kwargs: float) -> None:
        self.at += timedelta(**kwargs)


def master_keys_value() -> str:
    return ",".join(f"{kid}:{base64.b64encode(secrets.token_bytes(32)).decode()}"
                    for kid in ("test2", "test1"))


def alembic_config(url: str) -> AlembicConfig:
    cfg = AlembicConfig(str(REPO / "alembic.ini"))
    cfg.set_main_option("sqlalchemy.url", url)
    cfg.attributes["configure_logger"] = False
    return cfg


def alembic_upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def alembic_downgrade(url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def pg_create_database(admin_url: str, name: str) -> str:
    """Create (or re-create) database ``name`` next to ``admin_url``; fail loudly."""
    try:
        with psycopg.connect(_libpq(admin_url), autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL at TEST_POSTGRES_URL is unreachable: {exc}", pytrace=False)
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def pg_drop_database(admin_url: str, url: str) -> None:
    name = make_url(url).database
    with psycopg.connect(_libpq(admin_url), autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pg_admin_url() -> str:
    """The PostgreSQL server the tests create their databases through."""
    return os.environ.get("TEST_POSTGRES_URL", DEFAULT_PG)


def migrated_postgres(prefix: str) -> Iterator[str]:
    """Body of a session fixture: a fresh migrated database ``<prefix>_<pid>``, dropped at the
    end. Each test directory passes its own prefix so that one run of several directories never
    drops another's database."""
    admin = pg_admin_url()
    url = pg_create_database(admin, f"{prefix}_{os.getpid()}")
    alembic_upgrade(url)
    yield url
    pg_drop_database(admin, url)


def engine_for(request: pytest.FixtureRequest, sqlite_url: str, postgres_url: str
               ) -> Iterator[Engine]:
    """Body of a directory's ``engine`` fixture, parametrised over ``"sqlite"`` and
    ``"postgresql"``: an engine on the database that the fixture named ``sqlite_url`` or
    ``postgres_url`` makes (each directory names its own, so one run never drops another's)."""
    engine = make_engine(request.getfixturevalue(
        sqlite_url if request.param == "sqlite" else postgres_url))
    yield engine
    engine.dispose()


def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory, folder: str) -> str:
    """A migrated SQLite database file in a fresh temporary folder."""
    url = f"sqlite:///{tmp_path_factory.mktemp(folder) / 'stsvend.db'}"
    alembic_upgrade(url)
    return url


def make_config(url: str, master_keys: str, **overrides: Any) -> type:
    """A config class for ``create_app`` with explicit values (no environment)."""
    values: dict[str, Any] = {
        "SECRET_KEY": "test-secret-" + secrets.token_hex(8),
        "STSVEND_MASTER_KEYS": master_keys,
        "DATABASE_URL": url,
        "STSVEND_SECURITY_MODULE": "software",
        "STSVEND_DEFAULT_TARIFF": "RES",
        "STSVEND_CURRENCY": "ZAR",
        "STSVEND_MIN_VEND_AMOUNT": Decimal("1.00"),
        "STSVEND_MAX_VEND_AMOUNT": Decimal("10000.00"),
        "STSVEND_REVERSAL_WINDOW_MINUTES": 15,
        "LOG_LEVEL": "DEBUG",
        "TESTING": True,
    }
    values.update(overrides)
    from config import Config

    return type("TestConfig", (Config,), values)


def drn(serial: int, mfr: str = "07") -> str:
    body = f"{mfr}{serial:08d}"
    return body + tokens.luhn_check_digit(body)


CSV_HEADER = "meter_number,customer_name,address,account,sgc,ti,krn,kt,ea,dkga,base_date,tariff\n"


@dataclass
class TestWorld:
    """Supply group ``SGC``: KRN 1 (DKGA-02, base 1993), KRN 2 (DKGA-04 EA07, base 2014,
    current), KRN 3 (DKGA-04 EA07, base 2014, loaded but not current); tariff RES at 2.50;
    meters ``current`` (KRN 2), ``second`` (KRN 2), ``legacy`` (KRN 1, base 1993)."""

    __test__ = False  # not a test class

    ctx: ServiceContext
    meters: dict[str, str] = field(default_factory=dict)

    @classmethod
    def build(cls, ctx: ServiceContext) -> TestWorld:
        add_vending_key(ctx, sgc=SGC, krn=1, dkga="02", base_date=1993, ea="07", key=VK_02,
                        actor=ADMIN)
        add_vending_key(ctx, sgc=SGC, krn=2, dkga="04", base_date=2014, ea="07", key=VK_04,
                        actor=ADMIN, make_current=True)
        add_vending_key(ctx, sgc=SGC, krn=3, dkga="04", base_date=2014, ea="07",
                        key=VK_04_NEW, actor=ADMIN)
        load_tariff(ctx, {"code": "RES", "name": "Residential", "currency": "ZAR",
                          "effective_from": "2020-01-01", "energy": {"flat": "2.5000"}},
                    actor=ADMIN)
        world = cls(ctx=ctx, meters={"current": drn(1), "second": drn(2), "legacy": drn(3)})
        rows = [(world.meters["current"], "A", 2, 2014, "04"),
                (world.meters["second"], "B", 2, 2014, "04"),
                (world.meters["legacy"], "C", 1, 1993, "02")]
        text = CSV_HEADER + "".join(
            f"{m},Customer {c},{c} Street,ACC-{c},{SGC},1,{krn},2,07,{dkga},{bd},\n"
            for m, c, krn, bd, dkga in rows)
        import_meters(ctx, io.StringIO(text), actor=ADMIN)
        return world

    def meter(self, name: str) -> Meter:
        from sqlalchemy import select

        number = self.meters.get(name, name)
        meter = self.ctx.session.scalars(select(Meter).where(Meter.meter_number == number)).one()
        self.ctx.session.refresh(meter)
        return meter


VENDING_KEYS = {1: (VK_02, "02", 1993), 2: (VK_04, "04", 2014), 3: (VK_04_NEW, "04", 2014)}


def decoder_key(meter_number: str, krn: int, ti: int = 1) -> tokens.DecoderKey:
    """The meter's decoder key, derived independently of the server (the test's oracle)."""
    vk, dkga, bd = VENDING_KEYS[krn]
    return tokens.KeyDerivation(dkga=dkga, vending_key=vk, pan=tokens.pan_from_drn(meter_number),
                                kt=2, sgc=SGC, ti=ti, krn=krn, base_date=bd, ea="07").derive()



class RecordingSecurityModule:
    """A stand-in for a hardware module adapter: delegates to the software module and records
    which operations the server asked for (never any key)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.inner, name)
        if callable(target):
            def call(*args: Any, **kwargs: Any) -> Any:
                self.calls.append(name)
                return target(*args, **kwargs)
            return call
        return target


def recording_module_factory(config: Any) -> RecordingSecurityModule:
    """``STSVEND_SECURITY_MODULE=vending_fixtures:recording_module_factory``."""
    from vending.security_module import MasterKeyring, SoftwareSecurityModule

    return RecordingSecurityModule(SoftwareSecurityModule(
        MasterKeyring.parse(config["STSVEND_MASTER_KEYS"])))
