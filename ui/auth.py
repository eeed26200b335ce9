"""Optional login: users and password hashes from a JSON file (LONGLENS_USERS_FILE), hashlib only."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import json
import os
import unicodedata
from pathlib import Path


def hash_password(password: str, salt: bytes | None = None, iterations: int = 200_000) -> str:
    """'pbkdf2_sha256$iterations$salthex$hashhex', the format users put in the users file."""
    salt = salt or os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return f"pbkdf2_sha256${iterations}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        algo, iterations, salt, digest = stored.split("$")
    except ValueError:
        return False
    if algo != "pbkdf2_sha256":
        return False
    got = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt), int(iterations))
    return hmac.compare_digest(got.hex(), digest)


def read_users_file(path: str | Path | None = None) -> tuple[dict[str, str], set[str]] | None:
    """({user: hash}, {admin names}) from the users file, or None when login is off (no file configured).

    Each entry is either `"name": "<hash>"` or `"name": {"password": "<hash>", "role": "admin"}`.
    """
    path = path or os.environ.get("LONGLENS_USERS_FILE")
    if not path:
        return None
    hashes: dict[str, str] = {}
    admins: set[str] = set()
    for name, entry in dict(json.loads(Path(path).read_text())).items():
        name = unicodedata.normalize("NFC", name)
        if isinstance(entry, dict):
            hashes[name] = str(entry["password"])
            if entry.get("role") == "admin":
                admins.add(name)
        else:
            hashes[name] = str(entry)
    return hashes, admins


def load_users(path: str | Path | None = None) -> dict[str, str] | None:
    """{user: hash}, or None when login is off (no users file configured)."""
    found = read_users_file(path)
    return found[0] if found else None


@functools.lru_cache(maxsize=8)
def _stand_in_hash(iterations: int) -> str:
    """A hash no password matches, checked for unknown names so they cost what known names cost."""
    return hash_password(os.urandom(16).hex(), iterations=iterations)


def _iterations(stored: str) -> int:
    try:
        return int(stored.split("$")[1])
    except (IndexError, ValueError):
        return 200_000


def make_auth(users: dict[str, str] | None):  # noqa: ANN201 - a Gradio auth callable or None
    """Gradio's auth function: names compared after NFC normalisation; an unknown name costs one hash like a
    known one (no timing tells which names exist); hashing runs off the event loop."""
    if not users:
        return None
    known = {unicodedata.normalize("NFC", name): stored for name, stored in users.items()}
    typical = _iterations(next(iter(known.values())))
    _stand_in_hash(typical)  # made now: the first unknown name must not cost two hashes

    def check(user: str, password: str) -> bool:
        stored = known.get(unicodedata.normalize("NFC", user))
        matches = verify_password(password, stored if stored is not None else _stand_in_hash(typical))
        return matches and stored is not None

    async def auth(user: str, password: str) -> bool:
        return await asyncio.to_thread(check, user, password)

    return auth
