"""What each web user may see and change: their own collections, those shared with them (read-only), and,
for an admin, every collection.

A collection is shown under a label: its name for its owner, "name (shared by alice)" for a reader,
"name (alice)" or "name (no owner)" for an admin looking at other people's or the CLI's collections.
"""

from __future__ import annotations

from dataclasses import dataclass

from longlens.store.sharing import Shares
from longlens.store.store import Store
from longlens.store.users import User, Users, shown_name


@dataclass(frozen=True)
class Access:
    label: str
    key: str  # the stored collection name
    collection_id: int
    owner_id: int | None
    writable: bool


def visible_collections(store: Store, users: Users, shares: Shares, user: User) -> dict[str, Access]:
    """Label -> Access for every collection `user` may read, own ones first."""
    shared = shares.shared_with(user.id)
    owners: dict[int, str] = {}
    own: dict[str, Access] = {}
    others: dict[str, Access] = {}
    for c in store.collections(counts=False):
        mine = c.owner_id == user.id
        if not (mine or user.is_admin or c.id in shared):
            continue
        name = shown_name(c.name) if c.owner_id is not None else c.name
        if mine:
            own[name] = Access(name, c.name, c.id, c.owner_id, True)
            continue
        if c.owner_id is None:
            label = f"{name} (no owner)"
        else:
            if c.owner_id not in owners:
                found = users.by_id(c.owner_id)
                owners[c.owner_id] = found.name if found else f"user {c.owner_id}"
            label = f"{name} ({owners[c.owner_id]})" if user.is_admin else f"{name} (shared by {owners[c.owner_id]})"
        others[label] = Access(label, c.name, c.id, c.owner_id, user.is_admin)
    return own | others
