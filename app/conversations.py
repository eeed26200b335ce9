"""Chat conversations kept in the database so a user can reopen them (one row per conversation, per owner)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from sqlalchemy import DateTime, Engine, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from longlens.store_models import Base


def _now() -> datetime:
    return datetime.now(timezone.utc)


class ConversationRow(Base):
    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner: Mapped[str] = mapped_column(String(200), index=True)
    title: Mapped[str] = mapped_column(String(200))
    messages_json: Mapped[str] = mapped_column(Text, default="[]")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class Conversations:
    """Save, list and load one owner's conversations; another owner's ids read as missing."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        Base.metadata.create_all(engine, tables=[ConversationRow.__table__])

    def save(self, owner: str, conversation_id: int | None, messages: list[dict[str, str]]) -> int:
        with Session(self.engine, expire_on_commit=False) as s, s.begin():
            row = s.get(ConversationRow, conversation_id) if conversation_id else None
            if row is None or row.owner != owner:
                first = next((m["content"] for m in messages if m["role"] == "user"), "conversation")
                row = ConversationRow(owner=owner, title=first[:80])
                s.add(row)
            row.messages_json = json.dumps(messages)
            row.updated_at = _now()
            s.flush()
            return row.id

    def list(self, owner: str) -> list[tuple[int, str]]:
        with Session(self.engine) as s:
            rows = s.scalars(select(ConversationRow).where(ConversationRow.owner == owner)
                             .order_by(ConversationRow.updated_at.desc()))
            return [(r.id, r.title) for r in rows]

    def load(self, owner: str, conversation_id: int) -> list[dict[str, str]]:
        with Session(self.engine) as s:
            row = s.get(ConversationRow, conversation_id)
            return json.loads(row.messages_json) if row is not None and row.owner == owner else []
