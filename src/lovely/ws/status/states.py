"""The three states, their severity, and what counts as a valid status.

Every other module asks here whether a handler's result is a status, how
bad a state is, and which of several states is the worst.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Dict, Iterable, Optional

from .text import describe_exception, short_repr

__all__ = ["OK", "GREEN", "YELLOW", "RED", "NUMERIC_VALUES", "STATES"]

OK = "OK"
#: Same value as :data:`OK`; reads better next to :data:`YELLOW` and :data:`RED`.
GREEN = OK
YELLOW = "YELLOW"
RED = "RED"

#: The states from best to worst.
STATES = (OK, YELLOW, RED)

#: The severity of each state: its value in the Prometheus output and the
#: exit code of ``pstatus``.
NUMERIC_VALUES: Dict[str, int] = {OK: 0, YELLOW: 1, RED: 2}

VALID_STATES = frozenset(STATES)

#: Other names a handler may give a state, in upper case; any case is accepted.
ALIASES: Dict[str, str] = {"GREEN": OK}


def severity(state: Any) -> int:
    """0, 1 or 2 for ``state``; anything but a valid state counts as RED (2).

    A ``str`` subclass (an enum member) counts by its text.
    """
    if isinstance(state, str):
        return NUMERIC_VALUES.get(str.__str__(state), 2)
    return 2


def worst_state(states: Iterable[Any]) -> str:
    """The most severe of ``states`` (:data:`OK` for none); unknown ones count as RED."""
    worst = 0
    for state in states:
        level = NUMERIC_VALUES.get(state, 2) if type(state) is str else severity(state)
        if level > worst:
            worst = level
            if worst == 2:
                break
    return STATES[worst]


def invalid(detail: str) -> Dict[str, Any]:
    """A RED status whose detail says what was wrong with a handler's result."""
    return {"state": RED, "detail": "invalid status: " + detail}


def _canonical(state: str) -> Optional[str]:
    plain = str.__str__(state)
    if plain in VALID_STATES:
        return plain
    if not plain.isascii():  # no look-alike letters
        return None
    upper = plain.upper()
    return upper if upper in VALID_STATES else ALIASES.get(upper)


def checked(result: Any) -> Mapping[str, Any]:
    """``result`` if it is a valid status, else a RED status saying why.

    A valid status is a mapping whose ``'state'`` is :data:`OK`,
    :data:`YELLOW` or :data:`RED`, in any case, or ``GREEN`` (an alias of
    :data:`OK`). One that is not a plain ``dict`` with one of the three
    plain ``str`` states is copied into one with the state spelt as the
    constant, so the renderers never call into a broken ``get`` or a
    ``str`` subclass and every format shows the same state. Never raises.
    """
    try:
        if isinstance(result, Mapping):
            state = result.get("state")
            if isinstance(state, str):
                canonical = _canonical(state)
                if canonical is not None:
                    if type(result) is dict and type(state) is str and state == canonical:
                        return result
                    status = dict(result)
                    status["state"] = canonical
                    return status
            if "state" not in result:
                return invalid("no 'state' in the handler's result")
            return invalid(
                f"state {short_repr(result['state'])} is not one of OK, YELLOW, RED"
            )
        return invalid(f"handler returned {type(result).__name__}, not a dict")
    except BaseException as exc:  # noqa: B036 - a mapping that fails when looked into
        return invalid(describe_exception(exc))
