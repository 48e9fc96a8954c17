"""Failed sign-ins racing each other all count (the counter row is locked, not read and
written back), on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from flask import Flask
from pos_fixtures import PosWorld
from sqlalchemy import select

from vending.database import db
from vending.models import PosAccount, User
from vending.services import ServiceContext
from vending.services.accounts import LoginRefusedError, login

ATTEMPTS = 6


def test_racing_failures_all_count(app: Flask, world: PosWorld) -> None:
    barrier = threading.Barrier(ATTEMPTS)
    codes: list[str] = []
    errors: list[BaseException] = []

    def attempt() -> None:
        with app.app_context():
            ctx = ServiceContext.from_app(app, db.session)
            barrier.wait(timeout=30)
            try:
                login(ctx, "clerk", "wrong", max_failures=ATTEMPTS,
                      lockout=timedelta(minutes=15))
            except LoginRefusedError as exc:
                codes.append(exc.code)
            except BaseException as exc:  # reported below, not swallowed
                errors.append(exc)

    threads = [threading.Thread(target=attempt) for _ in range(ATTEMPTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert codes == ["bad_credentials"] * ATTEMPTS
    with app.app_context():
        clerk = db.session.scalars(select(User).where(User.username == "clerk")).one()
        account = db.session.get(PosAccount, clerk.id)
        assert account is not None and account.locked_until is not None, (
            "some failures were lost: the account is not locked")
    with app.app_context(), pytest.raises(LoginRefusedError) as refused:
        login(ServiceContext.from_app(app, db.session), "clerk", "clerk-pass-1",
              max_failures=ATTEMPTS, lockout=timedelta(minutes=15))
    assert refused.value.code == "locked_out"
