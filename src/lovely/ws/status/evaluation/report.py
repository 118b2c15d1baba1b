""":class:`StatusReport`: what one evaluation of the handlers found."""
from __future__ import annotations

import time
from collections.abc import Mapping
from operator import itemgetter
from typing import Any, Dict, FrozenSet, List, NamedTuple, Optional, Sequence, Tuple

from ..states import RED, YELLOW, worst_state

__all__ = ["StatusReport", "Origin", "counted_state"]

Status = Mapping[str, Any]

#: The kinds of :class:`Origin`: a ``ttl`` kept the result of an earlier run;
#: the background refresher of this process ran it; another process ran it
#: and shared it (``svcstatus.share``); it is older than ``interval +
#: timeout`` (the status says so).
CACHED, BACKGROUND, FROM_SHARE, STALE = "cached", "background", "shared", "stale"


class Origin(NamedTuple):
    """Where a result a request did not run itself came from."""

    #: :data:`CACHED`, :data:`BACKGROUND`, :data:`FROM_SHARE` or :data:`STALE`.
    kind: str
    #: When the run that produced it ended, in seconds since the epoch.
    time: float
    #: Who ran it (``host:pid``), for a result another process shared.
    source: Optional[str] = None


class StatusReport:
    """The outcome of one evaluation of the status handlers.

    ``names``, ``statuses`` and ``durations`` are parallel sequences in
    registration order; reports may share ``names`` and ``durations``, so
    they must not be modified. Each status is the dict the handler returned
    (never modified) when it was valid, otherwise a new ``{'state': RED,
    'detail': ...}`` that says what went wrong. ``durations`` holds the seconds each
    handler took (``None`` when it was not timed); for one that timed out,
    how long the request waited for it; for a cached result, what the run
    that produced it took.

    ``critical`` is parallel to them too: ``False`` for a handler registered
    with ``critical=False``, whose ``RED`` counts as ``YELLOW`` in
    :attr:`state`; ``None`` (the common case) when every handler is
    critical, so that a report of a thousand handlers costs nothing more.

    ``changed`` and ``transitions``, parallel too, are set by an evaluation
    that times the handlers (otherwise ``None``): since when (seconds since
    the epoch) each handler has been in its state, and its last few
    transitions, oldest first, each a ``(time, state)`` named tuple (a
    handler's first is when this process first saw it). Reports share
    these lists; they must not be modified.

    ``origins`` maps the names of the handlers whose results this
    evaluation did not run to their :class:`Origin`; ``None`` when it ran
    them all.

    ``key``, when not ``None``, is the same object for every report of the
    same handlers with the same results (all of them from the background
    refresher, unchanged since): what a renderer may cache its text by.
    """

    __slots__ = ("names", "statuses", "durations", "timestamp", "critical", "changed",
                 "transitions", "origins", "key")

    def __init__(
        self,
        names: Sequence[Any],
        statuses: List[Status],
        durations: Sequence[Optional[float]],
        timestamp: Optional[float] = None,
        critical: Optional[List[bool]] = None,
    ) -> None:
        self.names = names
        self.statuses = statuses
        self.durations = durations
        self.timestamp = time.time() if timestamp is None else timestamp
        self.critical = critical
        self.changed: Optional[Sequence[float]] = None
        self.transitions: Optional[Sequence[Tuple[Any, ...]]] = None
        self.origins: Optional[Dict[Any, Origin]] = None
        self.key: Optional[object] = None

    def __len__(self) -> int:
        return len(self.names)

    def items(self) -> List[Tuple[Any, Status]]:
        """``(name, status)`` pairs in registration order."""
        return list(zip(self.names, self.statuses))

    def sorted_items(self) -> List[Tuple[Any, Status]]:
        """``(name, status)`` pairs sorted by name."""
        try:
            return sorted(zip(self.names, self.statuses), key=itemgetter(0))
        except TypeError:  # names that are not all strings
            return sorted(zip(self.names, self.statuses), key=lambda i: str(i[0]))

    def sorted_columns(
        self,
    ) -> Tuple[Sequence[Any], Sequence[Status], Sequence[Optional[float]]]:
        """``(names, statuses, durations)``, each sorted by name."""
        names = self.names
        if len(names) < 2:  # itemgetter of one index returns no tuple
            return tuple(names), tuple(self.statuses), tuple(self.durations)
        try:
            order = sorted(range(len(names)), key=names.__getitem__)
        except TypeError:  # names that are not all strings
            order = sorted(range(len(names)), key=lambda i: str(names[i]))
        pick = itemgetter(*order)
        return pick(names), pick(self.statuses), pick(self.durations)

    def as_dict(self) -> Dict[Any, Status]:
        """``{name: status}`` in registration order."""
        return dict(zip(self.names, self.statuses))

    @property
    def state(self) -> str:
        """The worst state of all handlers (``OK`` when there are none); the
        ``RED`` of a non-critical handler counts as ``YELLOW``."""
        if self.critical is None:
            return worst_state(s["state"] for s in self.statuses)
        return worst_state(map(counted_state, self.statuses, self.critical))

    def is_critical(self, index: int) -> bool:
        """Whether the handler at ``index`` is critical."""
        return self.critical is None or self.critical[index]

    @property
    def non_critical(self) -> FrozenSet[Any]:
        """The names of the handlers that are not critical."""
        if self.critical is None:
            return frozenset()
        return frozenset(n for n, c in zip(self.names, self.critical) if not c)

    def without_details(self) -> StatusReport:
        """This report with each status reduced to its state, and no durations:
        what a caller who may not see details gets."""
        return StatusReport(
            self.names,
            [{"state": s["state"]} for s in self.statuses],
            [None] * len(self.names),
            self.timestamp,
            self.critical,
        )


def counted_state(status: Status, critical: bool) -> str:
    """The state ``status`` counts as in a summary: ``YELLOW`` for the ``RED``
    of a non-critical handler, else its own."""
    state: str = status["state"]
    return YELLOW if state == RED and not critical else state
