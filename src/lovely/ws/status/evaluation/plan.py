"""Step 1 of an evaluation (see :mod:`.evaluator`): :func:`make_plan`."""
from __future__ import annotations

import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ..handlers import NO_OPTIONS, HandlerOptions
from .job import SHARED, Job, Plan, Shared, timed_out
from .memory import HandlerState, remembered
from .refresher import Refresher, fresh, stale
from .report import BACKGROUND, CACHED, FROM_SHARE, STALE, Origin

__all__: List[str] = []

#: The runs in flight: (name, id of the handler) -> (job, index).
InFlight = Dict[Tuple[Any, int], Tuple[Job, int]]


def make_plan(job: Job, options: Optional[Sequence[HandlerOptions]], complete: bool,
              origins: bool, *, states: Dict[Any, HandlerState], background: bool,
              interval: Optional[float], running: Optional[Callable[[], InFlight]],
              refresher: Refresher, failures: Dict[Any, Any]) -> Plan:
    """Fill in what needs no run, share what runs elsewhere, queue the rest;
    with ``origins``, say where each result that needs no run comes from
    (only the timed formats show it).

    ``states`` is what the evaluator remembers of each handler;
    ``background`` whether any handler may run in the background (not when
    handlers are called in the request's thread), ``interval`` the default
    interval (``None``: on request); ``running`` gives the runs in flight
    (``None``: there are none); ``failures`` holds its log throttles.
    """
    plan = Plan()
    if not states and options is None and running is None and interval is None:
        order: Sequence[int] = range(len(job.handlers))  # the common case
        if complete:  # no handler has an interval (any more)
            refresher.keep(())
    else:
        now = job.started
        wall = time.time()
        in_flight: Optional[InFlight] = None  # looked up when needed
        first = plan.first
        rest: List[int] = []
        statuses = job.statuses
        latest = refresher.latest
        served, until = 0, float("inf")  # fresh results of the refresher
        for i, name in enumerate(job.names):
            handler = job.handlers[i]
            opts = NO_OPTIONS if options is None else options[i]
            state = states.get(name)
            if state is not None or opts.failure_threshold is not None:
                state = remembered(states, name, handler, opts)
            every = opts.interval if opts.interval is not None else interval
            if every is not None and background:
                plan.intervals.append(name)
                timeout = job.timeouts[i]
                result = latest(name, handler, every, timeout)
                if result is not None:
                    if fresh(result, every, timeout, wall):
                        statuses[i] = result.status
                        kind = BACKGROUND if result.source is None else FROM_SHARE
                        until = min(until, result.time + every + timeout)
                        served += 1
                    else:
                        statuses[i] = stale(result, every, timeout, wall)
                        kind = STALE
                    job.set_duration(i, result.duration)
                    if origins:
                        plan.origins[i] = Origin(kind, result.time, result.source)
                    continue
                plan.background.append(i)
            elif opts.ttl is not None or opts.failure_ttl is not None:
                plan.ttls[i] = opts
                if state is not None and state.cached is not None and state.expires > now:
                    statuses[i] = state.cached
                    job.set_duration(i, state.cached_duration)
                    if origins:
                        plan.origins[i] = Origin(CACHED, state.cached_time)
                    del plan.ttls[i]
                    continue
            counts = state is not None and state.streak is not None
            if in_flight is None:
                in_flight = {} if running is None else running()
            run = in_flight.get((name, id(handler)))
            if run is not None:
                other, j = run
                deadline = other.deadline(j)
                if deadline <= now:
                    statuses[i] = timed_out(job.timeouts[i], still_running=True)
                    plan.ttls.pop(i, None)  # not an answer: cache none
                    if counts:
                        plan.counted.append(i)
                else:
                    statuses[i] = SHARED
                    plan.shared.append(Shared(i, other, j, min(deadline, job.deadline(i))))
                    if counts:
                        plan.peeked.append(i)
                continue
            if counts:
                plan.counted.append(i)
            (first if state is not None and state.slow else rest).append(i)
        order = first + rest
        if served == len(job.names) and served and not states:
            plan.fresh_until = until
        if complete:
            refresher.keep(plan.intervals)
            if len(states) > len(job.names):
                known = set(job.names)
                for name in [n for n in states if n not in known]:
                    del states[name]
    if complete and len(failures) > len(job.names):
        known = set(job.names)
        for name in [n for n in list(failures) if n not in known]:
            failures.pop(name, None)
    job.order = order
    job.queue = iter(order)
    # One walker for the queue, and one of its own for each slow handler.
    job.walkers = min(len(plan.first) + 1, len(order))
    return plan
