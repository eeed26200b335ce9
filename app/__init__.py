"""longlens: ask questions of long documents and videos, get answers cited to the page and the second."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
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
