"""The threads that run handlers for the requests: :class:`WorkerPool`."""
from __future__ import annotations

import logging
import threading
import weakref
from queue import Empty, SimpleQueue
from typing import Callable, List, Optional

__all__: List[str] = []

log = logging.getLogger("lovely.ws.status")

#: A unit of work: runs on a pool thread; returns ``True`` when its thread
#: was :meth:`detached <WorkerPool.detach>` meanwhile and must end.
Task = Callable[[], bool]


class WorkerPool:
    """At most ``max_workers`` daemon threads, started on demand.

    A thread left inside a handler that missed its deadline is *detached*:
    it no longer counts, so hung handlers cannot take every thread, and it
    ends once the handler returns. (A hung handler is not started again
    while it runs, so there are never more such threads than handlers.)
    Idle threads end after :attr:`IDLE_SECONDS`, or soon after the pool is
    gone; daemon threads never block the interpreter's exit.
    """

    IDLE_SECONDS = 60.0

    def __init__(self, max_workers: int) -> None:
        self.max_workers = max_workers
        self._tasks: SimpleQueue[Optional[Task]] = SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        # Threads waiting for a task minus tasks waiting for a thread.
        self._idle = 0
        # When the pool goes (its app is gone), wake its idle threads so
        # that they end now rather than after IDLE_SECONDS.
        weakref.finalize(self, _wake, self._tasks, max_workers)

    def submit(self, task: Task, force: bool = False) -> bool:
        """Run ``task`` on a free thread, or a new one if the pool may grow.

        Otherwise ``False``, unless ``force``: then the task waits for the
        next free thread.
        """
        with self._lock:
            spawn = self._idle <= 0 and self._threads < self.max_workers
            if self._idle <= 0 and not spawn and not force:
                return False
            self._idle -= 1
            if spawn:
                self._threads += 1
        self._tasks.put(task)
        if spawn:
            self._spawn()
        return True

    def detach(self, n: int) -> None:
        """Stop counting ``n`` threads that are stuck in handlers past their
        deadline; tasks waiting for a thread get new ones."""
        with self._lock:
            self._threads -= n
            wanted = max(min(-self._idle, self.max_workers - self._threads), 0)
            self._threads += wanted
        for _ in range(wanted):
            self._spawn()

    def _spawn(self) -> None:
        # The thread holds the pool only by a weak reference: a pool whose
        # evaluator is gone (an app of a test suite) lets its threads end.
        ref = weakref.ref(self)
        try:
            threading.Thread(target=_work, args=(ref, self._tasks), name="lovely.ws.status",
                             daemon=True).start()
        except RuntimeError as exc:  # out of threads: the task waits for another one
            with self._lock:
                self._threads -= 1
            log.error("cannot start a status worker thread: %s", exc)


def _work(ref: weakref.ReferenceType[WorkerPool], tasks: SimpleQueue[Optional[Task]]) -> None:
    """The loop of a pool thread: run tasks until idle for IDLE_SECONDS, or
    until the pool is gone."""
    pool = ref()
    if pool is None:
        return
    with pool._lock:
        pool._idle += 1
    idle_seconds = pool.IDLE_SECONDS
    del pool
    while True:
        try:
            task = tasks.get(timeout=idle_seconds)
        except Empty:
            task = None
        pool = ref()
        if pool is None:
            return
        if task is None:
            with pool._lock:
                if pool._idle > 0:  # no task is on its way to this thread
                    pool._idle -= 1
                    pool._threads -= 1
                    return
            del pool
            continue
        detached = False
        try:
            detached = task()
        except BaseException:  # noqa: B036 - tasks handle their own; a broken log too
            pass
        finally:
            task = None  # an idle thread must not keep its last job's handlers alive
            if not detached:
                with pool._lock:
                    pool._idle += 1
        if detached:
            return
        del pool


def _wake(tasks: SimpleQueue[Optional[Task]], n: int) -> None:
    for _ in range(n):
        tasks.put(None)
