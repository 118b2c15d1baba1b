"""The request id: a context variable for the request, and a log filter.

The tween of :mod:`.mozlog` sets :data:`request_id_context` for each
request. Code on the request's thread sees it, and so do the status
handlers, which the evaluator runs in a copy of the request's context.
When python-dockerflow is installed, the variable *is*
``dockerflow.logging.request_id_context``, so its ``RequestIdLogFilter``
and code written against it see the ids of this package, and the other
way round.
"""
from __future__ import annotations

import importlib
import logging
import uuid
from contextvars import ContextVar
from typing import Any, Optional

__all__ = ["request_id_context", "RequestIdLogFilter", "usable_request_id", "new_request_id"]

#: The longest request id taken from a request header.
MAX_REQUEST_ID = 255


def _variable() -> ContextVar[Optional[str]]:
    try:
        module: Any = importlib.import_module("dockerflow.logging")
        shared = module.request_id_context
    except Exception:  # not installed, or not the python-dockerflow we know
        shared = None
    if isinstance(shared, ContextVar):
        return shared
    return ContextVar("request_id", default=None)


#: The id of the request being handled, ``None`` outside a request.
request_id_context: ContextVar[Optional[str]] = _variable()


def usable_request_id(value: Any) -> Optional[str]:
    """``value`` if it can serve as a request id as it is, else ``None``.

    It must be 1 to 255 printable ASCII characters, so that it goes into a
    response header and a log line unchanged.
    """
    if (isinstance(value, str) and 0 < len(value) <= MAX_REQUEST_ID
            and value.isascii() and value.isprintable()):
        return value
    return None


def new_request_id() -> str:
    """A new random id: a UUID 4 with dashes, as python-dockerflow makes them."""
    return str(uuid.uuid4())


class RequestIdLogFilter(logging.Filter):
    """Put the request id on each record as ``rid`` (in a request only).

    Add it to a handler (filters of a logger do not see the records of its
    children). :class:`~lovely.ws.status.dockerflow.MozlogFormatter` adds
    ``rid`` by itself; the filter is for other formatters (``%(rid)s``) and
    for handlers that read ``record.rid``. Outside a request ``rid`` is
    ``None``, as python-dockerflow has it (MozLog output leaves it out).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        rid = request_id_context.get()
        if rid is not None or getattr(record, "rid", None) is None:
            setattr(record, "rid", rid)  # noqa: B010 - not a LogRecord attribute
        return True

