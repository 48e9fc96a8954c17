"""Worker side of the multi-process tests: a spawned process imports only this module (kept
light: no pytest, no alembic), opens its own engine and vends in its own transactions."""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy.orm import Session

from vending.database import make_engine
from vending.security_module import MasterKeyring, SoftwareSecurityModule
from vending.services import Actor, ServiceContext, VendingPolicy, vend

_WORKER: dict[str, Any] = {}


def worker_init(master_keys: str) -> None:
    """Pool initializer: the security module of this worker process."""
    _WORKER["security"] = SoftwareSecurityModule(MasterKeyring.parse(master_keys))


def worker_vend(job: tuple[str, str, str, str, str]) -> dict[str, Any]:
    """One vend in its own session and transaction, as a server worker would do it (one
    engine per database URL and process)."""
    url, meter_number, amount, request_id, client = job
    engine = _WORKER.get(url)
    if engine is None:
        engine = _WORKER[url] = make_engine(url)
    with Session(engine, expire_on_commit=False) as session:
        ctx = ServiceContext(session=session, security=_WORKER["security"],
                             policy=VendingPolicy())
        answer = vend(ctx, meter_number=meter_number, amount=amount, request_id=request_id,
                      actor=Actor("api", client))
    return {"vend_id": answer.vend_id, "receipt_no": answer.receipt_no,
            "tid": answer.tokens[-1].tid, "token": answer.tokens[-1].token,
            "replayed": answer.replayed, "pid": os.getpid()}
