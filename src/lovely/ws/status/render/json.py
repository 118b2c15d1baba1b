"""JSON: one object of handler name to status, strict and compact."""
from __future__ import annotations

import datetime
import decimal
import json
import math
from collections.abc import Mapping
from typing import Any, Tuple
from typing import Mapping as MappingT

from ..text import to_text

__all__ = ["JSON_CONTENT_TYPE", "render_json"]

JSON_CONTENT_TYPE = "application/json"


def _json_default(value: Any) -> Any:
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return [_plain(v, ()) for v in value]
    if isinstance(value, BaseException):
        message = to_text(value)
        return f"{type(value).__name__}: {message}" if message else type(value).__name__
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, Mapping):
        return {to_text(k): v for k, v in value.items()}
    return to_text(value)


def _plain(value: Any, parents: Tuple[int, ...]) -> Any:
    """A copy of ``value`` that ``json`` can encode strictly (the slow path)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        try:
            # Python refuses to print ints of more than 4300 digits (and so
            # does json); int subclasses may have their own broken __repr__.
            int.__repr__(value)
        except ValueError:
            return to_text(value)
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else to_text(value)
    if id(value) in parents:
        return "<recursion>"
    inner = parents + (id(value),)
    if len(inner) > 100:
        return "<too deep>"
    try:
        if isinstance(value, Mapping):
            return {
                (k if isinstance(k, str) else to_text(k)): _plain(v, inner)
                for k, v in list(value.items())
            }
        if isinstance(value, (list, tuple)):
            return [_plain(v, inner) for v in list(value)]
        converted = _json_default(value)
    except Exception:  # a container that cannot even be walked
        return to_text(value)
    if converted is value or isinstance(converted, str):
        return converted
    return _plain(converted, inner)


# Without the circular check the C encoder is a quarter faster; a cycle then
# ends in RecursionError, and the slow path handles it.
_encode_json = json.JSONEncoder(
    default=_json_default, allow_nan=False, check_circular=False, separators=(",", ":")
).encode


def render_json(data: MappingT[Any, Any]) -> str:
    """``data`` as compact JSON (as 1.0 wrote it); values ``json`` cannot
    encode become text.

    Dates and times are ISO 8601, ``Decimal`` and other objects their
    ``str()``, sets lists, exceptions ``"Class: message"``; NaN and infinity
    are text too, so the output is strict JSON that any parser accepts.
    """
    try:
        return _encode_json(data)
    except Exception:
        # Non-string keys, cycles, NaN, very deep nesting, huge ints, a dict
        # changed by another thread meanwhile: take the slow path.
        return json.dumps(_plain(data, ()), allow_nan=False, separators=(",", ":"))
