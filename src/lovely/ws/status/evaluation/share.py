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
implements the same three methods.
"""
from __future__ import annotations

from typing import Any, List, Mapping, NamedTuple, Optional, Protocol

__all__: List[str] = []


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


class Share(Protocol):
    """Decides who runs each background handler and keeps the results."""

    def claim(self, name: Any, handler: Any, interval: float) -> bool:
        """Whether this process runs ``handler`` now, for the next
        ``interval`` seconds (until it is due again).

        A backend answers ``True`` for handlers it does not share (those
        whose state lives in their process).
        """

    def publish(self, name: Any, handler: Any, result: Result) -> None:
        """Make ``result``, of a run this process claimed, the latest one."""

    def latest(self, name: Any, handler: Any) -> Optional[Result]:
        """The latest result another process published (``None``: none yet).

        Called when :meth:`claim` said no.
        """


class LocalShare:
    """Every process runs every handler; nothing is kept outside it."""

    def claim(self, name: Any, handler: Any, interval: float) -> bool:
        return True

    def publish(self, name: Any, handler: Any, result: Result) -> None:
        pass

    def latest(self, name: Any, handler: Any) -> Optional[Result]:
        return None
