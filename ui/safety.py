"""Server-side upload rules: sanitised names, size and type checked, files stored by content hash."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

from longlens.retrieval.parsers.detect import SUFFIXES

ALLOWED_SUFFIXES = frozenset(SUFFIXES)  # every type the parsers read by name
MAX_UPLOAD_BYTES = 200 * 1024 * 1024


class UploadRejected(ValueError):
    """One file refused by the upload rules; the message is shown to the user."""


def safe_name(name: str) -> str:
    """A file name with no directory parts, no traversal and only plain characters."""
    base = re.split(r"[\\/]", name)[-1]
    base = re.sub(r"[^A-Za-z0-9._ -]", "_", base).strip(" .")
    return base[:150] or "upload"


def uploads_root(data_dir: Path) -> Path:
    return (Path(data_dir) / "uploads").resolve()


def accept_upload(src: str | Path, original_name: str, data_dir: Path, max_bytes: int = MAX_UPLOAD_BYTES) -> Path:
    """Check size and type, then store under uploads/<sha256 of the content>/<name>; returns the stored path.

    Keyed by content, an upload never overwrites another: a second `report.txt` with other text gets its own
    folder, and the same file uploaded twice is stored once.
    """
    src = Path(src)
    name = safe_name(original_name)
    if Path(name).suffix.lower() not in ALLOWED_SUFFIXES:
        raise UploadRejected(f"{name}: file type not allowed")
    size = src.stat().st_size
    if size > max_bytes:
        raise UploadRejected(f"{name}: {size} bytes is over the {max_bytes}-byte limit")
    root = uploads_root(data_dir)
    incoming = root / ".incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with tempfile.NamedTemporaryFile(dir=incoming, delete=False) as out, src.open("rb") as inp:
        for block in iter(lambda: inp.read(1 << 20), b""):
            digest.update(block)
            out.write(block)
    dest = root / digest.hexdigest() / name
    if root not in dest.parents:
        Path(out.name).unlink(missing_ok=True)
        raise UploadRejected(f"{name}: bad file name")
    dest.parent.mkdir(exist_ok=True)
    if dest.exists():  # the same bytes under the same name: keep the stored copy
        Path(out.name).unlink(missing_ok=True)
    else:
        os.replace(out.name, dest)
    return dest


def forget_upload(path: str | Path, data_dir: Path, in_use: Callable[[str], bool]) -> bool:
    """Delete a stored upload (and its folder when empty) once no document uses it; True if it went."""
    path = Path(path)
    root = uploads_root(data_dir)
    if root not in path.resolve().parents or in_use(str(path)):
        return False
    path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # not empty: another name for the same bytes is still stored
        path.parent.rmdir()
    return True
