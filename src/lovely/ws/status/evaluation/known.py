""":class:`Known`: an evaluation whose every result came fresh from the
background refresher, which the next one of the same handlers takes whole."""
from __future__ import annotations

from operator import is_
from typing import Any, Dict, List, NamedTuple, Optional, Sequence

from ..handlers import HandlerOptions
from .report import Origin, StatusReport

__all__: List[str] = []


class Known(NamedTuple):
    """The results of an evaluation of background handlers alone: the
    next one of the same handlers gives the same results, without looking
    at each, until a result changes (the refresher's ``version``) or one
    of them would be stale (``fresh_until``, seconds since the epoch)."""

    version: int
    fresh_until: float
    #: Whether these were all the handlers there are (the evaluation then
    #: let the refresher forget the others).
    complete: bool
    names: List[Any]
    handlers: List[Any]
    options: Optional[List[HandlerOptions]]
    statuses: List[Any]
    durations: List[Optional[float]]
    #: ``None``: the evaluation did not say where results came from.
    origins: Optional[Dict[Any, Origin]]

    def serves(self, version: int, now: float, names: Sequence[Any], handlers: Sequence[Any],
               options: Optional[Sequence[HandlerOptions]], durations: bool,
               complete: bool) -> bool:
        """Whether an evaluation of these at ``now`` gets these results:
        the same names and options and the very same handlers (by identity:
        their ``__eq__`` is the app's code), nothing new since."""
        return (version == self.version and now < self.fresh_until
                and (self.origins is not None or not durations)
                and (self.complete or not complete)
                and names == self.names and options == self.options
                and len(handlers) == len(self.handlers)
                and all(map(is_, handlers, self.handlers)))

    def report(self, names: Sequence[Any]) -> StatusReport:
        """A report of these results (lists of its own, keyed by this)."""
        report = StatusReport(names, list(self.statuses), list(self.durations))
        report.key = self
        report.origins = self.origins
        return report
