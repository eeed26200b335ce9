"""longlens: ask questions of long documents and videos, get answers cited to the page and the second."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"


def _off_the_checkout_root() -> None:
    """In a source checkout, `python -m longlens.cli` or `python -c` run from its root put that root on sys.path,
    where our top-level kernels/ folder would hide the `kernels` package transformers (>= 5.25) imports. The
    checkout root holds nothing to import by that path (longlens is installed by its own mapping), so drop it."""
    root = Path(__file__).resolve().parent.parent
    if (root / "kernels" / "__init__.py").is_file() and (root / "pyproject.toml").is_file():
        sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != root]


_off_the_checkout_root()
__all__ = ["LongLens", "__version__"]

if TYPE_CHECKING:
    from longlens.api import LongLens


def __getattr__(name: str) -> Any:
    # Imported lazily so that `longlens.schema` and other leaf modules can be imported by the
    # sub-packages (retrieval, models) without pulling in the whole pipeline.
    if name == "LongLens":
        from longlens.api import LongLens

        return LongLens
    raise AttributeError(name)
