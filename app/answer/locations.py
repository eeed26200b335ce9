"""How a user finds a passage again: `p. 3`, `pp. 3–4`, `§ Intro > Scope`, or `[01:12–01:20]`."""

from __future__ import annotations

from longlens.schema import Location


def location(item: Location) -> str:
    """The location of a Hit or Citation as a short human-readable string ("" when it has none)."""
    if item.t_start is not None:
        end = item.t_end if item.t_end is not None else item.t_start
        return f"[{clock(item.t_start)}–{clock(end)}]"
    if item.page_start is not None:
        if item.page_end and item.page_end != item.page_start:
            return f"pp. {item.page_start}–{item.page_end}"
        return f"p. {item.page_start}"
    heading = item.heading_path
    return f"§ {heading}" if heading else ""


def clock(seconds: float) -> str:
    """mm:ss, or h:mm:ss past an hour."""
    s = int(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60:02d}:{s % 60:02d}"
