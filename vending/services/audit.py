"""Appending to the audit log. Called inside a service's unit of work, never committing:
the entry is written with the change it describes, or not at all."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert
from sqlalchemy.orm import Session

from ..models import AuditEntry
from .context import Actor

_INSERT = insert(AuditEntry.__table__)


def record(
    target: Session | Connection,
    actor: Actor | str,
    action: str,
    entity: str,
    entity_id: object,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """One ``INSERT`` on the session's connection (or on ``target`` itself, a connection in
    a transaction), at once, not queued for the ORM's flush: an entry is a plain append, and
    vends write one on their hot path."""
    connection = target if isinstance(target, Connection) else target.connection()
    connection.execute(_INSERT, {
        "actor": str(actor), "action": action, "entity": entity, "entity_id": str(entity_id),
        "before": before, "after": after})
