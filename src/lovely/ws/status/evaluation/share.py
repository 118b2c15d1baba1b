"""Who runs a background handler, and where its latest result is kept:
:class:`Result` and the :class:`Share` protocol.

The refresher asks its share, for each handler due to run, whether this
process runs it (:meth:`Share.claim`); if so it runs the handler and
publishes the result (:meth:`Share.publish`), otherwise it reads the result
another process published (:meth:`Share.latest`). Requests never wait on a
share: they answer from the result the refresher holds in memory.

:class:`LocalShare`, the default, runs every handler in every process and
keeps nothing outside it. A backend that shares runs between the workers
of a host (a directory with a lock per handler) or of a fleet (Redis)
implements the same methods: see :mod:`.fileshare` and :mod:`.redisshare`.
"""
from __future__ import annotations

import json
import math
import os
import socket
from typing import Any, List, Mapping, NamedTuple, Optional, Protocol

from ..statehandler import StateHandlerMixin
from ..states import VALID_STATES, checked
from ..text import json_plain

__all__: List[str] = []

#: The most bytes of one shared result that are read: a result is a few
#: hundred bytes; a file or key made huge by accident must not be read whole.
MAX_RESULT_BYTES = 1 << 20


class Result(NamedTuple):
    """One run's outcome, as requests report it."""

    #: The status to report: valid, damped (``failure_threshold``).
    status: Mapping[str, Any]
    #: Seconds the run took (``None``: not known).
    duration: Optional[float]
    #: When the run ended, in seconds since the epoch: what "stale" is
    #: measured from.
    time: float
    #: Who ran it, for a result read from a share (``None``: this process).
    source: Optional[str] = None


def this_host() -> str:
    """The name of this host, as the status page and shared results show it."""
    return socket.gethostname()


def this_process() -> str:
    """``host:pid`` of this process, as shared results name their source."""
    return f"{this_host()}:{os.getpid()}"


def process_local(handler: Any) -> bool:
    """Whether ``handler``'s state lives in this process (a
    :class:`~lovely.ws.status.StateHandlerMixin` or one of its methods):
    such a handler is never shared, each process reports its own."""
    return isinstance(getattr(handler, "__self__", handler), StateHandlerMixin)


def encode_result(result: Result, source: str) -> bytes:
    """``result``, produced by ``source``, as the bytes a share keeps.

    The status becomes plain JSON (what JSON has no type for becomes
    text), so every process reads the same thing back.
    """
    return json.dumps(
        {"status": json_plain(result.status), "duration": result.duration,
         "time": result.time, "source": source},
        allow_nan=False, separators=(",", ":"),
    ).encode("utf-8")


def decode_result(data: bytes) -> Result:
    """The result :func:`encode_result` wrote; :class:`ValueError` for
    anything else (a file cut short, another program's key)."""
    if len(data) > MAX_RESULT_BYTES:
        raise ValueError(f"a shared result of more than {MAX_RESULT_BYTES} bytes")
    try:
        found = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not a shared result: {exc}") from None
    if not isinstance(found, dict):
        raise ValueError("not a shared result: no JSON object")
    status, duration, when, source = (found.get(key) for key in (
        "status", "duration", "time", "source"))
    if not isinstance(status, dict) or status.get("state") not in VALID_STATES:
        raise ValueError("not a shared result: no status with a valid state")
    if not (isinstance(when, (int, float)) and math.isfinite(when)):
        raise ValueError("not a shared result: no time")
    if duration is not None and not (isinstance(duration, (int, float))
                                     and math.isfinite(duration) and duration >= 0):
        raise ValueError("not a shared result: a bad duration")
    if not isinstance(source, str):
        raise ValueError("not a shared result: no source")
    return Result(checked(status), None if duration is None else float(duration),
                  float(when), source)


class Share(Protocol):
    """Decides who runs each background handler and keeps the results."""

    def claim(self, name: Any, handler: Any, interval: float, timeout: float) -> bool:
        """Whether this process runs ``handler`` now, for the next
        ``interval`` seconds (until it is due again); a run may take up to
        ``timeout`` seconds.

        A backend answers ``True`` for handlers it does not share (those
        whose state lives in their process).
        """

    def publish(self, name: Any, handler: Any, result: Result) -> None:
        """Make ``result``, of a run this process claimed, the latest one."""

    def latest(self, name: Any, handler: Any) -> Optional[Result]:
        """The latest result another process published (``None``: none yet).

        Called when :meth:`claim` said no.
        """

    def release(self, name: Any) -> None:
        """This process no longer runs the handler ``name`` (it is gone):
        another one may claim it at once."""


class LocalShare:
    """Every process runs every handler; nothing is kept outside it."""

    def claim(self, name: Any, handler: Any, interval: float, timeout: float) -> bool:
        return True

    def publish(self, name: Any, handler: Any, result: Result) -> None:
        pass

    def latest(self, name: Any, handler: Any) -> Optional[Result]:
        return None

    def release(self, name: Any) -> None:
        pass
