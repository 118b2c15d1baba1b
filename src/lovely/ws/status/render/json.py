"""JSON: one object of handler name to status, strict and compact."""
from __future__ import annotations

import json
from typing import Any
from typing import Mapping as MappingT

from ..text import json_default, json_plain

__all__ = ["JSON_CONTENT_TYPE", "render_json"]

JSON_CONTENT_TYPE = "application/json"


# Without the circular check the C encoder is a quarter faster; a cycle then
# ends in RecursionError, and the slow path handles it.
_encode_json = json.JSONEncoder(
    default=json_default, allow_nan=False, check_circular=False, separators=(",", ":")
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
        return json.dumps(json_plain(data), allow_nan=False, separators=(",", ":"))
