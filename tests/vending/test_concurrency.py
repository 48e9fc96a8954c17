"""Concurrent vends from several processes with real committed transactions: the row lock
(``FOR UPDATE`` on PostgreSQL, the ``BEGIN IMMEDIATE`` write lock on SQLite, which is what
several gunicorn workers of ``make run`` share) and the unique constraints, not luck, keep
TIDs and records straight."""

from __future__ import annotations

import multiprocessing
import multiprocessing.pool
import os
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from vend_worker import worker_init, worker_vend
from vending_fixtures import (
    TestWorld,
    alembic_upgrade,
    decoder_key,
    pg_create_database,
    pg_drop_database,
)

import tokens
from vending.database import make_engine
from vending.models import IssuedToken, Meter, Vend
from vending.security_module import MasterKeyring, SoftwareSecurityModule
from vending.services import ServiceContext, VendingPolicy

PROCESSES = 4


@pytest.fixture(scope="module", params=[pytest.param("postgresql", marks=pytest.mark.postgres),
                                        "sqlite"])
def committed_world(request: pytest.FixtureRequest, master_keys: str,
                    tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, TestWorld]]:
    """A migrated database of its own, with the test world committed."""
    admin = os.environ.get("TEST_POSTGRES_URL",
                           "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('concurrent') / 'c.db'}"
    else:
        url = pg_create_database(admin, f"stsvend_c_{os.getpid()}")
    alembic_upgrade(url)
    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as session:
        ctx = ServiceContext(session=session,
                             security=SoftwareSecurityModule(MasterKeyring.parse(master_keys)),
                             policy=VendingPolicy())
        world = TestWorld.build(ctx)
    engine.dispose()
    yield url, world
    if request.param != "sqlite":
        pg_drop_database(admin, url)


@pytest.fixture(scope="module")
def pool(master_keys: str) -> Iterator[multiprocessing.pool.Pool]:
    """Worker processes shared by both databases (spawned: no state inherited)."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(PROCESSES, initializer=worker_init, initargs=(master_keys,)) as workers:
        yield workers


def test_fifty_concurrent_vends_to_one_meter(committed_world: tuple[str, TestWorld],
                                             pool: multiprocessing.pool.Pool) -> None:
    url, world = committed_world
    number = world.meters["current"]
    jobs = [(url, number, "10", f"c-{i}", f"client-{i % 5}") for i in range(50)]
    results = pool.map(worker_vend, jobs, chunksize=1)
    assert len({r["pid"] for r in results}) > 1  # really several processes
    tids = [r["tid"] for r in results]
    assert len(set(tids)) == 50
    assert len({r["receipt_no"] for r in results}) == 50
    assert not any(r["replayed"] for r in results)
    key = decoder_key(number, krn=2)
    assert sorted(tokens.decode(r["token"], key).tid for r in results) == sorted(tids)
    engine = make_engine(url)
    with Session(engine) as session:
        meter = session.scalars(select(Meter).where(Meter.meter_number == number)).one()
        assert session.scalar(select(func.count()).select_from(Vend)
                              .where(Vend.meter_id == meter.id)) == 50
        assert session.scalar(select(func.count(func.distinct(IssuedToken.tid)))
                              .where(IssuedToken.meter_id == meter.id)) == 50
        assert meter.last_tid == max(tids)
    engine.dispose()


def test_racing_duplicates_return_the_winners_vend(committed_world: tuple[str, TestWorld],
                                                   pool: multiprocessing.pool.Pool) -> None:
    url, world = committed_world
    number = world.meters["second"]
    results = pool.map(worker_vend, [(url, number, "20", "dup-1", "racer")] * 24, chunksize=1)
    assert len({r["vend_id"] for r in results}) == 1
    assert len({r["token"] for r in results}) == 1
    assert sum(not r["replayed"] for r in results) == 1
    engine = make_engine(url)
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Vend)
                              .where(Vend.request_id == "dup-1")) == 1
    engine.dispose()
