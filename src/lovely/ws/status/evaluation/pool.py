"""The threads that run handlers for the requests: :class:`WorkerPool`."""
from __future__ import annotations

import logging
import threading
from queue import Empty, SimpleQueue
from typing import Callable, List

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
    Idle threads end after :attr:`IDLE_SECONDS`; daemon threads never
    block the interpreter's exit.
    """

    IDLE_SECONDS = 60.0

    def __init__(self, max_workers: int) -> None:
        self.max_workers = max_workers
        self._tasks: SimpleQueue[Task] = SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        # Threads waiting for a task minus tasks waiting for a thread.
        self._idle = 0

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
        try:
            threading.Thread(target=self._work, name="lovely.ws.status", daemon=True).start()
        except RuntimeError as exc:  # out of threads: the task waits for another one
            with self._lock:
                self._threads -= 1
            log.error("cannot start a status worker thread: %s", exc)

    def _work(self) -> None:
        with self._lock:
            self._idle += 1
        while True:
            try:
                task = self._tasks.get(timeout=self.IDLE_SECONDS)
            except Empty:
                with self._lock:
                    if self._idle > 0:  # no task is on its way to this thread
                        self._idle -= 1
                        self._threads -= 1
                        return
                continue
            try:
                detached = task()
            except BaseException:  # pragma: no cover - tasks handle their own
                log.exception("status worker failed")
                detached = False
            if detached:
                return
            with self._lock:
                self._idle += 1
