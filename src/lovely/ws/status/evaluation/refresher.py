""":class:`Refresher`: runs the handlers that have an ``interval`` in the
background and keeps their latest results, which requests answer from.

One daemon thread per process does the scheduling; the runs themselves go
through the evaluator (its :class:`Runner` side), so they have the same
isolation, deadlines and threads as a request's, and a handler still
running past its deadline is not started again. The thread starts when the
first such handler is asked for (so after a fork, in the child that serves
requests), ends when its evaluator is gone or the interpreter exits, and
does not exist while no handler has an interval.

Which process runs a handler, and where its result is kept, is the
:class:`~.share.Share`'s business: by default each process runs each one.
"""
from __future__ import annotations

import atexit
import functools
import logging
import threading
import time
import weakref
from typing import (
    Any,
    Callable,
    Collection,
    Dict,
    List,
    Mapping,
    Optional,
    Protocol,
    Tuple,
    Union,
    cast,
)

from ..states import RED
from ..text import json_plain
from ..throttle import Throttle
from .history import History
from .isolation import isolated
from .share import LocalShare, Result, Share

__all__: List[str] = []

log = logging.getLogger("lovely.ws.status")

#: How long the interpreter's exit waits for the refresher's thread.
STOP_SECONDS = 1.0


class Runner(Protocol):
    """What the refresher needs of the evaluator."""

    def start(self, name: Any, handler: Any, timeout: float,
              notify: Callable[[], None]) -> Any:
        """Start a run of ``handler`` in the background; ``notify`` is called
        when it ends. Returns the run, or at once a :class:`Result` (the
        handler is still running past its deadline from before), or
        ``None`` when a request is running it now (and will publish it)."""

    def finish(self, run: Any, now: float) -> Union[Result, float]:
        """The result of ``run`` once it ended or missed its deadline, else
        the :func:`time.perf_counter` time to look again."""

    def call(self, function: Callable[[], Any], timeout: float) -> Any:
        """What ``function()`` returns, called on a status thread, or
        ``None`` if it does not return within ``timeout`` seconds."""


def fresh(result: Result, interval: float, timeout: float, now: float) -> bool:
    """Whether ``result`` may still be reported at ``now`` (seconds since the
    epoch): until it is older than ``interval + timeout`` (the refresher, or
    the process that shares it, is stuck or dead)."""
    return now - result.time <= interval + timeout


def stale(result: Result, interval: float, timeout: float, now: float) -> Mapping[str, Any]:
    """What to report of ``result`` at ``now``: its status while it is
    :func:`fresh`, else RED "stale"."""
    if fresh(result, interval, timeout, now):
        return result.status
    return {"state": RED, "detail": f"stale: last result {now - result.time:.1f} s ago"}


class _Entry:
    """A handler the refresher runs."""

    __slots__ = ("name", "handler", "interval", "timeout", "due", "run", "result", "mine",
                 "unpublished", "seen")

    def __init__(self, name: Any, handler: Any, interval: float, timeout: float) -> None:
        self.name = name
        self.handler = handler
        self.interval = interval
        self.timeout = timeout
        self.due = 0.0  # time.perf_counter() of the next run, or look at the share
        self.run: Any = None  # the run in flight
        self.result: Optional[Result] = None
        self.mine = False  # the share let this process run it, this interval
        self.unpublished = False  # a request ran it: the thread is to share the result
        self.seen: Any = None  # (source, time) of the last result read from the share

    def poll(self) -> float:
        """Seconds between looks at the share while the next result of
        another process is due: small enough for a reader never to hold a
        result long past its interval, large enough to cost a share little."""
        return max(min(self.interval, self.timeout) / 4, 0.05)


class Refresher:
    """The background runs of one evaluator's handlers.

    :param runner: the evaluator (held weakly: the refresher is its own).
    :param history: where each result is observed.
    :param share: who runs what; default :class:`~.share.LocalShare`.
    """

    def __init__(self, runner: Runner, history: History, share: Optional[Share] = None) -> None:
        self._runner = weakref.ref(runner)
        self.history = history
        self.share: Share = share if share is not None else LocalShare()
        self._entries: Dict[Any, _Entry] = {}
        #: Changes whenever a result, the set of handlers or the thread
        #: does: after the change (see :meth:`_changed`).
        self.version = 0
        self._throttle = Throttle()
        # A share that no handler has used yet: said once (see keep).
        self._unused_share = not isinstance(self.share, LocalShare)
        self._after_fork()

    def _after_fork(self) -> None:
        self._lock = threading.Lock()
        self._version_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._at_exit: Optional[Callable[[], None]] = None

    def after_fork(self) -> None:
        """In a forked child: the parent's thread and runs did not come
        along; the results did, and are judged by their age."""
        if self._at_exit is not None:
            atexit.unregister(self._at_exit)
        self._after_fork()
        self._changed()
        for entry in self._entries.values():
            entry.run = None
            entry.due = 0.0

    # ------------------------------------------------------------ requests

    def latest(self, name: Any, handler: Any, interval: float,
               timeout: float) -> Optional[Result]:
        """The latest result of ``handler``, which is refreshed every
        ``interval`` seconds from now on.

        ``None`` while there is none: the caller runs the handler itself
        (or waits for a run in flight) and gives the result to :meth:`record`,
        which counts as this interval's run.
        """
        entry = self._entries.get(name)
        if (entry is None or entry.handler is not handler or entry.interval != interval
                or entry.timeout != timeout):
            entry = self._want(name, handler, interval, timeout)
        result = entry.result
        if result is None:
            # The request runs it (a share is only asked on this thread: a
            # request never waits on it); its result is shared if the next
            # look at the share finds this process the runner.
            entry.due = max(entry.due, time.perf_counter() + interval)
        if self._thread is None:
            self._start()
        return result

    def _ask(self, entry: _Entry) -> Tuple[bool, Optional[Result]]:
        """Whether this process runs ``entry`` now, else the latest result
        another one shared. Sets :attr:`_Entry.mine`. A share that fails
        leaves the run to this process, which then keeps its result to itself."""
        entry.mine = False
        try:
            if self.share.claim(entry.name, entry.handler, entry.interval, entry.timeout):
                entry.mine = True
                return True, None
            return False, self.share.latest(entry.name, entry.handler)
        except Exception as exc:
            self._failed("ask the share about", entry, exc)
            return True, None

    def _take(self, entry: _Entry, found: Result) -> bool:
        """Keep ``found``, another process's result, if it is another one
        than the last one taken; ``True`` if so. Its time is judged by this
        process's clock: one from the future counts from now."""
        seen = (found.source, found.time)
        if entry.seen == seen:
            return False
        entry.seen = seen
        self._store(entry, found._replace(time=min(found.time, time.time())), publish=False)
        return True

    def _want(self, name: Any, handler: Any, interval: float, timeout: float) -> _Entry:
        with self._lock:
            entry = self._entries.get(name)
            if entry is None or entry.handler is not handler:
                entry = _Entry(name, handler, interval, timeout)
                # The caller runs it now: that is this interval's run.
                entry.due = time.perf_counter() + interval
                self._entries[name] = entry
            else:  # registered again with other options: keep its result
                entry.interval, entry.timeout = interval, timeout
                entry.due = min(entry.due, time.perf_counter() + interval)
                self._wake.set()
        self._changed()
        return entry

    def keep(self, names: Collection[Any]) -> None:
        """Forget the handlers not among ``names``, the names of all the
        handlers with an interval there are now."""
        if self._unused_share:
            self._unused_share = False
            if not names:
                log.warning("svcstatus.share is set, but no status handler runs in the "
                            "background (none has an interval, or svcstatus.concurrent is "
                            "false): nothing is shared")
        if len(self._entries) > len(names):
            known = set(names)
            with self._lock:
                gone = [self._entries.pop(n) for n in list(self._entries) if n not in known]
            self._changed()
            for entry in gone:
                try:
                    self.share.release(entry.name)
                except Exception as exc:
                    self._failed("release", entry, exc)

    def record(self, name: Any, handler: Any, result: Result, started: float) -> None:
        """A request ran ``handler`` itself, from ``started``
        (:func:`time.perf_counter`), because there was no result yet.

        If the share let this process run it, the refresher's thread shares
        the result: a request never waits on the share.
        """
        entry = self._entries.get(name)
        if entry is None or entry.handler is not handler:
            return
        if entry.result is None or entry.result.time < result.time:
            self._store(entry, result, publish=False)
            entry.unpublished = entry.mine
        entry.due = max(entry.due, started + entry.interval)
        self._wake.set()

    def _changed(self) -> None:
        # After the change it announces: an evaluation that reads the new
        # version sees the change. Under a lock: several threads count.
        with self._version_lock:
            self.version += 1

    def _store(self, entry: _Entry, result: Result, publish: bool) -> None:
        entry.result = result
        self._changed()
        self.history.observe(entry.name, result.status["state"], result.time)
        if publish:
            self._publish(entry, result)

    def _publish(self, entry: _Entry, result: Result) -> None:
        runner = self._runner()
        if runner is None:
            return
        # Plain data, made under the evaluator's deadline: a detail whose
        # __str__ blocks must not hold this thread, every handler's refresh.
        status = result.status
        plain = isolated(lambda: json_plain(status), runner)
        try:
            self.share.publish(entry.name, entry.handler, result._replace(status=plain))
        except Exception as exc:
            self._failed("publish the result of", entry, exc)

    # ------------------------------------------------------------ the thread

    @property
    def thread(self) -> Optional[threading.Thread]:
        """The refresher's thread, once a handler with an interval needed it."""
        return self._thread

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            thread = threading.Thread(
                target=_serve, args=(weakref.ref(self), self._wake, self._stopping),
                name="lovely.ws.status refresher", daemon=True)
            self._at_exit = functools.partial(_stop, self._wake, self._stopping, thread)
            atexit.register(self._at_exit)
            # When the refresher goes; the interpreter's exit is _stop's.
            weakref.finalize(self, _forget, self._wake, self._stopping,
                             self._at_exit).atexit = False
            thread.start()
            self._thread = thread

    def stop(self) -> None:
        """Stop the thread (it is started again when a request needs it)."""
        with self._lock:
            thread, self._thread = self._thread, None
            at_exit, self._at_exit = self._at_exit, None
            wake, stopping = self._wake, self._stopping
            self._wake, self._stopping = threading.Event(), threading.Event()
        if thread is not None and at_exit is not None:
            atexit.unregister(at_exit)
            _stop(wake, stopping, thread)
        for entry in self._entries.values():
            entry.run = None
        self._changed()

    def tick(self) -> float:
        """Start what is due, take in what ended; seconds until the next look."""
        runner = self._runner()
        if runner is None:
            return STOP_SECONDS
        now = time.perf_counter()
        wake_at = now + 3600.0
        notify = self._wake.set
        for entry in list(self._entries.values()):
            if entry.unpublished and entry.result is not None:
                entry.unpublished = False
                self._publish(entry, entry.result)
            if entry.run is not None:
                outcome = runner.finish(entry.run, now)
                if not isinstance(outcome, Result):
                    wake_at = min(wake_at, outcome)
                    continue
                entry.run = None
                self._store(entry, outcome, publish=entry.mine)
            if entry.due <= now:
                entry.due = now + entry.interval
                run, found = self._ask(entry)
                if not run:
                    if found is not None and self._take(entry, found):
                        # The next one is due an interval after this one.
                        held = cast(Result, entry.result)
                        entry.due = now + max(held.time + entry.interval - time.time(),
                                              entry.poll())
                    else:
                        entry.due = now + entry.poll()
                else:
                    run = runner.start(entry.name, entry.handler, entry.timeout, notify)
                    if isinstance(run, Result):
                        self._store(entry, run, publish=entry.mine)
                    elif run is not None:
                        entry.run = run
                        wake_at = min(wake_at, now + entry.timeout)
            wake_at = min(wake_at, entry.due)
        return max(wake_at - time.perf_counter(), 0.0)

    def _failed(self, what: str, entry: _Entry, exc: Exception) -> None:
        missed = self._throttle.fail()
        if missed is not None:
            log.warning("cannot %s status handler %r: %s%s", what, entry.name, exc,
                        f" ({missed} more failures since the last warning)" if missed else "")


def _serve(ref: weakref.ReferenceType[Refresher], wake: threading.Event,
           stopping: threading.Event) -> None:
    """The refresher's thread: it holds the refresher only while it looks."""
    while not stopping.is_set():
        refresher = ref()
        if refresher is None:
            return
        wake.clear()  # before looking: a wake-up meanwhile is not lost
        try:
            delay = refresher.tick()
        except Exception:  # a bug: keep refreshing the others
            log.exception("lovely.ws.status: the refresher failed")
            delay = STOP_SECONDS
        del refresher
        wake.wait(delay)


def _stop(wake: threading.Event, stopping: threading.Event, thread: threading.Thread) -> None:
    stopping.set()
    wake.set()
    if thread is not threading.current_thread() and thread.is_alive():
        thread.join(STOP_SECONDS)


def _forget(wake: threading.Event, stopping: threading.Event, at_exit: Any) -> None:
    stopping.set()
    wake.set()
    atexit.unregister(at_exit)
