"""Supply groups and their vending keys. A vending key row holds only a *sealed* key: AES-GCM
ciphertext under a master key named by ``kid``; only the security module can open it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow
from .types import UTCDateTime


class SupplyGroup(Base):
    __tablename__ = "supply_groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    sgc: Mapped[str] = mapped_column(String(6), unique=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    # The KRN every meter of the group should be on; a meter behind it gets a key change.
    current_krn: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    keys: Mapped[list[VendingKey]] = relationship(back_populates="supply_group")

    def __repr__(self) -> str:
        return f"<SupplyGroup {self.sgc} current_krn={self.current_krn}>"


class VendingKey(Base):
    __tablename__ = "vending_keys"
    __table_args__ = (UniqueConstraint("supply_group_id", "krn"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    supply_group_id: Mapped[int] = mapped_column(ForeignKey("supply_groups.id"))
    krn: Mapped[int]
    dkga: Mapped[str] = mapped_column(String(2))
    base_date: Mapped[int]
    ea: Mapped[str] = mapped_column(String(2))
    kid: Mapped[str] = mapped_column(String(40))
    nonce: Mapped[bytes] = mapped_column(LargeBinary(12))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    supply_group: Mapped[SupplyGroup] = relationship(back_populates="keys")

    def __repr__(self) -> str:  # never the ciphertext, let alone the key
        return f"<VendingKey krn={self.krn} dkga={self.dkga} bd={self.base_date} ea={self.ea}>"
