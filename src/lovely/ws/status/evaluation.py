"""Evaluate every status handler safely: isolated, under deadlines, concurrently.

The request thread never calls a handler itself. Handlers run on a small pool
of daemon threads ("walkers") that pull indices from a shared deque, so a
thousand cheap handlers cost one hand-off, while a handler that blocks is
noticed (the deque stops shrinking) and the rest of the work is taken over by
more walkers. Handlers known to be slow from their last run are put first,
each picked up by a walker of its own. The request thread waits until every
handler has answered or missed its deadline, whichever comes first.

A handler still running past its deadline is not started again by later
requests; it is reported as timed out until it returns.
"""
from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Mapping
from queue import SimpleQueue
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

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

VALID_STATES = frozenset((OK, YELLOW, RED))
_SEVERITY = {OK: 0, YELLOW: 1, RED: 2}

_PENDING = object()
_SKIPPED = object()


class _Raised:
    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class IStatusEvaluator(Interface):
    """Marker for the :class:`StatusEvaluator` utility of a Pyramid registry."""


def worst_state(states: Iterable[str]) -> str:
    """The most severe of ``states`` (:data:`OK` for none); unknown ones count as RED."""
    return max(states, key=lambda s: _SEVERITY.get(s, 2), default=OK)


class StatusReport:
    """The outcome of one evaluation of the status handlers.

    ``names``, ``statuses`` and ``durations`` are parallel lists in
    registration order. Each status is the dict the handler returned (never
    modified) when it was valid, otherwise a new ``{'state': RED, 'detail':
    ...}`` that says what went wrong. ``durations`` holds the seconds the
    handler's last run took (``None`` while it has not finished).
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
            # Names are unique, so the tuples never compare their dicts.
            return sorted(zip(self.names, self.statuses))
        except TypeError:  # names that are not all strings
            return sorted(zip(self.names, self.statuses), key=lambda i: str(i[0]))

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
    except Exception:  # a broken __repr__ must not break the report
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _exception_detail(exc: BaseException) -> str:
    try:
        message = str(exc)
    except Exception:
        message = "<unprintable>"
    name = type(exc).__name__
    return f"{name}: {message}" if message else name


def _timeout_detail(timeout: float) -> str:
    return f"timed out after {timeout:g} seconds"


class _Batch:
    """The state shared by the walkers of one evaluation."""

    __slots__ = (
        "names",
        "handlers",
        "results",
        "durations",
        "queue",
        "closed",
        "walkers",
        "lock",
        "done",
    )

    def __init__(self, names: List[str], handlers: List[Any], order: Iterable[int]):
        n = len(handlers)
        self.names = names
        self.handlers = handlers
        self.results: List[Any] = [_PENDING] * n
        self.durations: List[Optional[float]] = [None] * n
        self.queue: deque = deque(order)
        self.closed = False
        self.walkers = 0
        self.lock = threading.Lock()
        self.done = threading.Event()

    def walk(self) -> None:
        # The hot loop: keep it free of locks and allocations.
        pop = self.queue.popleft
        handlers = self.handlers
        results = self.results
        durations = self.durations
        clock = time.perf_counter
        try:
            while True:
                try:
                    i = pop()
                except IndexError:
                    break
                if self.closed:
                    results[i] = _SKIPPED
                    continue
                start = clock()
                try:
                    result = handlers[i]()
                except BaseException as exc:  # noqa: B036 - report, never die
                    result = _Raised(exc)
                    log.error(
                        "status handler %r raised %s",
                        self.names[i],
                        _exception_detail(exc),
                        exc_info=exc,
                    )
                durations[i] = clock() - start
                results[i] = result
        finally:
            with self.lock:
                self.walkers -= 1
                if self.walkers == 0 and not self.queue:
                    self.done.set()


class _WorkerPool:
    """Daemon threads that run walkers; they never block interpreter exit."""

    def __init__(self, max_workers: int) -> None:
        self.max_workers = max_workers
        self._tasks: SimpleQueue = SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._idle = 0

    def submit(self, batch: _Batch) -> bool:
        """Start a walker on ``batch``; False when every thread is busy."""
        with self._lock:
            if self._idle <= 0:
                if self._threads >= self.max_workers:
                    return False
                self._threads += 1
                threading.Thread(
                    target=self._work, name="lovely.ws.status-worker", daemon=True
                ).start()
            # Reserve a thread now, so the next submit sees it taken.
            self._idle -= 1
        with batch.lock:
            batch.walkers += 1
        self._tasks.put(batch)
        return True

    def _work(self) -> None:
        get = self._tasks.get
        with self._lock:
            self._idle += 1
        while True:
            batch = get()
            try:
                batch.walk()
            finally:
                with self._lock:
                    self._idle += 1


_EVALUATORS: "weakref.WeakSet[StatusEvaluator]" = weakref.WeakSet()


def _after_fork() -> None:
    for evaluator in list(_EVALUATORS):
        evaluator._reset()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


class StatusEvaluator:
    """Runs the status handlers for the views; one per Pyramid registry.

    :param timeout: default seconds a handler may take.
    :param max_workers: most threads that run handlers at the same time.
    """

    def __init__(
        self, timeout: float = DEFAULT_TIMEOUT, max_workers: int = DEFAULT_MAX_WORKERS
    ) -> None:
        self.timeout = float(timeout)
        self.max_workers = int(max_workers)
        self._lock = threading.Lock()
        # name -> (handler, batch, index) of runs that outlived their deadline
        self._stuck: Dict[str, Tuple[Any, _Batch, int]] = {}
        # name -> (handler, expires, status, duration) for handlers with a ttl
        self._cache: Dict[str, Tuple[Any, float, Mapping[str, Any], Optional[float]]] = {}
        # name -> handler whose last run was slow
        self._slow: Dict[str, Any] = {}
        self._pool: Optional[_WorkerPool] = None
        _EVALUATORS.add(self)

    def _reset(self) -> None:
        # After a fork the worker threads are gone: start afresh, lazily.
        self._lock = threading.Lock()
        self._pool = None
        self._stuck.clear()

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
        return [
            name
            for name, (_, batch, i) in list(self._stuck.items())
            if batch.results[i] is _PENDING
        ]

    def evaluate(self, names: Optional[Iterable[str]] = None) -> StatusReport:
        """Evaluate the registered handlers (or only ``names``, in that order)."""
        handlers_by_name = STATUS_HANDLERS.copy()
        if names is None:
            name_list = list(handlers_by_name)
            handlers = list(handlers_by_name.values())
        else:
            name_list = [n for n in names if n in handlers_by_name]
            handlers = [handlers_by_name[n] for n in name_list]
        n = len(handlers)
        statuses: List[Any] = [None] * n
        durations: List[Optional[float]] = [None] * n
        started = time.perf_counter()

        options = HANDLER_OPTIONS
        stuck = self._stuck
        cache = self._cache
        slow = self._slow
        if not (options or stuck or cache or slow):
            # The common case: nothing special about any handler.
            to_run: Sequence[int] = range(n)
            timeouts: Optional[List[float]] = None
            ttls: Dict[int, float] = {}
            first: List[int] = []
        else:
            to_run, timeouts, ttls, first = self._plan(
                name_list, handlers, statuses, durations, started
            )

        if to_run:
            self._run(name_list, handlers, to_run, timeouts, ttls, first,
                      statuses, durations, started)
        return StatusReport(name_list, statuses, durations)

    def _plan(self, names, handlers, statuses, durations, now):
        """Sort out cached and stuck handlers; order the rest, slow ones first."""
        options = HANDLER_OPTIONS
        stuck = self._stuck
        cache = self._cache
        slow = self._slow
        default_timeout = self.timeout
        to_run: List[int] = []
        first: List[int] = []
        timeouts: List[float] = [default_timeout] * len(handlers)
        ttls: Dict[int, float] = {}
        for i, name in enumerate(names):
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
                        durations[i] = cached[3]
                        continue
                    ttls[i] = ttl
            if stuck:
                previous = stuck.get(name)
                if previous is not None:
                    _, batch, j = previous
                    if previous[0] is handler and batch.results[j] is _PENDING:
                        statuses[i] = {
                            "state": RED,
                            "detail": _timeout_detail(timeouts[i])
                            + " (still running from an earlier request)",
                        }
                        continue
                    stuck.pop(name, None)
            if slow and slow.get(name) is handler:
                first.append(i)
            else:
                to_run.append(i)
        return first + to_run, timeouts, ttls, first

    def _run(self, names, handlers, to_run, timeouts, ttls, first,
             statuses, durations, started) -> None:
        batch = _Batch(names, handlers, to_run)
        pool = self.pool
        # A walker for each handler known to be slow, and one for the rest.
        for _ in range(min(len(first) + 1, len(to_run))):
            if not pool.submit(batch):
                break
        if batch.walkers == 0:
            # Every thread is stuck in a handler: nothing can run now.
            batch.closed = True
        clock = time.perf_counter
        default_timeout = self.timeout
        if timeouts is None:
            latest = started + default_timeout
        else:
            latest = started + max(timeouts[i] for i in to_run)
        wait = min(SLOW_SECONDS, max(latest - clock(), 0))
        queued = len(batch.queue)
        grow = 1
        while not batch.closed and not batch.done.wait(wait):
            now = clock()
            if now >= latest:
                break
            if timeouts is not None:
                # Stop early once every handler still out has missed its deadline.
                pending = [i for i in to_run if batch.results[i] is _PENDING]
                if not pending:
                    break
                latest = started + max(timeouts[i] for i in pending)
                if now >= latest:
                    break
            still_queued = len(batch.queue)
            if still_queued and still_queued == queued:
                # Every walker is busy with one handler: let more take over,
                # twice as many each time the queue stalls.
                for _ in range(min(grow, still_queued)):
                    if not pool.submit(batch):
                        break
                grow *= 2
            queued = still_queued
            wait = min(SLOW_SECONDS * grow, latest - now)

        batch.closed = True
        queue = batch.queue
        results = batch.results
        while True:
            try:
                results[queue.popleft()] = _SKIPPED
            except IndexError:
                break

        slow = self._slow
        cache = self._cache
        expires_base = clock()
        for i in to_run:
            result = results[i]
            timeout = default_timeout if timeouts is None else timeouts[i]
            duration = batch.durations[i]
            name = names[i]
            if result is _PENDING or result is _SKIPPED or duration > timeout:
                if result is _PENDING:
                    self._stuck[name] = (handlers[i], batch, i)
                    slow[name] = handlers[i]
                statuses[i] = {"state": RED, "detail": _timeout_detail(timeout)}
                durations[i] = duration if duration is not None else clock() - started
                continue
            durations[i] = duration
            if type(result) is dict or isinstance(result, Mapping):
                state = result.get("state")
                if isinstance(state, str) and state in VALID_STATES:
                    status = result
                else:
                    status = {"state": RED, "detail": _describe_invalid(result)}
            elif type(result) is _Raised:
                status = {"state": RED, "detail": _exception_detail(result.exc)}
            else:
                status = {"state": RED, "detail": _describe_invalid(result)}
            statuses[i] = status
            if duration >= SLOW_SECONDS:
                slow[name] = handlers[i]
            elif slow and name in slow:
                del slow[name]
            if ttls and i in ttls:
                cache[name] = (handlers[i], expires_base + ttls[i], status, duration)


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


def evaluate(registry: Any = None, names: Optional[Iterable[str]] = None) -> StatusReport:
    """Evaluate the status handlers with the evaluator of ``registry``."""
    return get_evaluator(registry).evaluate(names)
