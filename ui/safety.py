"""Server-side upload rules: sanitised names, files copied under data_dir/uploads/<user>/, size and type checked."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

ALLOWED_SUFFIXES = {".pdf", ".docx", ".html", ".htm", ".md", ".markdown", ".txt", ".mp4", ".mkv", ".webm"}
MAX_UPLOAD_BYTES = 200 * 1024 * 1024


class UploadRejected(ValueError):
    """One file refused by the upload rules; the message is shown to the user."""


def safe_name(name: str) -> str:
    """A file name with no directory parts, no traversal and only plain characters."""
    base = re.split(r"[\\/]", name)[-1]
    base = re.sub(r"[^A-Za-z0-9._ -]", "_", base).strip(" .")
    return base[:150] or "upload"


def safe_user(user: str | None) -> str:
    return safe_name(user or "anonymous")


def accept_upload(src: str | Path, original_name: str, data_dir: Path, user: str | None,
                  max_bytes: int = MAX_UPLOAD_BYTES) -> Path:
    """Check size and type, then copy into the user's upload folder; returns the stored path."""
    src = Path(src)
    name = safe_name(original_name)
    if Path(name).suffix.lower() not in ALLOWED_SUFFIXES:
        raise UploadRejected(f"{name}: file type not allowed")
    size = src.stat().st_size
    if size > max_bytes:
        raise UploadRejected(f"{name}: {size} bytes is over the {max_bytes}-byte limit")
    dest_dir = (data_dir / "uploads" / safe_user(user)).resolve()
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = (dest_dir / name).resolve()
    if dest_dir not in dest.parents:
        raise UploadRejected(f"{name}: bad file name")
    shutil.copyfile(src, dest)
    return dest
