"""Appending to the audit log. Called inside a service's unit of work, never committing:
the entry is written with the change it describes, or not at all."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from ..models import AuditEntry
from .context import Actor


def record(
    session: Session,
    actor: Actor | str,
    action: str,
    entity: str,
    entity_id: object,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    entry = AuditEntry(actor=str(actor), action=action, entity=entity,
                       entity_id=str(entity_id), before=before, after=after)
    session.add(entry)
    return entry
