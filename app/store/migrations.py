"""Numbered schema migrations: a data directory made by any earlier version moves forward on first start.

Each migration runs once, in its own transaction, and is recorded in `schema_migrations`; each is written to
be a no-op on a database that already has its change (a new database gets every table in its current shape
from the first one). Add a migration to the end of MIGRATIONS; never edit one that has shipped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timezone

from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import DBAPIError

from longlens.store.tables import Base, CollectionShareRow, UserRow

LEGACY_SEP = "::"
"""Before migration 002 the web app kept its users' collections as "<user>::<name>" with no owner."""


def _base_tables(conn: Connection) -> None:
    Base.metadata.create_all(conn)


def _user_id(conn: Connection, name: str) -> int:
    found = conn.execute(text("SELECT id FROM users WHERE name = :n"), {"n": name}).scalar()
    if found is not None:
        return int(found)
    conn.execute(UserRow.__table__.insert().values(name=name, role="user", created_at=datetime.now(timezone.utc)))
    return int(conn.execute(text("SELECT id FROM users WHERE name = :n"), {"n": name}).scalar())


def _columns(conn: Connection, table: str) -> set[str]:
    return {c["name"] for c in inspect(conn).get_columns(table)}


def _collection_owners(conn: Connection) -> None:
    """collections.owner_id, filled from the old "<user>::<name>" prefixes (renamed to "<owner id>::<name>")."""
    from longlens.store.users import owned_key

    if "owner_id" not in _columns(conn, "collections"):
        conn.execute(text("ALTER TABLE collections ADD COLUMN owner_id INTEGER "
                          "REFERENCES users(id) ON DELETE SET NULL"))
    rows = conn.execute(text("SELECT id, name FROM collections WHERE owner_id IS NULL")).all()
    names = {name for _id, name in conn.execute(text("SELECT id, name FROM collections")).all()}
    for cid, name in rows:
        user, sep, shown = name.partition(LEGACY_SEP)
        if not sep or not user or not shown:
            continue
        uid = _user_id(conn, user)
        key = owned_key(uid, shown)
        new = key if key not in names else name
        conn.execute(text("UPDATE collections SET owner_id = :u, name = :k WHERE id = :i"),
                     {"u": uid, "k": new, "i": cid})
        names.add(new)


def _conversation_owners(conn: Connection) -> None:
    """conversations.owner_id, filled from the user names the old rows kept."""
    if "owner_id" in _columns(conn, "conversations"):
        return
    conn.execute(text("ALTER TABLE conversations ADD COLUMN owner_id INTEGER REFERENCES users(id) ON DELETE CASCADE"))
    for (owner,) in conn.execute(text("SELECT DISTINCT owner FROM conversations")).all():
        conn.execute(text("UPDATE conversations SET owner_id = :u WHERE owner = :o"),
                     {"u": _user_id(conn, owner), "o": owner})


def _collection_shares(conn: Connection) -> None:
    Base.metadata.create_all(conn, tables=[CollectionShareRow.__table__])


MIGRATIONS: list[tuple[str, Callable[[Connection], None]]] = [
    ("001_base_tables", _base_tables),
    ("002_collection_owners", _collection_owners),
    ("003_conversation_owners", _conversation_owners),
    ("004_collection_shares", _collection_shares),
]

_LEDGER = "CREATE TABLE IF NOT EXISTS schema_migrations (name VARCHAR(100) PRIMARY KEY, applied_at VARCHAR(40))"


def applied(engine: Engine) -> list[str]:
    with engine.begin() as conn:
        conn.execute(text(_LEDGER))
        return [r[0] for r in conn.execute(text("SELECT name FROM schema_migrations ORDER BY name"))]


def migrate(engine: Engine, attempts: int = 5) -> list[str]:
    """Apply the migrations this database lacks; returns their names.

    Two processes starting on one new data directory race here: the loser's transaction fails on a table the
    winner made, rolls back, and finds the migration recorded when it looks again.
    """
    ran: list[str] = []
    for name, step in MIGRATIONS:
        for attempt in range(attempts):
            try:
                if name in applied(engine):
                    break
                with engine.begin() as conn:
                    step(conn)
                    conn.execute(text("INSERT INTO schema_migrations (name, applied_at) VALUES (:n, :t)"),
                                 {"n": name, "t": datetime.now(timezone.utc).isoformat()})
                ran.append(name)
                break
            except DBAPIError:
                if attempt == attempts - 1:
                    raise
                time.sleep(0.05 * (attempt + 1))
    return ran
