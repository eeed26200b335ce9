"""Chat conversations kept in the database so a user can reopen them (one row per conversation, per owner)."""

from __future__ import annotations

import json

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from longlens.store.tables import ConversationRow, utcnow
from longlens.store.users import User


class Conversations:
    """Save, list and load one owner's conversations; another owner's ids read as missing."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine  # the table is made and migrated with the store's (longlens.store.migrations)

    def save(self, owner: User, conversation_id: int | None, messages: list[dict[str, str]]) -> int:
        with Session(self.engine, expire_on_commit=False) as s, s.begin():
            row = s.get(ConversationRow, conversation_id) if conversation_id else None
            if row is None or row.owner_id != owner.id:
                first = next((m["content"] for m in messages if m["role"] == "user"), "conversation")
                row = ConversationRow(owner=owner.name, owner_id=owner.id, title=first[:80])
                s.add(row)
            row.messages_json = json.dumps(messages)
            row.updated_at = utcnow()
            s.flush()
            return row.id

    def list(self, owner: User) -> list[tuple[int, str]]:
        with Session(self.engine) as s:
            rows = s.scalars(select(ConversationRow).where(ConversationRow.owner_id == owner.id)
                             .order_by(ConversationRow.updated_at.desc()))
            return [(r.id, r.title) for r in rows]

    def load(self, owner: User, conversation_id: int) -> list[dict[str, str]]:
        with Session(self.engine) as s:
            row = s.get(ConversationRow, conversation_id)
            return json.loads(row.messages_json) if row is not None and row.owner_id == owner.id else []
