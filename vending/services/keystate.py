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

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

import tokens
from tokens import BaseDate, Dkga, EncryptionAlgorithm, KeyType

from ..errors import InvalidInputError, KeyChangeImpossibleError, NotFoundError
from ..models import Meter, VendingKey
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


def meter_key_ref(meter: Meter, key: VendingKey, *, ti: int | None = None) -> MeterKeyRef:
    return MeterKeyRef(vending_key=vending_key_ref(key), pan=meter.pan, kt=KeyType(meter.kt),
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


def _tid_problem(meter: Meter, at: datetime) -> str | None:
    try:
        tid = tokens.tid_from_datetime(at, meter.base_date)
    except tokens.TidRolloverError:
        return "tid_rollover"
    if (tid >> 16) > meter.ken:
        return "key_expired"
    return None


def plan_key(
    session: Session, meter: Meter, at: datetime, *, to_krn: int | None = None,
    to_ti: int | None = None,
) -> KeyPlan:
    """What key the meter holds and whether it must change before a TID-bearing token.

    ``to_krn``/``to_ti`` request an explicit change (engineering key change, re-key campaign);
    otherwise the supply group's current KRN is the target.
    """
    sg = meter.supply_group
    current_row = vending_key_row(session, sg.id, meter.krn)
    if current_row is None:
        raise KeyChangeImpossibleError(
            "no_vending_key", f"no vending key is loaded for SGC {sg.sgc} KRN {meter.krn}"
        )
    current = meter_key_ref(meter, current_row)
    target_krn = to_krn if to_krn is not None else (sg.current_krn or meter.krn)
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
    target_row = current_row if target_krn == meter.krn else vending_key_row(
        session, sg.id, target_krn)
    if target_row is None:
        raise KeyChangeImpossibleError(
            "no_vending_key", f"no vending key is loaded for SGC {sg.sgc} KRN {target_krn}"
        )
    if problem == "tid_rollover" and target_row.base_date <= meter.base_date:
        raise KeyChangeImpossibleError(
            "key_change_impossible",
            f"meter {meter.meter_number}: base date {meter.base_date} has rolled over and SGC "
            f"{sg.sgc} has no current key on a later base date (load one with add-vending-key)",
        )
    if target_row.krn == meter.krn and target_ti == meter.ti:
        raise KeyChangeImpossibleError(
            "key_change_impossible",
            f"meter {meter.meter_number}: {problem or 'key change'} needs a new key, but SGC "
            f"{sg.sgc} has no newer current key",
        )
    if target_row.base_date < meter.base_date:
        raise KeyChangeImpossibleError(
            "key_change_impossible",
            f"meter {meter.meter_number} cannot move back to base date {target_row.base_date}",
        )
    try:
        tokens.tid_from_datetime(at, target_row.base_date)
    except tokens.TidRolloverError:
        raise KeyChangeImpossibleError(
            "key_change_impossible",
            f"SGC {sg.sgc} KRN {target_row.krn} is on base date {target_row.base_date}, "
            "which has rolled over too",
        ) from None
    return KeyPlan(current=current, target=meter_key_ref(meter, target_row, ti=target_ti),
                   reasons=tuple(reasons))


def apply_key_move(meter: Meter, plan: KeyPlan) -> None:
    """Move the meter record to the plan's target key (inside the same transaction)."""
    if plan.target is None:
        return
    vk = plan.target.vending_key
    meter.krn = vk.krn
    meter.base_date = int(vk.base_date)
    meter.dkga = vk.dkga.value
    meter.ea = vk.ea.value
    meter.ti = plan.target.ti
    meter.ken = 255
    if plan.rollover:
        meter.last_tid = 0  # RO=1: the meter forgot its TIDs; a new base date, a new sequence
