"""One request's run of its handlers: :class:`Job` and its :class:`Plan`,
and the statuses the evaluator makes up for handlers that gave none.

A handler's result that is awaitable goes to the job's
:class:`~.eventloop.EventLoop`, which writes the result into the job when
it comes; it holds no walker's thread meanwhile.
"""
from __future__ import annotations

import contextvars
import inspect
import logging
import threading
import time
from operator import length_hint
from typing import (
    Any,
    Callable,
    Dict,
    Iterator,
    List,
    Mapping,
    NamedTuple,
    Optional,
    Sequence,
    Set,
    Tuple,
    Union,
    cast,
)

from pyramid.threadlocal import manager as threadlocal_manager

from ..handlers import HandlerOptions
from ..states import RED, VALID_STATES, checked
from ..text import describe_exception
from ..throttle import Throttle
from .eventloop import EventLoop, OverdueError
from .report import Origin

__all__: List[str] = []

log = logging.getLogger("lovely.ws.status")

#: A handler that took at least this long gets a walker of its own next
#: time; a queue that did not move for this long gets more walkers.
SLOW_SECONDS = 0.005

#: A result not there yet; a handler given up on before it started.
PENDING: Any = object()
SKIPPED: Any = object()
#: A result another job's run will give.
SHARED: Any = object()

Status = Mapping[str, Any]


def timed_out(timeout: float, still_running: bool = False) -> Dict[str, Any]:
    """The status of a handler that missed its deadline."""
    detail = f"timed out after {timeout:g} seconds"
    if still_running:
        detail += " (still running from an earlier request)"
    return {"state": RED, "detail": detail}


#: The status of a handler that no thread was free to run before its
#: deadline (all busy, often with handlers that missed theirs).
NOT_RUN = {
    "state": RED,
    "detail": "not run: no status thread was free before the deadline "
    "(see svcstatus.max_workers)",
}


def failed(name: Any, exc: BaseException, throttles: Dict[Any, Throttle]) -> Dict[str, Any]:
    """The status of a handler that raised ``exc``.

    Logged with its traceback, but a handler that keeps failing only once a
    minute, with the count of failures left out meanwhile.
    """
    detail = describe_exception(exc)
    throttle = throttles.get(name)
    if throttle is None:
        throttle = throttles.setdefault(name, Throttle())
    missed = throttle.fail()
    if missed is not None:
        more = f" ({missed} more failures since the last record)" if missed else ""
        try:
            log.error("status handler %r raised %s%s", name, detail, more, exc_info=exc)
        except BaseException:  # noqa: B036 - a broken log handler must not kill the walker
            pass
    return {"state": RED, "detail": detail}


class Job:
    """One request's run of its handlers; the walkers write results here."""

    __slots__ = ("names", "handlers", "statuses", "durations", "timeouts", "started",
                 "order", "queue", "timed", "slow", "walkers", "active", "closed", "outstanding",
                 "overdue", "late", "awaiting", "loop", "bounded", "notify",
                 "lock", "done", "threadlocals", "context", "failures")

    def __init__(self, names: Sequence[Any], handlers: Sequence[Any], timeouts: Sequence[float],
                 started: float, untimed: Optional[Tuple[None, ...]] = None) -> None:
        n = len(handlers)
        self.names = names
        self.handlers = handlers
        self.statuses: List[Any] = [PENDING] * n
        # A job given ``untimed`` (a tuple of ``None`` its evaluator hands to
        # every such job, instead of a list per request) times no handler:
        # only set_duration writes its durations, and makes them a list first.
        self.timed = untimed is None
        self.durations: Union[List[Optional[float]], Tuple[None, ...]] = (
            [None] * n if untimed is None else untimed)
        self.timeouts = timeouts
        self.started = started
        self.order: Sequence[int] = ()  # what the walkers run, in this order
        self.queue: Iterator[int] = iter(())  # the walkers' shared iterator over it
        self.slow: List[int] = []  # handlers seen taking SLOW_SECONDS or more
        self.walkers = 0  # submitted and not finished
        self.active = 0  # inside walk() since before the job was closed
        self.closed = False  # the request gave up
        self.outstanding: List[int] = []  # still running when it gave up
        # Handlers still running past their own deadline while the request
        # waits for others: their walkers' threads are detached, and leave
        # once the handler returns. ``late`` keeps every one ever detached.
        self.overdue: Set[int] = set()
        self.late: List[int] = []
        # Awaitables that handlers returned, handed to ``loop`` (an
        # ``EventLoop``) and not answered yet: they hold no walker's thread.
        self.awaiting: Set[int] = set()
        self.loop: Optional[EventLoop] = None
        #: Whether awaitables are cancelled at their deadline (not when the
        #: handlers are called one after the other: nothing times out then).
        self.bounded = True
        #: Called once every result is in (after :attr:`done` is set).
        self.notify: Optional[Callable[[], None]] = None
        self.lock = threading.Lock()
        self.done = threading.Event()
        # Pyramid's threadlocals and the context variables of the request's
        # thread, for handlers that use them on the walkers' threads.
        self.threadlocals: Dict[str, Any] = {}
        self.context: Optional[contextvars.Context] = None
        #: name -> when to log that handler's next failure (the evaluator's).
        self.failures: Dict[Any, Throttle] = {}

    def set_duration(self, i: int, seconds: Optional[float]) -> None:
        """Say what the result of handler ``i``, which this job did not
        time, took (a result of an earlier run, or of another job's)."""
        durations = self.durations
        if not isinstance(durations, list):  # the shared tuple: a list of its own from now on
            durations = self.durations = list(durations)
        durations[i] = seconds

    def deadline(self, i: int) -> float:
        return self.started + self.timeouts[i]

    def outcome(self) -> Tuple[List[Any], Sequence[Optional[float]], int]:
        """``(statuses, durations, not_run)``: every result, with what went
        wrong for those without one, and how many no thread was free to run."""
        if not self.closed and not self.late:  # every result is there, in time
            return self.statuses, self.durations, 0
        # Copies: late results go into the job only.
        statuses = list(self.statuses)
        durations = list(self.durations)
        elapsed = time.perf_counter() - self.started
        for i in self.late:  # answered, if at all, after its deadline
            statuses[i] = PENDING
        not_run = 0
        for i, status in enumerate(statuses):
            if status is PENDING:
                statuses[i] = timed_out(self.timeouts[i])
            elif status is SKIPPED:
                statuses[i] = NOT_RUN
                not_run += 1
            else:
                continue
            durations[i] = elapsed
        return statuses, durations, not_run

    def walk(self) -> bool:
        """Run handlers from the queue (a pool task); ``True`` when this
        walker's thread was detached (it ran a handler past its deadline)."""
        with self.lock:
            if self.closed:
                self.walkers -= 1
                return False
            self.active += 1
        left = False
        threadlocal_manager.push(self.threadlocals)
        try:
            # A copy each: one context cannot be entered by two threads.
            left = self.context.copy().run(self.walk_here) if self.context else self.walk_here()
        finally:
            threadlocal_manager.pop()
            with self.lock:
                self.active -= 1
                self.walkers -= 1
                finished = self._finished()
            if finished and self.notify is not None:
                self.notify()
        return left or self.closed

    def _finished(self) -> bool:
        """Set :attr:`done` if every result is in (under the lock)."""
        if self.walkers or self.awaiting or length_hint(self.queue) or self.done.is_set():
            return False
        self.done.set()
        return True

    def walk_here(self, catch: Any = BaseException) -> bool:
        """Call the queued handlers in this thread; ``catch`` is what a
        handler may raise and still be reported (the rest propagates).

        ``True`` when it stopped because its thread was detached.
        """
        # The hot loop: a thousand cheap handlers go through here per request,
        # so no locks, at most one clock reading per handler, and a plain
        # dict with a valid state is accepted inline. Walkers share one
        # iterator: under the GIL each next() hands an index to one of them.
        handlers = self.handlers
        statuses = self.statuses
        # (written only when timed, and a timed job's are its own list: __init__)
        durations = cast(List[Optional[float]], self.durations)
        slow = self.slow
        valid = VALID_STATES
        timed = self.timed
        # Only a timed job has handlers of different deadlines, hence
        # handlers that can be overdue while the request still waits.
        overdue = self.overdue if timed else None
        clock = time.perf_counter
        then = clock()
        for i in self.queue:
            try:
                result = handlers[i]()
            except catch as exc:
                result = failed(self.names[i], exc, self.failures)
            if timed:
                now = clock()
                took = durations[i] = now - then
                then = now
                if took >= SLOW_SECONDS:
                    slow.append(i)
            try:
                if (type(result) is not dict or type(state := result["state"]) is not str
                        or state not in valid):
                    if inspect.isawaitable(result):
                        self._hand_over(i, result)
                        continue
                    result = checked(result)
            except BaseException:  # noqa: B036 - no state, unhashable, a broken __eq__
                result = checked(result)
            statuses[i] = result
            if overdue:
                with self.lock:  # the request detaches under this lock too
                    if i in overdue:
                        overdue.discard(i)
                        return True
        return False

    def _hand_over(self, i: int, awaitable: Any) -> None:
        """Have the event loop await what handler ``i`` returned; the
        result lands here when it comes."""
        started = time.perf_counter()
        timeout = max(self.deadline(i) - started, 0.0) if self.bounded else None
        with self.lock:
            self.awaiting.add(i)

        def done(result: Any, exc: Optional[BaseException]) -> None:
            if exc is None:
                status = checked(result)
            elif isinstance(exc, OverdueError):
                status = timed_out(self.timeouts[i])
            else:
                status = failed(self.names[i], exc, self.failures)
            with self.lock:
                if self.timed:
                    cast(List[Optional[float]], self.durations)[i] = time.perf_counter() - started
                self.statuses[i] = status
                self.awaiting.discard(i)
                finished = self._finished()
            if finished and self.notify is not None:
                self.notify()

        if self.loop is None:
            done(None, RuntimeError("no event loop for an async handler"))
        else:
            self.loop.submit(awaitable, timeout, done)


class Shared(NamedTuple):
    """A run of another job that this one waits for instead of its own."""

    mine: int  # the index in this job
    job: Job
    other: int  # the index in the other job
    deadline: float


class Plan:
    """What the plan of one evaluation found, for the steps after it."""

    __slots__ = ("shared", "first", "ttls", "counted", "peeked", "background", "intervals",
                 "origins", "fresh_until")

    def __init__(self) -> None:
        self.shared: List[Shared] = []  # runs of other jobs this one waits for
        self.first: List[int] = []  # handlers known to be slow
        self.ttls: Dict[int, HandlerOptions] = {}  # handlers whose results may be cached
        self.counted: List[int] = []  # results that count for failure_threshold
        self.peeked: List[int] = []  # results another job counts
        self.background: List[int] = []  # this job's runs of handlers with an interval
        self.intervals: List[Any] = []  # names of the handlers with an interval
        self.origins: Dict[int, Origin] = {}  # results this job does not run
        # When the first of them goes stale, if every result came fresh
        # from the refresher.
        self.fresh_until: Optional[float] = None
