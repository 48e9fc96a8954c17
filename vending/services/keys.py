"""Supply groups and vending keys: load a key (sealed at once by the security module), make a
KRN current, and re-seal every key under a new master key."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

import tokens
from tokens import BaseDate, Dkga, EncryptionAlgorithm
from tokens.identifiers import validate_sgc

from ..errors import ConflictError, InvalidInputError, NotFoundError
from ..models import SupplyGroup, VendingKey
from ..security_module import SecurityModuleError
from . import audit
from .context import Actor, ServiceContext
from .keystate import vending_key_ref, vending_key_row


@dataclass(frozen=True, slots=True)
class VendingKeyInfo:
    """What may be shown about a loaded key: its identity and a key check value."""

    sgc: str
    krn: int
    dkga: str
    base_date: int
    ea: str
    kid: str
    kcv: str
    current: bool


def parse_key_hex(text: str) -> bytes:
    """Key bytes from hex typed or piped on stdin (spaces ignored). The error never echoes."""
    compact = "".join(text.split())
    try:
        return bytes.fromhex(compact)
    except ValueError:
        raise InvalidInputError("invalid_key", "the vending key must be hexadecimal") from None


def _supply_group(ctx: ServiceContext, sgc: str, *, create: bool) -> SupplyGroup:
    try:
        sgc = validate_sgc(sgc)
    except tokens.StsError as exc:
        raise InvalidInputError("invalid_sgc", str(exc)) from None
    group = ctx.session.scalars(select(SupplyGroup).where(SupplyGroup.sgc == sgc)).first()
    if group is None:
        if not create:
            raise NotFoundError("unknown_sgc", f"supply group {sgc} does not exist")
        group = SupplyGroup(sgc=sgc, name=f"Supply group {sgc}")
        ctx.session.add(group)
        ctx.session.flush()
    return group


def add_vending_key(
    ctx: ServiceContext, *, sgc: str, krn: int, dkga: str, base_date: int, ea: str,
    key: bytes, actor: Actor, make_current: bool | None = None,
) -> VendingKeyInfo:
    """Seal and store a supply group's vending key. It becomes the group's current key when
    the group has none yet, or when ``make_current`` is True."""
    session = ctx.session
    try:
        try:
            d, bd, e = Dkga.parse(dkga), BaseDate.parse(base_date), EncryptionAlgorithm.parse(ea)
        except tokens.StsError as exc:
            raise InvalidInputError("invalid_key_data", str(exc)) from None
        if not isinstance(krn, int) or not 1 <= krn <= 15:
            raise InvalidInputError("invalid_key_data", "KRN must be 1..15")
        group = _supply_group(ctx, sgc, create=True)
        if vending_key_row(session, group.id, krn) is not None:
            raise ConflictError("key_exists",
                                f"SGC {group.sgc} already has a key with KRN {krn}")
        try:
            sealed = ctx.security.seal_vending_key(sgc=group.sgc, krn=krn, dkga=d, base_date=bd,
                                                   ea=e, key=key)
        except SecurityModuleError as exc:
            raise InvalidInputError("invalid_key", str(exc)) from None
        row = VendingKey(supply_group=group, krn=krn, dkga=d.value, base_date=int(bd),
                         ea=e.value, kid=sealed.kid, nonce=sealed.nonce,
                         ciphertext=sealed.ciphertext)
        session.add(row)
        before = group.current_krn
        if group.current_krn is None or make_current:
            group.current_krn = krn
        session.flush()
        kcv = ctx.security.key_check_value(vending_key_ref(row))
        audit.record(session, actor, "vending_key.added", "supply_group", group.sgc,
                     before={"current_krn": before},
                     after={"krn": krn, "dkga": d.value, "base_date": int(bd), "ea": e.value,
                            "kid": sealed.kid, "kcv": kcv, "current_krn": group.current_krn})
        info = VendingKeyInfo(sgc=group.sgc, krn=krn, dkga=d.value, base_date=int(bd),
                              ea=e.value, kid=sealed.kid, kcv=kcv,
                              current=group.current_krn == krn)
        session.commit()
        return info
    finally:
        session.rollback()


def set_current_krn(ctx: ServiceContext, *, sgc: str, krn: int, actor: Actor) -> None:
    """Make ``krn`` the supply group's current key: meters behind it get a key change at
    their next vend."""
    session = ctx.session
    try:
        group = _supply_group(ctx, sgc, create=False)
        if vending_key_row(session, group.id, krn) is None:
            raise NotFoundError("unknown_key", f"SGC {group.sgc} has no key with KRN {krn}")
        if group.current_krn != krn:
            audit.record(session, actor, "supply_group.current_krn", "supply_group", group.sgc,
                         before={"current_krn": group.current_krn}, after={"current_krn": krn})
            group.current_krn = krn
        session.commit()
    finally:
        session.rollback()


def rotate_master_key(ctx: ServiceContext, *, actor: Actor) -> int:
    """Re-seal every vending key under the security module's current master key; returns the
    number of keys re-sealed. Run it after putting a new key first in STSVEND_MASTER_KEYS;
    the old entry can be dropped once this has committed."""
    session = ctx.session
    try:
        rows = session.scalars(select(VendingKey).with_for_update()).all()
        moved = 0
        for row in rows:
            sealed = ctx.security.reseal(vending_key_ref(row))
            if sealed.kid != row.kid:
                moved += 1
            row.kid, row.nonce, row.ciphertext = sealed.kid, sealed.nonce, sealed.ciphertext
        audit.record(session, actor, "master_key.rotated", "vending_keys", "*",
                     after={"resealed": len(rows), "moved": moved})
        session.commit()
        return len(rows)
    finally:
        session.rollback()
