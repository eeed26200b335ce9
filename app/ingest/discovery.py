"""Expand the paths a user gives into the files to ingest, reporting each path that cannot be used."""

from __future__ import annotations

import errno
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from longlens.retrieval.parsers.detect import SUBTITLE_SUFFIXES, SUFFIXES

# Picked up when walking a folder (a file named explicitly is always tried); subtitles ride with their video.
FOLDER_SUFFIXES = set(SUFFIXES) | {".rst"}


@dataclass
class Discovered:
    files: list[Path] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    ignored: list[tuple[str, str]] = field(default_factory=list)


def discover(paths: list[str | Path], recursive: bool = False) -> Discovered:
    """Files named directly, plus the supported files inside named folders (their sub-folders too
    with `recursive`). Hidden files are left out; a symlink loop is reported, never followed twice."""
    out = Discovered()
    seen: set[Path] = set()
    for raw in paths:
        path = Path(raw).expanduser()
        problem = _stat_problem(path)
        if problem:
            out.errors.append((str(path), problem))
        elif path.is_dir():
            _walk(path, recursive, out, seen, ancestors=set())
        else:
            _add(path.resolve(), out, seen)
    return out


def _stat_problem(path: Path) -> str | None:
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symlink loop"
        if path.is_symlink():
            return "broken symbolic link"
        if exc.errno == errno.EACCES:
            return "permission denied"
        return "no such file or directory"
    return None


def _walk(folder: Path, recursive: bool, out: Discovered, seen: set[Path], ancestors: set[Path]) -> None:
    real = folder.resolve()
    if real in ancestors:
        out.errors.append((str(folder), f"symlink loop: points back to {real}"))
        return
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except PermissionError:
        out.errors.append((str(folder), "permission denied"))
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = Path(entry.path)
        problem = _stat_problem(path)
        if problem:
            out.errors.append((str(path), problem))
        elif path.is_dir():
            if recursive:
                _walk(path, recursive, out, seen, ancestors | {real})
        elif path.suffix.lower() in FOLDER_SUFFIXES:
            _add(path.resolve(), out, seen)
        elif path.suffix.lower() not in SUBTITLE_SUFFIXES:
            out.ignored.append((str(path), f"unsupported file type '{path.suffix or path.name}'"))


def _add(path: Path, out: Discovered, seen: set[Path]) -> None:
    if path not in seen:
        seen.add(path)
        out.files.append(path)


def sha256_file(path: Path, block: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(block):
            digest.update(chunk)
    return digest.hexdigest()
