"""Names typed by people (user names, collection names) checked at the boundary, with a message per fault.

A name is stored as typed, after Unicode NFC normalisation and trimming: never squashed into file-system
characters, so `zoë` and `zoé`, or `日本` and `中文`, stay two names.
"""

from __future__ import annotations

import unicodedata

from longlens.schema import LongLensError

MAX_NAME_CHARS = 200
"""The width of the name columns (users.name, collections.name)."""


class BadName(LongLensError):
    """A name refused at the boundary; the message says what is wrong with it."""


def clean_name(text: object, what: str = "name", max_chars: int = MAX_NAME_CHARS) -> str:
    """`text` NFC-normalised and trimmed, or BadName saying why it cannot be a name."""
    if not isinstance(text, str):
        raise BadName(f"{what} must be text, not {type(text).__name__}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise BadName(f"{what} holds a broken character at position {exc.start} (a lone surrogate)") from None
    name = unicodedata.normalize("NFC", text).strip()
    if not name:
        raise BadName(f"{what} must not be empty")
    bad = next((i for i, ch in enumerate(name) if unicodedata.category(ch) == "Cc"), None)
    if bad is not None:
        raise BadName(f"{what} holds a control character ({name[bad]!r}) at position {bad}")
    if len(name) > max_chars:
        raise BadName(f"{what} is {len(name)} characters long; at most {max_chars}")
    return name
