"""The text of the Kubernetes API server's health endpoints (``/livez``,
``/readyz``, and ``/readyz/NAME`` for one check), byte for byte.

A passing endpoint answers ``ok``; with ``?verbose``, or when a check
fails, one line per check (``[+]NAME ok``, ``[+]NAME excluded: ok``,
``[-]NAME failed: REASON``), a warning for excluded names that match no
check, and ``ENDPOINT check passed`` or ``ENDPOINT check failed``. What
this package adds keeps the shape: a check that passes in a state other
than ``OK`` says so after ``ok`` (``[+]cache ok (YELLOW)``).
"""
from __future__ import annotations

from typing import Any, Iterable, List, NamedTuple, Sequence, Tuple

from ..text import escape_controls, to_text

__all__ = [
    "KUBERNETES_CONTENT_TYPE",
    "WITHHELD",
    "NOT_FOUND_BODY",
    "Line",
    "render_checks",
    "render_check",
]

KUBERNETES_CONTENT_TYPE = "text/plain; charset=utf-8"
#: The reason a failing check gives when details are not shown.
WITHHELD = "reason withheld"
#: The body of a ``404`` (Go's ``http.NotFound``).
NOT_FOUND_BODY = "404 page not found\n"


class Line(NamedTuple):
    """One check of an endpoint."""

    name: Any
    passed: bool
    #: Passing: the state when it is not plain ``OK`` (``YELLOW``); failing:
    #: the reason (:data:`WITHHELD` when details are hidden).
    note: str = ""
    excluded: bool = False


def _text(value: Any) -> str:
    return escape_controls(to_text(value))


def _quoted(name: str) -> str:
    """``name`` as Go's ``%q`` writes it, near enough: in double quotes, with
    backslashes, quotes and control characters escaped."""
    return '"' + _text(name.replace("\\", "\\\\").replace('"', '\\"')) + '"'


def render_checks(endpoint: str, lines: Sequence[Line], verbose: bool,
                  unmatched: Iterable[str] = ()) -> Tuple[bool, str]:
    """``(passed, body)`` of the endpoint ``endpoint`` (``livez``, ``readyz``).

    ``unmatched`` are the excluded names that match no check; they are
    listed, sorted, in a warning line.
    """
    passed = all(line.passed or line.excluded for line in lines)
    if passed and not verbose:
        return True, "ok"
    out: List[str] = []
    for line in lines:
        name = _text(line.name)
        if line.excluded:
            out.append(f"[+]{name} excluded: ok\n")
        elif line.passed:
            note = f" ({_text(line.note)})" if line.note else ""
            out.append(f"[+]{name} ok{note}\n")
        else:
            out.append(f"[-]{name} failed: {_text(line.note)}\n")
    missing = sorted(set(unmatched))
    if missing:
        out.append("warn: some health checks cannot be excluded: no matches for "
                   + ",".join(map(_quoted, missing)) + "\n")
    out.append(f"{endpoint} check {'passed' if passed else 'failed'}\n")
    return passed, "".join(out)


def render_check(line: Line) -> str:
    """The body of ``/readyz/NAME`` for the check ``line``."""
    if line.passed:
        return "ok"
    return f"internal server error: {_text(line.note)}\n"
