"""What the evaluator remembers of each handler between requests
(:class:`HandlerState`), only of handlers with something to remember: slow
last time, a cached result, failures in a row to count. :func:`remembered`
brings it in line with a handler's options before a run, :func:`learn`
takes in what the run found.
"""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional

from ..handlers import HandlerOptions
from ..states import OK
from .damping import Streak
from .job import PENDING, SLOW_SECONDS, Job, Plan
from .report import StatusReport

__all__: List[str] = []

Status = Mapping[str, Any]


class HandlerState:
    """What the evaluator remembers of one handler between requests."""

    __slots__ = ("handler", "slow", "cached", "cached_duration", "cached_time", "expires",
                 "streak")

    def __init__(self, handler: Any) -> None:
        self.handler = handler
        self.slow = False  # took SLOW_SECONDS or more last time
        self.cached: Optional[Status] = None  # the last result, while a ttl allows
        self.cached_duration: Optional[float] = None
        self.cached_time = 0.0  # when its run ended, in seconds since the epoch
        self.expires = 0.0
        self.streak: Optional[Streak] = None  # with a failure_threshold

    def special(self) -> bool:
        """Whether there is anything to remember."""
        return self.slow or self.cached is not None or self.streak is not None

    def cache(self, status: Status, ok: bool, duration: Optional[float],
              options: HandlerOptions, now: float, when: float) -> None:
        """Keep ``status`` (of a result that was ``ok`` or not, whose run
        ended at ``when``, seconds since the epoch) as long as ``ttl`` or
        ``failure_ttl`` allow from ``now``."""
        ttl = options.ttl if ok or options.failure_ttl is None else options.failure_ttl
        if ttl:
            self.cached, self.cached_duration, self.expires = status, duration, now + ttl
            self.cached_time = when
        else:
            self.cached = self.cached_duration = None


def remembered(states: Dict[Any, HandlerState], name: Any, handler: Any,
               options: HandlerOptions) -> Optional[HandlerState]:
    """What ``states`` remember of ``handler`` under ``name``, brought in
    line with its ``options``: another handler's state is dropped, a
    ``failure_threshold`` gets its count, a state left with nothing to
    remember goes."""
    state = states.get(name)
    if state is not None and state.handler is not handler:
        del states[name]  # another handler under that name now
        state = None
    threshold = options.failure_threshold
    if threshold is not None:
        if state is None:
            state = states[name] = HandlerState(handler)
        if state.streak is None or state.streak.threshold != threshold:
            state.streak = Streak(threshold)
    elif state is not None:
        state.streak = None
        if state.cached is not None and options.ttl is None and options.failure_ttl is None:
            # Registered again without its ttl: the cached result must not
            # come back with a ttl later, nor keep every request off the
            # common case.
            state.cached = state.cached_duration = None
        if not state.special():
            del states[name]
            state = None
    return state


def counted(states: Dict[Any, HandlerState], name: Any, handler: Any,
            status: Status) -> Status:
    """``status`` of a new result, counted by the ``failure_threshold`` of
    ``handler`` if it has one."""
    state = states.get(name)
    if state is None or state.handler is not handler or state.streak is None:
        return status
    return state.streak.count_result(status)


def learn(states: Dict[Any, HandlerState], job: Job, report: StatusReport, plan: Plan,
          now: float) -> None:
    """Remember what ``job`` found (under the evaluator's lock): slow
    handlers, and forget those no longer slow; failures in a row, counted
    into the report's statuses; results with a ttl."""
    names = job.names
    statuses = report.statuses
    raw = list(statuses) if plan.ttls else statuses

    def state(i: int) -> HandlerState:
        found = states.get(names[i])
        if found is None or found.handler is not job.handlers[i]:
            found = states[names[i]] = HandlerState(job.handlers[i])
        return found

    for i in plan.first:
        took = report.durations[i]
        if took is not None and took < SLOW_SECONDS and job.statuses[i] is not PENDING:
            found = state(i)
            found.slow = False
            if not found.special():
                del states[names[i]]
    for i in job.slow + job.outstanding + job.late:
        if i not in plan.background:  # (never run on request again)
            state(i).slow = True
    own = {i for i in plan.ttls if statuses[i] is job.statuses[i]}  # in time
    for count, indices in ((True, plan.counted), (False, plan.peeked)):
        for i in indices:
            streak = state(i).streak
            if streak is not None:
                statuses[i] = (streak.count_result(statuses[i]) if count
                               else streak.damped(statuses[i]))
    for i, options in plan.ttls.items():
        if i in own:
            found = state(i)
            found.cache(statuses[i], raw[i]["state"] == OK, report.durations[i], options, now,
                        report.timestamp)
            if not found.special():
                del states[names[i]]
