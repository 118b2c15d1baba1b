"""Evaluate every status handler safely: isolated, under deadlines, concurrently.

The request thread never calls a handler itself. Handlers run on a small pool
of daemon threads ("walkers") that pull indices from a shared iterator, so a
thousand cheap handlers cost one hand-off, while a handler that blocks is
noticed (no new index is taken for a tick) and the rest of the work is taken
over by more walkers, twice as many at each tick that sees no progress.
Handlers known to be slow from their last run are put first, each picked up
by a walker of its own. The request thread waits until every handler has
answered or missed its deadline, whichever comes first.

A run that is known to take a while (a slow handler, or one that has been
busy for a tick) is shared: a concurrent request waits for that run's result
(until that run's deadline) instead of starting the handler again. A handler
still running past its deadline is not started again by later requests; it
is reported as timed out until it returns. So a hung dependency ties up one
thread, not one per request.
"""
from __future__ import annotations

import contextvars
import logging
import os
import threading
import time
import weakref
from collections.abc import Mapping
from operator import itemgetter, length_hint
from queue import Empty, SimpleQueue
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

from pyramid.threadlocal import manager as threadlocal_manager
from zope.interface import Interface

from . import HANDLER_OPTIONS, OK, RED, STATUS_HANDLERS, YELLOW

__all__ = [
    "DEFAULT_TIMEOUT",
    "DEFAULT_MAX_WORKERS",
    "IStatusEvaluator",
    "StatusEvaluator",
    "StatusReport",
    "evaluate",
    "get_evaluator",
    "worst_state",
]

log = logging.getLogger("lovely.ws.status")

DEFAULT_TIMEOUT = 5.0
DEFAULT_MAX_WORKERS = 32
#: A handler that took at least this long gets a walker of its own next time,
#: and a walker stuck this long on one handler makes the others take over.
SLOW_SECONDS = 0.005
#: The first look at a request's walkers comes sooner, so that concurrent
#: requests learn early of a handler that hangs and share its run instead of
#: each starting one.
FIRST_TICK_SECONDS = 0.001

VALID_STATES = frozenset((OK, YELLOW, RED))
_SEVERITY = {OK: 0, YELLOW: 1, RED: 2}

_PENDING = object()
_SKIPPED = object()


class IStatusEvaluator(Interface):
    """Marker for the :class:`StatusEvaluator` utility of a Pyramid registry."""


def worst_state(states: Iterable[Any]) -> str:
    """The most severe of ``states`` (:data:`OK` for none); unknown ones count as RED."""
    worst = 0
    for state in states:
        try:
            level = _SEVERITY.get(state, 2)
        except TypeError:  # unhashable: certainly not a valid state
            level = 2
        if level > worst:
            worst = level
            if worst == 2:
                break
    return (OK, YELLOW, RED)[worst]


class StatusReport:
    """The outcome of one evaluation of the status handlers.

    ``names``, ``statuses`` and ``durations`` are parallel lists in
    registration order. Each status is the dict the handler returned (never
    modified) when it was valid, otherwise a new ``{'state': RED, 'detail':
    ...}`` that says what went wrong. ``durations`` holds the seconds each
    handler took; for one that timed out, how long the request waited for
    it; for a cached result, what the run that produced it took.
    """

    __slots__ = ("names", "statuses", "durations", "timestamp")

    def __init__(
        self,
        names: List[str],
        statuses: List[Mapping[str, Any]],
        durations: List[Optional[float]],
        timestamp: Optional[float] = None,
    ) -> None:
        self.names = names
        self.statuses = statuses
        self.durations = durations
        self.timestamp = time.time() if timestamp is None else timestamp

    def __len__(self) -> int:
        return len(self.names)

    def items(self) -> List[Tuple[str, Mapping[str, Any]]]:
        """``(name, status)`` pairs in registration order."""
        return list(zip(self.names, self.statuses))

    def sorted_items(self) -> List[Tuple[str, Mapping[str, Any]]]:
        """``(name, status)`` pairs sorted by name."""
        try:
            return sorted(zip(self.names, self.statuses), key=itemgetter(0))
        except TypeError:  # names that are not all strings
            return sorted(zip(self.names, self.statuses), key=lambda i: str(i[0]))

    def sorted_columns(self) -> Tuple[Sequence[Any], Sequence[Mapping[str, Any]],
                                      Sequence[Optional[float]]]:
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

    def as_dict(self) -> Dict[str, Mapping[str, Any]]:
        """``{name: status}`` in registration order."""
        return dict(zip(self.names, self.statuses))

    @property
    def state(self) -> str:
        """The worst state of all handlers (:data:`OK` when there are none)."""
        return worst_state(s["state"] for s in self.statuses)


def _describe_invalid(result: Any) -> str:
    if not isinstance(result, Mapping):
        return f"invalid status: handler returned {type(result).__name__}, not a dict"
    if "state" not in result:
        return "invalid status: no 'state' in the handler's result"
    return "invalid status: state {} is not one of OK, YELLOW, RED".format(
        _short_repr(result["state"])
    )


def _short_repr(value: Any, limit: int = 80) -> str:
    try:
        text = repr(value)
    except BaseException:  # noqa: B036 - a broken __repr__ must not break the report
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _exception_detail(exc: BaseException) -> str:
    try:
        message = str(exc)
    except BaseException:  # noqa: B036 - even one that raises SystemExit
        message = "<unprintable>"
    name = type(exc).__name__
    return f"{name}: {message}" if message else name


def _timeout_detail(timeout: float) -> str:
    return f"timed out after {timeout:g} seconds"


def _checked(result: Any) -> Mapping[str, Any]:
    """``result`` if it is a valid status, else a RED status saying why.

    A valid mapping that is not a plain dict is copied into one, so the
    renderers never call into a broken ``get``.
    """
    try:
        if isinstance(result, Mapping):
            state = result.get("state")
            if isinstance(state, str):
                plain = str.__str__(state)  # an enum member: its value
                if plain in VALID_STATES:
                    if type(result) is dict and type(state) is str:
                        return result
                    # A copy with a plain state, so the renderers need not
                    # care about str subclasses or a broken ``get``.
                    status = dict(result)
                    status["state"] = plain
                    return status
        return {"state": RED, "detail": _describe_invalid(result)}
    except BaseException as exc:  # noqa: B036 - a mapping that fails when looked into
        return {"state": RED, "detail": "invalid status: " + _exception_detail(exc)}


def _failed(name: Any, exc: BaseException) -> Mapping[str, Any]:
    detail = _exception_detail(exc)
    log.error("status handler %r raised %s", name, detail, exc_info=exc)
    return {"state": RED, "detail": detail}


class _Batch:
    """The state shared by the walkers of one evaluation.

    ``statuses[i]`` stays ``_PENDING`` until handler ``i`` has returned (then
    it is its checked status) or was skipped because the request gave up.
    """

    __slots__ = ("names", "handlers", "statuses", "durations", "slow", "queue",
                 "closed", "walkers", "waiting", "abandoned", "lock", "done", "timed",
                 "threadlocals", "context")

    def __init__(self, names: List[Any], handlers: List[Any], statuses: List[Any],
                 durations: List[Optional[float]]) -> None:
        self.names = names
        self.handlers = handlers
        self.statuses = statuses
        self.durations = durations
        self.slow: List[int] = []
        self.queue: Iterator[int] = iter(())
        self.closed = False  # the request gave up (under ``lock``)
        self.walkers = 0
        self.waiting = 0  # walkers submitted that have not started yet
        # Walkers the request gave up on while they ran: their threads no
        # longer count against the pool's size (see _WorkerPool.abandon).
        self.abandoned = 0
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.timed = True
        # What the request's thread had, for handlers on other threads:
        # Pyramid's threadlocals (get_current_request() and friends) and
        # the context variables.
        self.threadlocals: Optional[Dict[str, Any]] = None
        self.context: Optional[contextvars.Context] = None

    def walk(self) -> bool:
        """Walk the handlers on a worker thread, as the request's thread.

        True when the request gave up on this walker while it ran: its
        thread was no longer counted by the pool.
        """
        with self.lock:
            self.waiting -= 1
            late = self.closed
        if self.threadlocals is not None:
            threadlocal_manager.push(self.threadlocals)
        try:
            if self.context is None:
                return self.walk_here(late)
            # A copy each: one context cannot be entered by two walkers.
            return self.context.copy().run(self.walk_here, late)
        finally:
            if self.threadlocals is not None:
                threadlocal_manager.pop()

    def walk_here(self, late: bool = True) -> bool:
        # The hot loop: a thousand cheap handlers go through here per
        # request, so it has no locks, one clock reading per handler, and
        # checks a result inline when it is a plain dict with a valid state.
        # Walkers share one iterator: under the GIL each next() hands an
        # index to exactly one of them, more cheaply than a deque.
        handlers = self.handlers
        statuses = self.statuses
        durations = self.durations
        slow = self.slow
        valid = VALID_STATES
        slow_seconds = SLOW_SECONDS
        clock = time.perf_counter
        # A clock reading per handler is a third of this loop's cost: the
        # formats that show no durations go without (slow handlers are then
        # noticed by the request's ticks instead).
        timed = self.timed
        then = clock()
        try:
            # Giving up empties the shared iterator, so no check per handler.
            for i in self.queue:
                try:
                    result = handlers[i]()
                except BaseException as exc:  # noqa: B036 - report, never die
                    result = _failed(self.names[i], exc)
                if timed:
                    now = clock()
                    took = durations[i] = now - then
                    then = now
                    if took >= slow_seconds:
                        slow.append(i)
                try:
                    if (type(result) is not dict
                            or type(state := result["state"]) is not str
                            or state not in valid):
                        result = _checked(result)
                except BaseException:  # noqa: B036 - no state, an unhashable one, a broken __eq__
                    result = _checked(result)
                statuses[i] = result
        finally:
            with self.lock:
                self.walkers -= 1
                if self.walkers == 0 and not length_hint(self.queue):
                    self.done.set()
                # One of the walkers that ran when the request gave up?
                abandoned = self.abandoned and not late
                if abandoned:
                    self.abandoned -= 1
        return bool(abandoned)


class _WorkerPool:
    """Daemon threads that run walkers; they never block interpreter exit."""

    IDLE_SECONDS = 60.0

    def __init__(self, max_workers: int) -> None:
        self.max_workers = max_workers
        self._tasks: SimpleQueue = SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        # Threads waiting for a task minus tasks waiting for a thread.
        self._idle = 0
        # Threads left inside handlers that missed their deadline, not
        # counted in _threads (at most max_workers of them).
        self._orphans = 0

    def submit(self, batch: _Batch, force: bool = False) -> bool:
        """Start a walker on ``batch``.

        Without ``force``, only when a thread is free or may be added;
        with it, the walker waits for the next free thread if need be.
        """
        spawn = False
        with self._lock:
            if self._idle <= 0:
                if self._threads < self.max_workers:
                    self._threads += 1
                    spawn = True
                elif not force:
                    return False
            self._idle -= 1
        with batch.lock:
            batch.walkers += 1
            batch.waiting += 1
        self._tasks.put(batch)
        if spawn:
            try:
                threading.Thread(target=self._work, name="lovely.ws.status",
                                 daemon=True).start()
            except RuntimeError as exc:  # out of threads: the task waits for one
                with self._lock:
                    self._threads -= 1
                log.error("cannot start a status worker thread: %s", exc)
        return True

    def abandon(self, n: int) -> int:
        """Stop counting ``n`` threads stuck in handlers past their deadline.

        A hung handler is not started again while it runs, so it holds one
        thread; without this, as many of them as ``max_workers`` would leave
        no thread for any other handler. Returns how many threads are no
        longer counted: never more than ``max_workers`` in all.
        """
        with self._lock:
            n = max(min(n, self.max_workers - self._orphans), 0)
            self._orphans += n
            self._threads -= n
        return n

    def _work(self) -> None:
        get = self._tasks.get
        with self._lock:
            self._idle += 1
        while True:
            try:
                batch = get(timeout=self.IDLE_SECONDS)
            except Empty:
                with self._lock:
                    if self._idle > 0:  # no task is on its way to us: leave
                        self._idle -= 1
                        self._threads -= 1
                        return
                continue
            orphan = False
            try:
                orphan = batch.walk()
            except BaseException:  # pragma: no cover - walk() handles its own
                log.exception("status worker failed")
            with self._lock:
                if orphan:  # counted again, unless the pool is full without us
                    self._orphans -= 1
                    if self._threads >= self.max_workers:
                        return
                    self._threads += 1
                self._idle += 1


_EVALUATORS: weakref.WeakSet[StatusEvaluator] = weakref.WeakSet()


def _after_fork() -> None:
    for evaluator in list(_EVALUATORS):
        evaluator._reset()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


class StatusEvaluator:
    """Runs the status handlers for the views; one per Pyramid registry.

    :param timeout: default seconds a handler may take.
    :param max_workers: most threads that run handlers at the same time.
        Threads left inside handlers that missed their deadline stop
        counting (up to as many again), so that hung handlers cannot leave
        none for the others.
    :param concurrent: ``False`` calls the handlers one after the other in
        the calling thread, as 1.0 did: for handlers bound to the request's
        thread (an ``sqlite3`` connection, a thread-scoped session). Failures
        are still isolated, but nothing can time out.
    """

    def __init__(
        self,
        timeout: float = DEFAULT_TIMEOUT,
        max_workers: int = DEFAULT_MAX_WORKERS,
        concurrent: bool = True,
    ) -> None:
        self.timeout = float(timeout)
        self.max_workers = int(max_workers)
        self.concurrent = bool(concurrent)
        self._lock = threading.Lock()
        # Held by a request from its look at the runs under way to its first
        # walkers (see evaluate).
        self._starting = threading.Lock()
        # name -> (handler, batch, index, deadline) of runs known to be in
        # flight: slow ones, and those that outlived their deadline. Another
        # request shares such a run instead of starting the handler again.
        self._stuck: Dict[str, Tuple[Any, _Batch, int, float]] = {}
        # name -> (handler, expires, status, duration) for handlers with a ttl
        self._cache: Dict[str, Tuple[Any, float, Mapping[str, Any], Optional[float]]] = {}
        # name -> handler whose last run was slow
        self._slow: Dict[str, Any] = {}
        self._pool: Optional[_WorkerPool] = None
        # id(batch) -> (batch, order, started, timeouts) of requests under way
        self._live: Dict[int, Tuple[_Batch, Any, float, Optional[List[float]]]] = {}
        _EVALUATORS.add(self)

    def _reset(self) -> None:
        # After a fork the worker threads are gone, and so are the requests
        # of the parent's other threads: their runs will never end here.
        self._lock = threading.Lock()
        self._starting = threading.Lock()
        self._pool = None
        self._stuck.clear()
        self._live.clear()

    @property
    def pool(self) -> _WorkerPool:
        pool = self._pool
        if pool is None:
            with self._lock:
                pool = self._pool
                if pool is None:
                    pool = self._pool = _WorkerPool(self.max_workers)
        return pool

    def running(self) -> List[str]:
        """Names of handlers still running after they timed out."""
        now = time.perf_counter()
        return [
            name
            for name, (_, batch, i, deadline) in list(self._stuck.items())
            if batch.statuses[i] is _PENDING and deadline <= now
        ]

    def in_flight(self) -> List[str]:
        """Names of handlers whose run other requests wait for instead of
        starting them again (slow ones, and those that timed out)."""
        return [
            name
            for name, (_, batch, i, _) in list(self._stuck.items())
            if batch.statuses[i] is _PENDING
        ]

    def _in_flight(self, batch: _Batch, i: int, deadline: float) -> None:
        """Note that handler ``i`` of ``batch`` runs, unless another run of it does."""
        name = batch.names[i]
        handler = batch.handlers[i]
        stuck = self._stuck
        entry = stuck.get(name)
        if entry is None or entry[0] is not handler or entry[1].statuses[entry[2]] is not _PENDING:
            stuck[name] = (handler, batch, i, deadline)

    def evaluate(self, names: Optional[Iterable[str]] = None,
                 durations: bool = True) -> StatusReport:
        """Evaluate the registered handlers (or only ``names``, in that order).

        With ``durations=False`` the handlers are not timed one by one (the
        report's durations are ``None``), which makes a thousand trivial
        handlers a third cheaper; handlers with options, or known to be slow,
        are always timed.
        """
        handlers_by_name = STATUS_HANDLERS.copy()
        if names is None:
            name_list = list(handlers_by_name)
            handlers = list(handlers_by_name.values())
        else:
            name_list = [n for n in dict.fromkeys(names) if n in handlers_by_name]
            handlers = [handlers_by_name[n] for n in name_list]
        n = len(handlers)
        batch = _Batch(name_list, handlers, [_PENDING] * n, [None] * n)
        started = time.perf_counter()
        if not self.concurrent:
            return self._serially(batch, started, durations)
        # From its look at the runs under way to its first walkers, a request
        # has the evaluator to itself: a concurrent one sees either nothing of
        # it or the handlers it runs, never a moment in between in which it
        # would start the same handler a second time.
        with self._starting:
            prepared = self._prepare(batch, started, durations)
            if prepared is None:
                return StatusReport(name_list, batch.statuses, batch.durations)
            plan, order = prepared
            batch.threadlocals = threadlocal_manager.get()
            batch.context = contextvars.copy_context()
            key = id(batch)
            self._live[key] = (batch, order, started, None if plan is None else plan.timeouts)
            try:
                self._start(batch, plan, started, order)
            except BaseException:
                self._live.pop(key, None)
                raise
        try:
            return self._run(batch, plan, started, order)
        finally:
            self._live.pop(key, None)

    def _prepare(self, batch: _Batch, started: float,
                 durations: bool) -> Optional[Tuple[Optional[_Plan], Any]]:
        """Decide what to run, in which order; ``None`` when nothing is to run."""
        if self._live:
            self._adopt_running()
        if self._stuck or self._cache or self._slow:
            self._prune(started)
        if HANDLER_OPTIONS or self._stuck or self._cache or self._slow:
            plan: Optional[_Plan] = self._plan(batch, started)
            order: Any = plan.first + plan.rest
            if not order and not plan.borrowed:
                return None
        else:
            # The common case: nothing special about any handler.
            plan = None
            order = range(len(batch.handlers))
            if not order:
                return None
        batch.queue = iter(order)
        batch.timed = durations or plan is not None
        return plan, order

    def _serially(self, batch: _Batch, started: float, durations: bool) -> StatusReport:
        """Call the handlers one after the other in this thread (not concurrent)."""
        prepared = self._prepare(batch, started, durations)
        if prepared is not None:
            batch.walkers = 1
            batch.walk_here()
        report = StatusReport(batch.names, batch.statuses, batch.durations)
        # Nothing times out here, and no walker needs to know what is slow.
        if prepared is not None and prepared[0] is not None and prepared[0].ttls:
            self._cache_results(batch, prepared[0], report)
        return report

    def _adopt_running(self) -> None:
        """Share the handlers that concurrent requests are running right now.

        A request that arrives while another one's walker is inside a
        handler waits for that run instead of starting a second one, so a
        hung dependency holds one thread, not one per simultaneous request.
        """
        for batch, order, started, timeouts in list(self._live.values()):
            # Taken by a walker, or next in line for one that has been
            # submitted but not yet started: either runs now or soon.
            taken = len(order) - length_hint(batch.queue) + batch.waiting
            statuses = batch.statuses
            for i in order[:taken]:
                if statuses[i] is _PENDING:
                    timeout = self.timeout if timeouts is None else timeouts[i]
                    self._in_flight(batch, i, started + timeout)

    def _prune(self, now: float) -> None:
        """Forget handlers that are no longer registered, runs that ended,
        and results whose ttl is over.

        Without this, one handler that was slow once and is gone since would
        keep every later request off the fast path.
        """
        current = STATUS_HANDLERS
        slow = self._slow
        for name, handler in list(slow.items()):
            if current.get(name) is not handler:
                slow.pop(name, None)
        cache = self._cache
        for name, entry in list(cache.items()):
            if entry[1] <= now or current.get(name) is not entry[0]:
                cache.pop(name, None)
        stuck = self._stuck
        for name, entry in list(stuck.items()):
            if current.get(name) is not entry[0] or entry[1].statuses[entry[2]] is not _PENDING:
                stuck.pop(name, None)

    def _plan(self, batch: _Batch, now: float) -> _Plan:
        """Take cached and stuck handlers out; put slow ones first."""
        options = HANDLER_OPTIONS
        stuck = self._stuck
        cache = self._cache
        slow = self._slow
        statuses = batch.statuses
        handlers = batch.handlers
        plan = _Plan(self.timeout, len(handlers))
        timeouts = plan.timeouts
        for i, name in enumerate(batch.names):
            handler = handlers[i]
            entry = options.get(name)
            if entry is not None and entry[0] is handler:
                timeout, ttl = entry[1]
                if timeout is not None:
                    timeouts[i] = timeout
                if ttl is not None:
                    cached = cache.get(name)
                    if cached is not None and cached[0] is handler and cached[1] > now:
                        statuses[i] = cached[2]
                        batch.durations[i] = cached[3]
                        continue
                    plan.ttls[i] = ttl
            if stuck:
                previous = stuck.get(name)
                if previous is not None:
                    earlier, j, deadline = previous[1:]
                    if previous[0] is handler and earlier.statuses[j] is _PENDING:
                        if deadline <= now:
                            statuses[i] = {
                                "state": RED,
                                "detail": _timeout_detail(timeouts[i])
                                + " (still running from an earlier request)",
                            }
                            plan.ttls.pop(i, None)  # not an answer: cache none
                        else:
                            # Running for another request: wait for that run
                            # (until its deadline, or ours if that is sooner).
                            plan.borrowed.append(
                                (i, earlier, j, min(deadline, now + timeouts[i])))
                        continue
                    # Finished (or replaced); other requests may race us here.
                    stuck.pop(name, None)
            if slow and slow.get(name) is handler:
                plan.first.append(i)
            else:
                plan.rest.append(i)
        return plan

    def _start(self, batch: _Batch, plan: Optional[_Plan], started: float,
               order: Any) -> None:
        """Submit the first walkers: one for each handler known to be slow,
        and one for the rest. The first one waits for a thread if all are busy."""
        if not order:
            batch.done.set()
            return
        pool = self.pool
        pool.submit(batch, force=True)
        if plan is not None and plan.first:
            for _ in range(min(len(plan.first), len(order) - 1)):
                if not pool.submit(batch):
                    break
            timeouts = plan.timeouts
            for i in plan.first:
                self._in_flight(batch, i, started + timeouts[i])

    def _run(self, batch: _Batch, plan: Optional[_Plan], started: float,
             order: Any) -> StatusReport:
        pool = self.pool
        clock = time.perf_counter
        statuses = batch.statuses
        borrowed: List[Tuple[int, _Batch, int, float]] = []
        if plan is not None:
            borrowed = plan.borrowed
            timeouts = plan.timeouts
            latest = max([started + timeouts[i] for i in order]
                         + [b[3] for b in borrowed])
        else:
            latest = started + self.timeout
        own_done = not order
        wait = max(min(FIRST_TICK_SECONDS, latest - clock()), 0)
        # Queued handlers that nobody has picked up; each new walker takes one.
        queued = length_hint(batch.queue)
        expected = queued
        grow = 1
        noted = 0  # the handlers up to this position in order are in _stuck
        while True:
            if borrowed:
                borrowed = self._collect(batch, plan, borrowed, clock())
            if own_done:
                if not borrowed:
                    break
                time.sleep(max(min(wait, latest - clock()), 0))
            elif batch.done.wait(wait):
                own_done = True
                continue
            now = clock()
            if now >= latest:
                if borrowed:  # what finished while we slept still counts
                    borrowed = self._collect(batch, plan, borrowed, now)
                break
            if plan is not None:
                # Give up early once every handler still out is past its deadline.
                out = [started + timeouts[i] for i in order if statuses[i] is _PENDING]
                latest = max(out + [b[3] for b in borrowed], default=0)
                if now >= latest:
                    break
            if own_done:
                continue
            queued = length_hint(batch.queue)
            # Handlers some walker has been busy with for a tick or more: let
            # concurrent requests wait for these runs rather than start more.
            started_count = len(order) - queued
            if started_count > noted:
                for i in order[noted:started_count]:
                    if statuses[i] is _PENDING:
                        if not batch.timed:  # slow, and no clock will say so
                            batch.slow.append(i)
                        self._in_flight(
                            batch, i,
                            started + (self.timeout if plan is None else timeouts[i]),
                        )
                noted = started_count
            if queued and queued >= expected:
                # No walker got to a new handler since the last tick: they
                # are all busy, so let more take over, twice as many each time.
                added = 0
                for _ in range(min(grow, queued)):
                    if not pool.submit(batch):
                        break
                    added += 1
                grow *= 2
                expected = queued - added
            else:
                expected = queued
            if queued:  # watch the queue closely
                wait = SLOW_SECONDS
            elif plan is None:  # one deadline for all: wait for it (or done)
                wait = min(latest - now, 3600.0)  # Event.wait() has a maximum
            else:  # per-handler deadlines: look again now and then
                wait = min(max(2 * wait, SLOW_SECONDS), 0.05, latest - now)

        for i, _, _, _ in borrowed:  # runs of other requests still out: too late
            statuses[i] = {"state": RED, "detail": _timeout_detail(
                self.timeout if plan is None else plan.timeouts[i])}
            batch.durations[i] = clock() - started
            if plan is not None:
                plan.ttls.pop(i, None)  # not an answer: cache none
        if batch.done.is_set():  # every walker has finished: nothing writes any more
            result = StatusReport(batch.names, statuses, batch.durations)
        else:
            # Snapshots: a handler that returns late writes into the batch only.
            result = StatusReport(batch.names, list(statuses), list(batch.durations))
            self._give_up(batch, plan, result, started)
        if batch.slow or plan is not None:
            self._remember(batch, plan, result)
        return result

    def _collect(self, batch: _Batch, plan: _Plan, borrowed: List[Any],
                 now: float) -> List[Any]:
        """Take the results of shared runs that finished; return the others."""
        waiting = []
        for entry in borrowed:
            i, other, j, deadline = entry
            status = other.statuses[j]
            if status is _PENDING and deadline > now:
                waiting.append(entry)
                continue
            if status is _PENDING or status is _SKIPPED:
                status = {"state": RED, "detail": _timeout_detail(plan.timeouts[i])}
                batch.durations[i] = other.durations[j]
                plan.ttls.pop(i, None)  # not an answer: cache none
            else:
                batch.durations[i] = other.durations[j]
            batch.statuses[i] = status
        return waiting

    def _give_up(self, batch: _Batch, plan: Optional[_Plan], report: StatusReport,
                 started: float) -> None:
        """Report what did not finish in time; remember what still runs."""
        # Nothing queued may start any more. Under the lock of evaluate(), so
        # that no request takes these for running before they are marked.
        with self._starting:
            for i in batch.queue:
                batch.statuses[i] = _SKIPPED
        with batch.lock:
            batch.closed = True
            # The walkers still inside handlers (all past their deadlines):
            # the pool makes up for their threads.
            running = batch.walkers - batch.waiting
            if running > 0:
                batch.abandoned = self.pool.abandon(running)
        statuses = report.statuses
        now = time.perf_counter()
        elapsed = now - started
        for i, status in enumerate(statuses):
            if status is _PENDING or status is _SKIPPED:
                timeout = self.timeout if plan is None else plan.timeouts[i]
                statuses[i] = {"state": RED, "detail": _timeout_detail(timeout)}
                report.durations[i] = elapsed
                if batch.statuses[i] is _PENDING:
                    self._in_flight(batch, i, min(now, started + timeout))
                    self._slow[batch.names[i]] = batch.handlers[i]

    def _remember(self, batch: _Batch, plan: Optional[_Plan], report: StatusReport) -> None:
        """Note slow handlers, finish late ones, and cache those with a ttl."""
        names = batch.names
        statuses = report.statuses
        durations = report.durations
        slow = self._slow
        for i in batch.slow:
            timeout = self.timeout if plan is None else plan.timeouts[i]
            slow[names[i]] = batch.handlers[i]
            took = durations[i]
            if took is not None and took > timeout:  # it answered, but too late
                statuses[i] = {"state": RED, "detail": _timeout_detail(timeout)}
        if plan is None:
            return
        for i in plan.first:
            took = durations[i]
            if took is not None and took < SLOW_SECONDS and slow.get(names[i]) is batch.handlers[i]:
                slow.pop(names[i], None)  # (another request may do the same now)
        if plan.ttls:
            self._cache_results(batch, plan, report)

    def _cache_results(self, batch: _Batch, plan: _Plan, report: StatusReport) -> None:
        """Cache the results of the handlers with a ttl that returned."""
        names = batch.names
        statuses = report.statuses
        durations = report.durations
        now = time.perf_counter()
        for i, ttl in plan.ttls.items():
            if batch.statuses[i] is not _PENDING and batch.statuses[i] is not _SKIPPED:
                self._cache[names[i]] = (batch.handlers[i], now + ttl, statuses[i],
                                         durations[i])


class _Plan:
    """What :meth:`StatusEvaluator._plan` decided for one evaluation."""

    __slots__ = ("timeouts", "ttls", "first", "rest", "borrowed")

    def __init__(self, timeout: float, n: int) -> None:
        self.timeouts = [timeout] * n
        self.ttls: Dict[int, float] = {}
        self.first: List[int] = []
        self.rest: List[int] = []
        # (index, batch, index there, deadline) of runs shared with a request
        self.borrowed: List[Tuple[int, _Batch, int, float]] = []


_default_evaluator: Optional[StatusEvaluator] = None


def get_evaluator(registry: Any = None) -> StatusEvaluator:
    """The :class:`StatusEvaluator` of ``registry``, or a process-wide default.

    The default (used without a configured registry, for instance when a view
    is called directly with a ``DummyRequest``) has the default settings.
    """
    if registry is not None:
        query = getattr(registry, "queryUtility", None)
        if query is not None:
            evaluator = query(IStatusEvaluator)
            if evaluator is not None:
                return evaluator
    global _default_evaluator
    if _default_evaluator is None:
        _default_evaluator = StatusEvaluator()
    return _default_evaluator


def evaluate(registry: Any = None, names: Optional[Iterable[str]] = None,
             durations: bool = True) -> StatusReport:
    """Evaluate the status handlers with the evaluator of ``registry``."""
    return get_evaluator(registry).evaluate(names, durations)
