"""Users as rows with ids: what owns collections and conversations in the web app.

A user is found by exact name (after NFC normalisation, see `longlens.store.names`), so two people can never share
an identity by having names that look alike to a file system.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from longlens.schema import LongLensError
from longlens.store.names import clean_name
from longlens.store.tables import UserRow

ROLES = ("user", "admin")


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: str = "user"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class Users:
    """Find, create and change the role of users."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self, name: str) -> User | None:
        name = clean_name(name, "user name")
        with Session(self.engine) as s:
            row = s.scalar(select(UserRow).where(UserRow.name == name))
            return User(row.id, row.name, row.role) if row is not None else None

    def by_id(self, user_id: int) -> User | None:
        with Session(self.engine) as s:
            row = s.get(UserRow, user_id)
            return User(row.id, row.name, row.role) if row is not None else None

    def get_or_create(self, name: str, role: str = "user") -> User:
        """The user called `name`, made on first sight (two first logins at once end with one row)."""
        found = self.get(name)
        if found is not None:
            return found
        try:
            with Session(self.engine) as s, s.begin():
                row = UserRow(name=clean_name(name, "user name"), role=_role(role))
                s.add(row)
                s.flush()
                return User(row.id, row.name, row.role)
        except IntegrityError:  # made by a concurrent request between the two statements
            user = self.get(name)
            if user is None:
                raise
            return user

    def set_role(self, name: str, role: str) -> User:
        user = self.get_or_create(name)
        with Session(self.engine) as s, s.begin():
            s.execute(update(UserRow).where(UserRow.id == user.id).values(role=_role(role)))
        return User(user.id, user.name, role)

    def all(self) -> list[User]:
        with Session(self.engine) as s:
            return [User(r.id, r.name, r.role) for r in s.scalars(select(UserRow).order_by(UserRow.name))]


def _role(role: str) -> str:
    if role not in ROLES:
        raise LongLensError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    return role


OWNED_SEP = "::"


def owned_key(owner_id: int, name: str) -> str:
    """The unique stored name of `owner_id`'s collection `name`: two users may each have a "default"."""
    return f"{owner_id}{OWNED_SEP}{name}"


def shown_name(key: str) -> str:
    """The name an owner sees for the stored `key` (`owned_key` undone)."""
    owner, sep, name = key.partition(OWNED_SEP)
    return name if sep and owner.isdigit() else key
