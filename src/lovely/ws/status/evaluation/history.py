""":class:`History`: since when each handler has been in its state, and its
last few transitions.

Handlers run in the background are observed at each result; the others
when a report is made that shows times (:meth:`History.columns`). A
thousand handlers whose states did not change since the last report cost
one comparison of two lists, not a look at each handler.
"""
from __future__ import annotations

import threading
from operator import itemgetter
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple

__all__ = ["Transition", "History", "HISTORY_LENGTH"]

#: How many transitions are kept per handler.
HISTORY_LENGTH = 10

_STATE = itemgetter("state")


class Transition(NamedTuple):
    """A handler entered ``state`` at ``time`` (seconds since the epoch).

    A handler's first transition is when this process first saw its state.
    """

    time: float
    state: str


#: A handler's transitions, oldest first (at most :data:`HISTORY_LENGTH`).
Transitions = Tuple[Transition, ...]


class History:
    """The transitions of the handlers of one evaluator, by name."""

    def __init__(self, length: int = HISTORY_LENGTH) -> None:
        self.length = length
        self._lock = threading.Lock()
        # name -> transitions; a tuple is replaced, never changed, so a
        # report may keep it.
        self._by_name: Dict[Any, Transitions] = {}
        self._version = 0  # counts changes of _by_name
        self._last = 0.0  # the time of the latest observation
        # The columns of the last report, while nothing changed since.
        self._names: Optional[List[Any]] = None
        self._states: Optional[List[Any]] = None
        self._seen = -1  # the _version they are of
        self._complete = False  # whether they were all the handlers
        self._changed: List[float] = []
        self._transitions: List[Transitions] = []

    def after_fork(self) -> None:
        """In a forked child: a lock a thread of the parent held stays held."""
        self._lock = threading.Lock()

    def _enter(self, name: Any, state: Any, when: float) -> Transitions:
        """Record that ``name`` is in ``state`` at ``when`` (under the lock)."""
        found = self._by_name.get(name)
        if found is None or found[-1].state != state:
            kept = found[1 - self.length:] if found else ()
            found = self._by_name[name] = kept + (Transition(when, state),)
            self._version += 1
        return found

    def observe(self, name: Any, state: str, when: float) -> None:
        """One result of ``name`` at ``when``."""
        with self._lock:
            found = self._by_name.get(name)
            if not found or when >= found[-1].time:  # not older than what is known
                self._enter(name, state, when)
            self._last = max(self._last, when)

    def of(self, name: Any) -> Transitions:
        """The transitions of ``name`` (none if never seen)."""
        return self._by_name.get(name, ())

    def columns(self, names: Sequence[Any], statuses: Sequence[Mapping[str, Any]],
                when: float, complete: bool = True) -> Tuple[List[float], List[Transitions]]:
        """``(changed, transitions)`` aligned with ``names``: since when each
        handler has been in its state in ``statuses`` (valid statuses, as of
        ``when``), and its transitions. ``complete`` says these are all the
        handlers there are, so others can be forgotten.

        The lists are shared by reports until a state changes; they must
        not be modified.
        """
        states = list(map(_STATE, statuses))
        with self._lock:
            if (self._seen == self._version and states == self._states
                    and names == self._names and complete == self._complete):
                return self._changed, self._transitions
            older = when < self._last  # a report made before one already seen
            if not older:
                self._last = when
            by_name = self._by_name
            enter = self._enter
            transitions = [
                by_name.get(name, ()) if older else enter(name, state, when)
                for name, state in zip(names, states)
            ]
            if older and not all(transitions):
                return ([t[-1].time if t else when for t in transitions],
                        [t or (Transition(when, s),) for t, s in zip(transitions, states)])
            changed = [t[-1].time for t in transitions]
            if not older:
                if complete and len(by_name) > len(transitions):  # handlers that are gone
                    for name in set(by_name).difference(names):
                        del by_name[name]
                self._names, self._states, self._complete = list(names), states, complete
                self._changed, self._transitions = changed, transitions
                self._seen = self._version
            return changed, transitions
