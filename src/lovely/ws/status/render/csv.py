"""CSV: one ``name<TAB>state<TAB>detail`` line per handler."""
from __future__ import annotations

from typing import Any, Iterable, List, Tuple
from typing import Mapping as MappingT

from ..text import escape_controls, to_text

__all__ = ["CSV_CONTENT_TYPE", "render_csv", "mark_non_critical"]

CSV_CONTENT_TYPE = "text/csv; charset=UTF-8"


def _field(value: Any) -> str:
    return escape_controls(to_text(value))


def render_csv(items: Iterable[Tuple[Any, MappingT[str, Any]]]) -> str:
    """One ``name<TAB>state<TAB>detail`` line per item, joined by newlines.

    A missing state or detail is empty. Tabs, newlines and other control
    characters inside a field are written as backslash escapes, so every
    item stays on one line. No newline follows the last line.
    """
    lines: List[str] = []
    append = lines.append
    field = _field
    # Once per handler per request: plain printable strings (nearly all)
    # go straight into an f-string.
    for name, status in items:
        # A missing key is empty; any value, None too, is its text (as in 1.0).
        state = status.get("state", "")
        detail = status.get("detail", "")
        if type(name) is not str or not name.isprintable():
            name = field(name)
        if type(state) is not str or not state.isprintable():
            state = field(state)
        if type(detail) is not str or not detail.isprintable():
            detail = field(detail)
        append(f"{name}\t{state}\t{detail}")
    return "\n".join(lines)


#: What the detail of a non-critical handler starts with.
NON_CRITICAL_MARK = "(non-critical)"


def mark_non_critical(status: MappingT[str, Any]) -> MappingT[str, Any]:
    """A copy of ``status`` whose detail says that its handler is not critical."""
    marked = dict(status)
    detail = status.get("detail")
    text = "" if detail is None else to_text(detail)
    marked["detail"] = f"{NON_CRITICAL_MARK} {text}" if text else NON_CRITICAL_MARK
    return marked
