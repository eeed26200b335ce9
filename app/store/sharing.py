"""Read-only sharing of a collection with other users of the web app."""

from __future__ import annotations

from sqlalchemy import Engine, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from longlens.store.tables import CollectionShareRow


class Shares:
    """Which collections each user may read without owning them."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def share(self, collection_id: int, user_id: int) -> bool:
        """Let `user_id` read the collection; False when it already could."""
        try:
            with Session(self.engine) as s, s.begin():
                s.add(CollectionShareRow(collection_id=collection_id, user_id=user_id))
            return True
        except IntegrityError:
            return False

    def unshare(self, collection_id: int, user_id: int) -> bool:
        """Stop sharing; False when it was not shared."""
        with Session(self.engine) as s, s.begin():
            gone = s.execute(delete(CollectionShareRow).where(CollectionShareRow.collection_id == collection_id,
                                                              CollectionShareRow.user_id == user_id))
            return bool(gone.rowcount)

    def shared_with(self, user_id: int) -> set[int]:
        """The ids of the collections shared with `user_id`."""
        with Session(self.engine) as s:
            rows = s.scalars(select(CollectionShareRow.collection_id).where(CollectionShareRow.user_id == user_id))
            return set(rows)
