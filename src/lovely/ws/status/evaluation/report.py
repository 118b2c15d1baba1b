""":class:`StatusReport`: what one evaluation of the handlers found."""
from __future__ import annotations

import time
from collections.abc import Mapping
from operator import itemgetter
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..states import worst_state

__all__ = ["StatusReport"]

Status = Mapping[str, Any]


class StatusReport:
    """The outcome of one evaluation of the status handlers.

    ``names``, ``statuses`` and ``durations`` are parallel lists in
    registration order. Each status is the dict the handler returned (never
    modified) when it was valid, otherwise a new ``{'state': RED, 'detail':
    ...}`` that says what went wrong. ``durations`` holds the seconds each
    handler took (``None`` when it was not timed); for one that timed out,
    how long the request waited for it; for a cached result, what the run
    that produced it took.
    """

    __slots__ = ("names", "statuses", "durations", "timestamp")

    def __init__(
        self,
        names: List[Any],
        statuses: List[Status],
        durations: List[Optional[float]],
        timestamp: Optional[float] = None,
    ) -> None:
        self.names = names
        self.statuses = statuses
        self.durations = durations
        self.timestamp = time.time() if timestamp is None else timestamp

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
        """The worst state of all handlers (``OK`` when there are none)."""
        return worst_state(s["state"] for s in self.statuses)
