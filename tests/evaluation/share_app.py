"""A small Pyramid app for gunicorn, to test ``svcstatus.share``:
``gunicorn 'tests.evaluation.share_app:make_app()'``.

It is configured by environment variables, so that every worker builds the
same app:

``LWS_SHARE_SETTINGS``
    A JSON object of app settings; the handlers come from
    ``svcstatus.handlers`` (``counted = tests.evaluation.share_app:counted``,
    ``local = tests.evaluation.share_app:PidState``) and their options.
``LWS_SHARE_COUNTER``
    The file :func:`counted` appends a line to at each call.

Every response carries ``X-Pid``, the id of the process that answered.
"""
from __future__ import annotations

import os
import time
from typing import Any, Dict, List, Tuple

from lovely.ws.status import OK, StateHandlerMixin


def counted() -> Dict[str, Any]:
    """OK, after appending ``PID TIME`` (the call's start) to the counter file."""
    line = f"{os.getpid()} {time.time():.6f}\n".encode("ascii")
    fd = os.open(os.environ["LWS_SHARE_COUNTER"], os.O_WRONLY | os.O_APPEND | os.O_CREAT,
                 0o644)
    try:
        # One write of a short line to a file opened O_APPEND: the lines of
        # concurrent workers do not interleave.
        os.write(fd, line)
    finally:
        os.close(fd)
    return {"state": OK, "detail": f"pid {os.getpid()}"}


class PidState(StateHandlerMixin):
    """A handler whose state lives in its process: it names the worker."""

    def __init__(self) -> None:
        self.setState(OK, detail=f"pid {os.getpid()}")


def calls(path: str) -> List[Tuple[int, float]]:
    """The ``(pid, time)`` of each call :func:`counted` recorded in ``path``."""
    try:
        with open(path, encoding="ascii") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return []
    found = []
    for line in lines:
        pid, when = line.split()
        found.append((int(pid), float(when)))
    return found


def make_app() -> Any:
    from ..helpers import pid_app

    return pid_app("lovely.ws.status.svcstatus", "LWS_SHARE_SETTINGS")
