"""Where longlens keeps its data: the database, the vector indexes and converted model weights."""

from __future__ import annotations

import os
from pathlib import Path


def default_data_dir() -> Path:
    """`LONGLENS_HOME` if set, else the per-user data directory (XDG on Linux)."""
    env = os.environ.get("LONGLENS_HOME")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share"
    return base / "longlens"


def model_cache_dir() -> Path:
    """Converted model weights (e.g. GGUF turned into safetensors once), shared by all data directories.

    `LONGLENS_MODEL_CACHE` overrides; the default sits under the per-user data directory so that tests
    with throw-away data directories do not convert the same model again.
    """
    env = os.environ.get("LONGLENS_MODEL_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "longlens" / "models"
