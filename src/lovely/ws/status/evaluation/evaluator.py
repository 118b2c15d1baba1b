"""Run the status handlers: each isolated, under its deadline, concurrently,
and shared between concurrent requests.

One evaluation (:meth:`StatusEvaluator.evaluate`) goes like this:

1. **Plan**, under the evaluator's lock. A handler whose cached result is
   still fresh (``ttl``) is not run. One that a concurrent request is
   running, or is about to run, is *joined*: this request waits for that
   run's result instead of starting the handler again. One still running
   past its deadline from an earlier request is reported as timed out,
   without starting it. The rest is the job's queue, the handlers known to
   be slow first.
2. **Run.** Walkers on pool threads take handlers from the queue one after
   the other and write the results into the job. One walker starts for the
   whole queue, plus one per handler known to be slow; each tick in which
   the queue did not move (every walker is busy) adds more, twice as many
   each time. A thousand cheap handlers cost one hand-off to one thread.
3. **Wait**: the request's thread waits until each handler it needs has
   answered or missed its deadline.
4. **Give up** on the rest: it is reported RED "timed out", what was not
   started is not started any more, and a job with a handler still running
   stays known, so later requests report that handler as timed out instead
   of starting it again: a hung dependency holds one thread, not one per
   request.

Between requests the evaluator remembers, per handler, only what is
special about it (:class:`HandlerState`: slow last time, a cached result,
the failures in a row that ``failure_threshold`` counts); a thousand fast
handlers without options therefore cost no bookkeeping.

Handlers with an ``interval`` are run by the :class:`~.refresher.Refresher`
through :meth:`~StatusEvaluator.start` and :meth:`~StatusEvaluator.finish`
(the same steps, for one handler, with no request waiting); a request
reports their latest result, and runs one itself only while there is none.
When every result came fresh from the refresher, the evaluator keeps them
(:class:`Known`), and the next evaluation of the same handlers takes them
whole, until one changes or would be stale: a request then costs about
what a bare view costs, however many handlers there are.
"""
from __future__ import annotations

import contextvars
import logging
import os
import threading
import time
import weakref
from operator import length_hint
from typing import (
    Any,
    Callable,
    Dict,
    List,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
    Union,
)

from pyramid.threadlocal import manager as threadlocal_manager

from ..handlers import HandlerOptions
from ..throttle import Throttle
from .calls import Calls
from .eventloop import EventLoop
from .history import History
from .job import PENDING, SKIPPED, SLOW_SECONDS, Job, Plan, Shared, timed_out
from .known import Known
from .memory import HandlerState, counted, learn
from .plan import make_plan
from .pool import WorkerPool
from .refresher import Refresher
from .report import StatusReport
from .share import Result, Share

__all__ = ["StatusEvaluator", "DEFAULT_TIMEOUT", "DEFAULT_MAX_WORKERS"]

log = logging.getLogger("lovely.ws.status")

T = TypeVar("T")
V = TypeVar("V")

DEFAULT_TIMEOUT = 5.0
DEFAULT_MAX_WORKERS = 32
#: The first look at the walkers comes sooner, to learn early of a handler
#: that blocks.
FIRST_TICK_SECONDS = 0.001
#: The longest pause between two looks at the job.
MAX_TICK_SECONDS = 0.05


class StatusEvaluator:
    """Runs status handlers for the views of one app.

    :param timeout: seconds a handler may take unless its options say otherwise.
    :param max_workers: most threads running handlers at once (threads left
        in handlers past their deadline do not count).
    :param concurrent: ``False`` calls the handlers one after the other in
        the calling thread, as 1.0 did: for handlers bound to the request's
        thread. Failures are still isolated, but nothing can time out, and
        ``KeyboardInterrupt`` or ``SystemExit`` propagate; no handler runs
        in the background.
    :param interval: run each handler in the background every that many
        seconds, unless its options say otherwise (``None``: on request).
    :param share: which process runs each background handler, and where
        the others find its result (default: each process runs each).
    """

    def __init__(self, timeout: float = DEFAULT_TIMEOUT,
                 max_workers: int = DEFAULT_MAX_WORKERS, concurrent: bool = True,
                 interval: Optional[float] = None, share: Optional[Share] = None) -> None:
        self.timeout = float(timeout)
        self.max_workers = int(max_workers)
        self.concurrent = bool(concurrent)
        self.interval = None if interval is None else float(interval)
        self._states: Dict[Any, HandlerState] = {}
        # n -> (timeout,) * n and (None,) * n, for the few sizes that come
        # (all handlers, the groups).
        self._same_timeouts: Dict[int, Tuple[float, ...]] = {}
        self._nones: Dict[int, Tuple[None, ...]] = {}
        self._live: Dict[Job, None] = {}  # jobs whose walkers may still write
        # When to log the next failure of each handler, and the next request
        # that found no free thread.
        self._failures: Dict[Any, Throttle] = {}
        self.history = History()  # since when each handler is in its state
        self.refresher = Refresher(self, self.history, share)
        self.loop = EventLoop()
        self._after_fork()
        if hasattr(os, "register_at_fork"):
            # In the child, before any of its threads can run: its parent's
            # threads and other requests did not come along.
            ref = weakref.ref(self)
            os.register_at_fork(after_in_child=lambda: _after_fork_of(ref))

    def _after_fork(self) -> None:
        self._lock = threading.Lock()
        self._pool: Optional[WorkerPool] = None
        self._live.clear()
        self._failures.clear()
        self._starved = Throttle()
        self._known: Optional[Known] = None
        self.calls = Calls()

    @property
    def pool(self) -> WorkerPool:
        if self._pool is None:
            self._pool = WorkerPool(self.max_workers)
        return self._pool

    # ------------------------------------------------------------ runs in flight

    def _in_flight(self) -> Dict[Tuple[Any, int], Tuple[Job, int]]:
        """(name, id of the handler) -> (job, index) of each handler a live
        job has not finished."""
        # Keyed by the handler too: while the run of a replaced handler is
        # still out, its successor's run is another one, and is shared.
        found: Dict[Tuple[Any, int], Tuple[Job, int]] = {}
        for job in list(self._live):
            statuses = job.statuses
            indices = job.outstanding if job.closed else range(len(statuses))
            left = [i for i in indices if statuses[i] is PENDING]
            if job.closed and not left:
                del self._live[job]  # its last hung handler returned
            for i in left:
                # The job holds the handler: its id stays its own meanwhile.
                found.setdefault((job.names[i], id(job.handlers[i])), (job, i))
        return found

    def running(self) -> List[Any]:
        """Names of handlers still running past their deadline."""
        now = time.perf_counter()
        with self._lock:
            return list(dict.fromkeys(name for (name, _), (job, i) in self._in_flight().items()
                                      if job.deadline(i) <= now))

    def in_flight(self) -> List[Any]:
        """Names of handlers that a request is running or about to run."""
        with self._lock:
            return list(dict.fromkeys(name for name, _ in self._in_flight()))

    # ------------------------------------------------------------ evaluation

    def evaluate(self, names: Sequence[Any], handlers: Sequence[Any],
                 options: Optional[Sequence[HandlerOptions]] = None,
                 durations: bool = True, complete: bool = True) -> StatusReport:
        """Run ``handlers`` (parallel to ``names`` and ``options``).

        With ``durations=False`` handlers are not timed one by one (the
        report's durations are ``None``), which makes a thousand trivial
        handlers a third cheaper; handlers with options, or with anything
        remembered about them, are timed anyway. ``complete`` says these
        are all the handlers there are, so others can be forgotten.
        """
        known, version = self._known, self.refresher.version
        if known is not None and not self._states and known.serves(
                version, time.time(), names, handlers, options, durations, complete):
            report = known.report(names)
            if durations:
                report.changed, report.transitions = self.history.columns(
                    report.names, report.statuses, report.timestamp, complete)
            return report
        n = len(handlers)
        timeouts = self._timeouts(options, n)
        with self._lock:
            timed = durations or options is not None or bool(self._states)
            job = Job(names, handlers, timeouts, time.perf_counter(),
                      None if timed else self._untimed(n))
            job.failures = self._failures
            job.loop = self.loop
            plan = make_plan(
                job, options, complete, durations, states=self._states,
                background=self.concurrent, interval=self.interval if self.concurrent else None,
                running=self._in_flight if self._live and self.concurrent else None,
                refresher=self.refresher, failures=self._failures)
            live = self.concurrent and bool(job.walkers or plan.shared)
            if live:
                self._live[job] = None
                if job.walkers:
                    job.threadlocals = threadlocal_manager.get()
                    job.context = contextvars.copy_context()
                    self._start(job)
        if not self.concurrent:
            job.bounded = False
            job.walkers = 0  # this thread is no walker: awaitables alone finish the job
            job.walk_here(catch=Exception)
            with job.lock:
                awaiting = bool(job.awaiting)
            if awaiting:
                job.done.wait()
        elif live:
            try:
                self._wait(job, plan.shared, plan.ttls)
            finally:
                self._give_up(job, plan.shared, plan.ttls)
        report = self._report(job)
        if plan.origins:
            names = job.names
            report.origins = {names[i]: origin for i, origin in plan.origins.items()}
        if (job.slow or plan.first or plan.ttls or plan.counted or plan.peeked
                or plan.background):
            self._learn(job, report, plan)
        if plan.fresh_until is not None:
            # Every result came from the refresher: the same handlers get
            # the same ones until a result changes or goes stale.
            report.key = self._known = Known(
                version, plan.fresh_until, complete, list(names), list(handlers),
                None if options is None else list(options),
                list(report.statuses), list(report.durations),
                dict(report.origins or ()) if durations else None)
        else:  # (nor keep what removed handlers held)
            self._known = None
        if durations:
            report.changed, report.transitions = self.history.columns(
                report.names, report.statuses, report.timestamp, complete)
        return report

    # Two columns of a job that are the same for every request without
    # options, or untimed: made once, not per request (for a thousand
    # handlers, per-request lists cost the garbage collector more than
    # making them).

    def _timeouts(self, options: Optional[Sequence[HandlerOptions]], n: int) -> Sequence[float]:
        default = self.timeout
        if options is None:
            return _kept(self._same_timeouts, n, default)
        return [default if o.timeout is None else o.timeout for o in options]

    def _untimed(self, n: int) -> Tuple[None, ...]:
        return _kept(self._nones, n, None)

    def _start(self, job: Job) -> None:
        wanted, job.walkers = job.walkers, 0
        for n in range(wanted):
            # The first walker waits for a thread if need be; the others
            # start only where a thread is free.
            if not self._add_walker(job, force=n == 0):
                break

    def _add_walker(self, job: Job, force: bool = False) -> bool:
        with job.lock:
            if job.closed:
                return False
            job.walkers += 1
        if self.pool.submit(job.walk, force):
            return True
        with job.lock:
            job.walkers -= 1
        return False

    def _wait(self, job: Job, shared: List[Shared], ttls: Dict[int, Any]) -> None:
        """Wait for the job's walkers and the shared runs, until the deadlines."""
        clock = time.perf_counter
        statuses = job.statuses
        own_done = not job.order or job.done.is_set()  # (awaitables hold no walker)
        queued = length_hint(job.queue)
        taken = 0  # handlers up to this position of the queue were handed out
        timeouts = job.timeouts
        uniform = not timeouts or timeouts.count(timeouts[0]) == len(timeouts)
        grow = 1
        tick = FIRST_TICK_SECONDS
        while True:
            if not own_done:
                own_done = job.done.wait(tick)
            elif shared:  # only shared runs are left: woken when the first one's job ends
                shared[0].job.done.wait(tick)
            now = clock()
            if shared:
                shared[:] = self._collect(job, shared, ttls, now)
            if own_done and not shared:
                return
            if own_done:
                out: List[float] = []
            elif uniform:  # one deadline for all: no need to look at each
                out = [job.started + job.timeouts[0]]
            else:
                out = [job.deadline(i) for i, s in enumerate(statuses) if s is PENDING]
            latest = max(out + [s.deadline for s in shared], default=now)
            if now >= latest:
                return
            if not own_done and not uniform and out and min(out) <= now:
                self._detach_overdue(job, now)
            if not own_done:
                before, queued = queued, length_hint(job.queue)
                if not job.timed:  # nothing else will tell which ones are slow
                    now_taken = len(job.order) - queued
                    job.slow.extend(i for i in job.order[taken:now_taken]
                                    if statuses[i] is PENDING)
                    taken = now_taken
                if queued and queued >= before:  # no walker got to a new handler
                    for _ in range(min(grow, queued)):
                        if not self._add_walker(job):
                            break
                    grow *= 2
            tick = min(SLOW_SECONDS if queued else max(2 * tick, SLOW_SECONDS),
                       MAX_TICK_SECONDS, latest - now)

    def _detach_overdue(self, job: Job, now: float) -> None:
        """Handlers running past their own deadline while the request waits
        for others: their threads stop counting, and the queue gets walkers
        in their place."""
        taken = job.order[:len(job.order) - length_hint(job.queue)]
        with job.lock:
            new = [i for i in taken if job.statuses[i] is PENDING
                   and job.deadline(i) <= now and i not in job.overdue]
            job.overdue.update(new)
        if new:
            job.late.extend(new)
            self.pool.detach(len(new))
            for _ in new:
                if not length_hint(job.queue) or not self._add_walker(job):
                    break

    def _collect(self, job: Job, shared: List[Shared], ttls: Dict[int, Any],
                 now: float) -> List[Shared]:
        """Take the results of shared runs that ended; return the others."""
        waiting = []
        for s in shared:
            status = s.job.statuses[s.other]
            if status is PENDING and s.deadline > now:
                waiting.append(s)
                continue
            if status is PENDING or status is SKIPPED:
                status = timed_out(job.timeouts[s.mine])
                ttls.pop(s.mine, None)
            job.statuses[s.mine] = status
            job.set_duration(s.mine, s.job.durations[s.other])
        return waiting

    def _give_up(self, job: Job, shared: List[Shared], ttls: Dict[int, Any]) -> None:
        """Stop the job's walkers from starting anything more; remember what
        still runs, so that no later request starts it again."""
        for s in shared:  # runs of other jobs still out: too late
            job.statuses[s.mine] = timed_out(job.timeouts[s.mine])
            ttls.pop(s.mine, None)
        with self._lock:
            if not job.done.is_set():  # walkers at work, or awaitables
                with job.lock:
                    job.closed = True
                    for i in job.queue:  # empties the shared iterator
                        job.statuses[i] = SKIPPED
                    # Walkers still at work leave when their handler returns;
                    # the overdue ones' threads were detached already.
                    owed = job.active - len(job.overdue)
                if owed > 0:
                    self.pool.detach(owed)
                job.outstanding = [i for i, s in enumerate(job.statuses) if s is PENDING]
            if not job.outstanding:
                self._live.pop(job, None)

    def _report(self, job: Job) -> StatusReport:
        """The report: results, and what went wrong for those without one."""
        statuses, durations, not_run = job.outcome()
        if not_run:
            missed = self._starved.fail()
            if missed is not None:
                log.warning("%d status handlers were not run: every status thread was busy "
                            "until the deadline (svcstatus.max_workers = %d)%s", not_run,
                            self.max_workers, f"; {missed} more such requests since the "
                            "last warning" if missed else "")
        return StatusReport(job.names, statuses, durations)

    def _learn(self, job: Job, report: StatusReport, plan: Plan) -> None:
        """Remember what the job found; hand the first results of handlers
        with an interval to the refresher."""
        with self._lock:
            learn(self._states, job, report, plan, time.perf_counter())
        for i in plan.background:
            self.refresher.record(job.names[i], job.handlers[i], Result(
                report.statuses[i], report.durations[i], report.timestamp), job.started)

    def call(self, function: Callable[[], T], timeout: float) -> Optional[T]:
        """What ``function()`` returns, called on a status thread, or ``None``
        (see :meth:`.calls.Calls.call`)."""
        return self.calls.call(self.pool, function, timeout)

    # ------------------------------------------------------------ background runs

    def start(self, name: Any, handler: Any, timeout: float,
              notify: Callable[[], None]) -> Union[Job, Result, None]:
        """Start a run of ``handler`` for the refresher (see
        :class:`~.refresher.Runner`)."""
        job = Job([name], [handler], [timeout], time.perf_counter())
        job.failures = self._failures
        job.loop = self.loop
        job.notify = notify
        with self._lock:
            run = self._in_flight().get((name, id(handler))) if self._live else None
            if run is None:
                job.order = (0,)
                job.queue = iter(job.order)
                job.walkers = 1
                self._live[job] = None
                self._start(job)
                return job
        other, j = run
        if other.deadline(j) > job.started:
            return None  # a request's run, which gives the result
        status = timed_out(timeout, still_running=True)
        return Result(counted(self._states, name, handler, status), None, time.time())

    def finish(self, job: Job, now: float) -> Union[Result, float]:
        """The result of a run :meth:`start` started, once it ended or
        missed its deadline; until then, when to look again."""
        if not job.done.is_set():
            deadline = job.deadline(0)
            if now < deadline:
                return deadline
        self._give_up(job, [], {})
        report = self._report(job)
        status = counted(self._states, job.names[0], job.handlers[0], report.statuses[0])
        return Result(status, report.durations[0], report.timestamp)


def _kept(kept: Dict[int, Tuple[V, ...]], n: int, value: V) -> Tuple[V, ...]:
    """``(value,) * n``, the same tuple each time while ``value`` stays."""
    found = kept.get(n)
    if found is None or (n and found[0] != value):
        if len(kept) >= 8:  # sizes come and go as handlers do: keep a few
            kept.clear()
        found = kept[n] = (value,) * n
    return found


def _after_fork_of(ref: weakref.ReferenceType[StatusEvaluator]) -> None:
    evaluator = ref()
    if evaluator is not None:
        evaluator._after_fork()
        evaluator.loop.after_fork()
        evaluator.refresher.after_fork()
        evaluator.history.after_fork()
        for state in evaluator._states.values():  # a lock a parent's thread held stays held
            if state.streak is not None:
                state.streak.lock = threading.Lock()
