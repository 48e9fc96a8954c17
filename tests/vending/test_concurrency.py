"""Concurrent vends from several processes with real committed transactions: the row lock
(``FOR UPDATE`` on PostgreSQL, the ``BEGIN IMMEDIATE`` write lock on SQLite, which is what
several gunicorn workers of ``make run`` share) and the unique constraints, not luck, keep
TIDs and records straight."""

from __future__ import annotations

import multiprocessing
import multiprocessing.pool
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

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
from vending.services import Actor, ServiceContext, VendingPolicy, vend
from vending.services.answers import VendAnswer

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


def test_a_vend_that_waited_for_the_lock_sees_the_key_change_before_it(
        committed_world: tuple[str, TestWorld], master_keys: str) -> None:
    """The meter is read and locked in one statement, joined with its vending key. A vend that
    waits for the lock while another vend moves the meter to a new key must make its token
    under the new key, not fail and not use the key it would have read before the wait."""
    url, world = committed_world
    number = world.meters["legacy"]  # KRN 1 on base date 1993: its next vend moves it to KRN 2
    engine = make_engine(url)
    security = SoftwareSecurityModule(MasterKeyring.parse(master_keys))
    holding, release = threading.Event(), threading.Event()

    def sell(request_id: str, hold: bool) -> VendAnswer:
        def keep_the_lock(_session: Session, _answer: VendAnswer) -> None:
            holding.set()
            assert release.wait(20)

        with Session(engine, expire_on_commit=False) as session:
            ctx = ServiceContext(session=session, security=security, policy=VendingPolicy())
            return vend(ctx, meter_number=number, amount="10", request_id=request_id,
                        actor=Actor("api", "race"), on_issue=keep_the_lock if hold else None)

    with ThreadPoolExecutor(2) as executor:
        first = executor.submit(sell, "key-change-first", True)
        assert holding.wait(20)  # the first vend holds the meter row, its key change written
        second = executor.submit(sell, "key-change-second", False)
        time.sleep(1.0)  # the second is now waiting for the meter's lock
        assert not second.done()
        release.set()
        moved, after = first.result(timeout=30), second.result(timeout=30)
    engine.dispose()
    assert moved.key_change and not after.key_change
    credit = [t for t in after.tokens if t.type == "credit"]
    assert len(credit) == 1
    decoded = tokens.decode(credit[0].token, decoder_key(number, krn=2))
    assert decoded.tid == credit[0].tid
