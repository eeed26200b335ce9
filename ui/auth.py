"""Optional login: users and password hashes from a JSON file (LONGLENS_USERS_FILE), hashlib only."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
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


def load_users(path: str | Path | None = None) -> dict[str, str] | None:
    """{user: hash}, or None when login is off (no users file configured)."""
    path = path or os.environ.get("LONGLENS_USERS_FILE")
    if not path:
        return None
    return dict(json.loads(Path(path).read_text()))


def make_auth(users: dict[str, str] | None):  # noqa: ANN201 - a Gradio auth callable or None
    if not users:
        return None
    return lambda user, password: user in users and verify_password(password, users[user])
