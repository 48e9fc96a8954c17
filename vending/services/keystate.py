"""A meter's key state: which decoder key it holds, whether it must move to another one, and
the references the security module needs (no key material ever leaves the module).

A key change is *due* when

* the meter's KRN is not its supply group's current KRN (a new key was issued), or
* the current minute no longer fits the 24-bit TID of the meter's base date (the 1993 base
  date rolled over on 2024-11-24), or
* the current TID is past the meter's key expiry number, ``(TID >> 16) > KEN`` (SPEC §4.3).

Moving to a key on another base date sets RO=1 in the key change, so the meter clears its TID
memory; the server then restarts the meter's TID sequence on the new base date.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Row, and_, bindparam, func, select
from sqlalchemy.orm import Session

import tokens
from tokens import BaseDate, Dkga, EncryptionAlgorithm, KeyType

from ..errors import InvalidInputError, KeyChangeImpossibleError, NotFoundError
from ..models import Customer, Meter, MeterStatus, SupplyGroup, Tariff, Vend, VendingKey
from ..security_module import MeterKeyRef, SealedKey, VendingKeyRef


def vending_key_ref(row: VendingKey) -> VendingKeyRef:
    return VendingKeyRef(
        sgc=row.supply_group.sgc, krn=row.krn, dkga=Dkga(row.dkga),
        base_date=BaseDate(row.base_date), ea=EncryptionAlgorithm(row.ea),
        sealed=SealedKey(kid=row.kid, nonce=row.nonce, ciphertext=row.ciphertext),
    )


def vending_key_row(session: Session, supply_group_id: int, krn: int) -> VendingKey | None:
    return session.scalars(
        select(VendingKey).where(VendingKey.supply_group_id == supply_group_id,
                                 VendingKey.krn == krn)
    ).first()


_M, _SG, _C, _VK = (Meter.__table__, SupplyGroup.__table__, Customer.__table__,
                    VendingKey.__table__)
_REPLAY = Vend.__table__.alias("replay")
_T = Tariff.__table__
# The newest tariff row: its id and creation instant (the instant too, so that an id a
# rolled-back insert used and a later one reused, as SQLite may, is not taken for the same).
_TARIFF_GENERATION = select(func.max(_T.c.id)).scalar_subquery()
_TARIFF_GENERATION_AT = (select(_T.c.created_at).order_by(_T.c.id.desc()).limit(1)
                         .scalar_subquery())
_KEY_COLUMNS = (_VK.c.krn, _VK.c.dkga, _VK.c.base_date, _VK.c.ea, _VK.c.kid, _VK.c.nonce,
                _VK.c.ciphertext)
# The same, named apart from the meter's own krn, dkga, base_date and ea in the joined read.
_JOINED_KEY_COLUMNS = tuple(column.label(f"key_{column.name}") for column in _KEY_COLUMNS)


@dataclass(frozen=True, slots=True)
class MeterState:
    """A meter as the issuing services need it: its row (the key state and last TID), its
    supply group's code and current KRN, the customer's identity and tariff category, and
    a reference to the vending key it is on (None when that key is not loaded).

    Read with one statement (:func:`lock_meter_state`), plain values rather than ORM
    entities: a vend is the hot path, and loading, lazy-loading and flushing entities cost
    several times the SQL itself. Writes go through :mod:`.issuing` as explicit ``UPDATE``s."""

    id: int
    meter_number: str
    pan: str
    customer_id: int
    supply_group_id: int
    ti: int
    krn: int
    kt: int
    ea: str
    dkga: str
    base_date: int
    ken: int
    status: MeterStatus
    tariff_code: str | None
    last_tid: int
    carried_credit: Decimal
    sgc: str
    current_krn: int | None
    customer_name: str
    address: str
    account: str
    category: str | None
    key: VendingKeyRef | None
    # The vend already made under the caller's (client, request_id), if any (a retry).
    replay_id: int | None = None
    # The newest tariff row (id, created_at): tariff versions are only ever added, so while
    # it is unchanged the candidate versions of a code are too (vending.pricing.tariff_for).
    tariff_generation: tuple[int, datetime] | None = None

    def key_state(self) -> dict[str, object]:
        """The key data (no key material) as plain values, for audit before/after records."""
        return {"sgc": self.sgc, "ti": self.ti, "krn": self.krn, "kt": self.kt, "ea": self.ea,
                "dkga": self.dkga, "base_date": self.base_date, "ken": self.ken,
                "last_tid": self.last_tid}


_METER_STATE = (
    select(_M.c.id, _M.c.meter_number, _M.c.pan, _M.c.customer_id, _M.c.supply_group_id,
           _M.c.ti, _M.c.krn, _M.c.kt, _M.c.ea, _M.c.dkga, _M.c.base_date, _M.c.ken,
           _M.c.status, _M.c.tariff_code, _M.c.last_tid, _M.c.carried_credit, _SG.c.sgc,
           _SG.c.current_krn,
           _C.c.name, _C.c.address, _C.c.account, _C.c.category, *_JOINED_KEY_COLUMNS,
           _REPLAY.c.id.label("replay_id"), _TARIFF_GENERATION.label("tariff_generation"),
           _TARIFF_GENERATION_AT.label("tariff_generation_at"))
    .select_from(
        _M.join(_SG, _SG.c.id == _M.c.supply_group_id)
        .join(_C, _C.c.id == _M.c.customer_id)
        .outerjoin(_VK, and_(_VK.c.supply_group_id == _M.c.supply_group_id,
                             _VK.c.krn == _M.c.krn))
        .outerjoin(_REPLAY, and_(_REPLAY.c.client_ref == bindparam("client_ref"),
                                 _REPLAY.c.request_id == bindparam("request_id"))))
    .where(_M.c.meter_number == bindparam("meter_number"))
)
_METER_STATE_LOCKED = _METER_STATE.with_for_update(of=_M)


def _key_ref(sgc: str, row: Any, prefix: str = "") -> VendingKeyRef:
    def get(name: str) -> Any:
        return getattr(row, prefix + name)

    return VendingKeyRef(
        sgc=sgc, krn=get("krn"), dkga=Dkga(get("dkga")), base_date=BaseDate(get("base_date")),
        ea=EncryptionAlgorithm(get("ea")),
        sealed=SealedKey(kid=get("kid"), nonce=get("nonce"), ciphertext=get("ciphertext")),
    )


def _meter_state(row: Row[Any] | None, meter_number: str) -> MeterState:
    if row is None:
        raise NotFoundError("unknown_meter", f"meter {meter_number} is not registered")
    return MeterState(
        id=row.id, meter_number=row.meter_number, pan=row.pan, customer_id=row.customer_id,
        supply_group_id=row.supply_group_id, ti=row.ti, krn=row.krn, kt=row.kt, ea=row.ea,
        dkga=row.dkga, base_date=row.base_date, ken=row.ken, status=MeterStatus(row.status),
        tariff_code=row.tariff_code, last_tid=row.last_tid,
        carried_credit=row.carried_credit, sgc=row.sgc,
        current_krn=row.current_krn, customer_name=row.name, address=row.address,
        account=row.account, category=row.category,
        # Only the key of the meter's own KRN: see lock_meter_state for when it is not.
        key=_key_ref(row.sgc, row, "key_") if row.key_krn == row.krn else None,
        replay_id=row.replay_id,
        tariff_generation=None if row.tariff_generation is None
        else (row.tariff_generation, row.tariff_generation_at),
    )


def lock_meter_state(connection: Connection, meter_number: str, *,
                     client_ref: str | None = None,
                     request_id: str | None = None) -> MeterState:
    """The meter with its supply group, customer and current vending key, its row locked
    for the rest of the transaction (``FOR UPDATE OF meters`` only: the shared supply group
    and customer rows stay free; on SQLite the ``BEGIN IMMEDIATE`` write lock serialises
    writers), in one statement.

    On PostgreSQL a read that waited for the lock gets the meter row as the vend before it
    left it, but the joined rows as they were when this statement began: if that vend moved
    the meter to another key, the joined key no longer matches (the outer join comes back
    empty), and the key is read again with a statement of its own. For the same reason the
    lookup of a vend already made under ``client_ref`` and ``request_id`` (``replay_id``) may
    miss a duplicate that committed during the wait; the unique (client_ref, request_id)
    constraint catches it at the insert, and the service then answers with the winner's
    vend."""
    row = connection.execute(_METER_STATE_LOCKED, {
        "meter_number": meter_number, "client_ref": client_ref,
        "request_id": request_id}).first()
    return _with_key(connection, _meter_state(row, meter_number))


def find_meter_state(connection: Connection, meter_number: str) -> MeterState:
    """:func:`lock_meter_state` without the lock (confirmations and trial vends)."""
    row = connection.execute(_METER_STATE, {
        "meter_number": meter_number, "client_ref": None, "request_id": None}).first()
    return _with_key(connection, _meter_state(row, meter_number))


def _with_key(connection: Connection, meter: MeterState) -> MeterState:
    if meter.key is not None:
        return meter
    key = key_ref(connection, meter, meter.krn)
    return meter if key is None else replace(meter, key=key)


def key_ref(connection: Connection, meter: MeterState, krn: int) -> VendingKeyRef | None:
    """The reference of the meter's supply group's key ``krn`` (None if not loaded)."""
    if krn == meter.krn and meter.key is not None:
        return meter.key
    row = connection.execute(
        select(*_KEY_COLUMNS).where(_VK.c.supply_group_id == meter.supply_group_id,
                                    _VK.c.krn == krn)).first()
    return None if row is None else _key_ref(meter.sgc, row)


def meter_key(meter: MeterState, key: VendingKeyRef, *, ti: int | None = None) -> MeterKeyRef:
    return MeterKeyRef(vending_key=key, pan=meter.pan, kt=KeyType(meter.kt),
                       ti=meter.ti if ti is None else ti)


@dataclass(frozen=True, slots=True)
class KeyPlan:
    """The meter's current key and, when a change is due, the key to move to."""

    current: MeterKeyRef
    target: MeterKeyRef | None = None
    reasons: tuple[str, ...] = ()

    @property
    def due(self) -> bool:
        return self.target is not None

    @property
    def rollover(self) -> bool:
        """The change moves the base date (RO=1: the meter clears its TID memory)."""
        return self.target is not None and self.target.base_date != self.current.base_date

    @property
    def active(self) -> MeterKeyRef:
        """The key the meter holds once the plan's tokens are entered."""
        return self.target or self.current


def validate_meter_number(text: object) -> str:
    try:
        return tokens.validate_drn(str(text))
    except tokens.IdentifierError as exc:
        code = "check_digit" if isinstance(exc, tokens.CheckDigitError) else "invalid_meter_number"
        raise InvalidInputError(code, str(exc)) from None


def lock_meter(session: Session, meter_number: str) -> Meter:
    """The meter row, locked for the rest of the transaction (``FOR UPDATE``; on SQLite the
    ``BEGIN IMMEDIATE`` write lock already serialises writers)."""
    meter = session.scalars(
        select(Meter).where(Meter.meter_number == meter_number).with_for_update()
    ).first()
    if meter is None:
        raise NotFoundError("unknown_meter", f"meter {meter_number} is not registered")
    return meter


def find_meter(session: Session, meter_number: str) -> Meter:
    meter = session.scalars(select(Meter).where(Meter.meter_number == meter_number)).first()
    if meter is None:
        raise NotFoundError("unknown_meter", f"meter {meter_number} is not registered")
    return meter


def _tid_problem(meter: MeterState, at: datetime) -> str | None:
    try:
        tid = tokens.tid_from_datetime(at, meter.base_date)
    except tokens.TidRolloverError:
        return "tid_rollover"
    if (tid >> 16) > meter.ken:
        return "key_expired"
    return None


def plan_key(
    connection: Connection, meter: MeterState, at: datetime, *, to_krn: int | None = None,
    to_ti: int | None = None,
) -> KeyPlan:
    """What key the meter holds and whether it must change before a TID-bearing token.

    ``to_krn``/``to_ti`` request an explicit change (engineering key change, re-key campaign);
    otherwise the supply group's current KRN is the target.
    """
    sgc = meter.sgc
    if meter.key is None:
        raise KeyChangeImpossibleError(
            "no_vending_key", f"no vending key is loaded for SGC {sgc} KRN {meter.krn}"
        )
    current = meter_key(meter, meter.key)
    target_krn = to_krn if to_krn is not None else (meter.current_krn or meter.krn)
    target_ti = meter.ti if to_ti is None else to_ti
    reasons: list[str] = []
    if target_krn != meter.krn:
        reasons.append("new_key" if to_krn is None else "requested")
    if target_ti != meter.ti:
        reasons.append("new_ti")
    problem = _tid_problem(meter, at)
    if problem:
        reasons.append(problem)
    if not reasons:
        return KeyPlan(current=current)
    target = key_ref(connection, meter, target_krn)
    if target is None:
        raise KeyChangeImpossibleError(
            "no_vending_key", f"no vending key is loaded for SGC {sgc} KRN {target_krn}"
        )
    target_base = int(target.base_date)
    if problem == "tid_rollover" and target_base <= meter.base_date:
        raise KeyChangeImpossibleError(
            "key_change_impossible",
            f"meter {meter.meter_number}: base date {meter.base_date} has rolled over and SGC "
            f"{sgc} has no current key on a later base date (load one with add-vending-key)",
        )
    if target.krn == meter.krn and target_ti == meter.ti:
        raise KeyChangeImpossibleError(
            "key_change_impossible",
            f"meter {meter.meter_number}: {problem or 'key change'} needs a new key, but SGC "
            f"{sgc} has no newer current key",
        )
    if target_base < meter.base_date:
        raise KeyChangeImpossibleError(
            "key_change_impossible",
            f"meter {meter.meter_number} cannot move back to base date {target_base}",
        )
    try:
        tokens.tid_from_datetime(at, target_base)
    except tokens.TidRolloverError:
        raise KeyChangeImpossibleError(
            "key_change_impossible",
            f"SGC {sgc} KRN {target.krn} is on base date {target_base}, "
            "which has rolled over too",
        ) from None
    return KeyPlan(current=current, target=meter_key(meter, target, ti=target_ti),
                   reasons=tuple(reasons))


def key_move(meter: MeterState, plan: KeyPlan) -> dict[str, int | str]:
    """The meter row's new key columns once the plan's key change is issued (empty when no
    change is due). RO=1 (a new base date) restarts the TID sequence: the meter forgot its
    TIDs."""
    if plan.target is None:
        return {}
    vk = plan.target.vending_key
    values: dict[str, int | str] = {
        "krn": vk.krn, "base_date": int(vk.base_date), "dkga": vk.dkga.value,
        "ea": vk.ea.value, "ti": plan.target.ti, "ken": 255}
    if plan.rollover:
        values["last_tid"] = 0
    return values
