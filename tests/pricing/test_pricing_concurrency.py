"""Two meters of one customer vending at once against the same debt, with real committed
transactions from several threads (each its own session and connection): the debt rows locked
``FOR UPDATE`` (the write lock on SQLite) and the guarded ``UPDATE`` keep the balance exact."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from pricing_world import PricingWorld
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from vending_fixtures import (
    ADMIN,
    CSV_HEADER,
    SGC,
    alembic_upgrade,
    drn,
    pg_create_database,
    pg_drop_database,
)

from vending.database import make_engine
from vending.models import Debt, DebtPayment
from vending.security_module import MasterKeyring, SoftwareSecurityModule
from vending.services import Actor, ServiceContext, VendingPolicy, import_meters, vend
from vending.services.debts import add_debt

SECOND_DEBT_METER = drn(21)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql",
                                                                 marks=pytest.mark.postgres)])
def committed(request: pytest.FixtureRequest, master_keys: str,
              tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[tuple[Engine, SoftwareSecurityModule, PricingWorld]]:
    admin = os.environ.get("TEST_POSTGRES_URL",
                           "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('pricing-concurrent') / 'c.db'}"
    else:
        url = pg_create_database(admin, f"stsvend_pc_{os.getpid()}")
    alembic_upgrade(url)
    engine = make_engine(url)
    security = SoftwareSecurityModule(MasterKeyring.parse(master_keys))
    with Session(engine, expire_on_commit=False) as session:
        ctx = ServiceContext(session=session, security=security, policy=VendingPolicy())
        world = PricingWorld.build(ctx)
        import_meters(ctx, io.StringIO(
            CSV_HEADER + f"{SECOND_DEBT_METER},Customer debt,debt Street,"
                         f"{world.account('debt')},{SGC},1,2,2,07,04,2014,DEBT\n"), actor=ADMIN)
        add_debt(ctx, account=world.account("debt"), amount="100.00", description="arrears",
                 actor=ADMIN)
    yield engine, security, world
    engine.dispose()
    if request.param != "sqlite":
        pg_drop_database(admin, url)


def test_concurrent_vends_on_two_meters_pay_one_debt_exactly(
        committed: tuple[Engine, SoftwareSecurityModule, PricingWorld]) -> None:
    engine, security, world = committed
    meters = [world.meters["debt"], SECOND_DEBT_METER]

    def one(i: int) -> Decimal:
        with Session(engine, expire_on_commit=False) as session:
            ctx = ServiceContext(session=session, security=security, policy=VendingPolicy())
            answer = vend(ctx, meter_number=meters[i % 2], amount="100.00",
                          request_id=f"race-{i}", actor=Actor("api", "race"))
        return sum((Decimal(line["amount"]) for line in answer.breakdown
                    if line["kind"] == "debt"), Decimal(0))

    with ThreadPoolExecutor(max_workers=6) as threads:
        paid = list(threads.map(one, range(12)))
    # 25 % of each vend until the 100.00 is paid: four vends pay 25.00, the rest nothing
    assert sum(paid, Decimal(0)) == Decimal("100.00")
    assert sorted(paid, reverse=True)[:5] == [Decimal("25.00")] * 4 + [Decimal(0)]
    with Session(engine) as session:
        assert session.scalars(select(Debt.balance)).one() == 0
        assert session.scalar(select(func.sum(DebtPayment.amount))) == Decimal("100.00")
