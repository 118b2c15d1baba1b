"""The pool of threads that run handlers: at most ``max_workers`` counted
threads, started on demand; a thread stuck past its deadline is detached
and ends when its task returns."""
from __future__ import annotations

import threading

from lovely.ws.status.evaluation.pool import WorkerPool

from ..helpers import PATIENCE, wait_until


class Task:
    """A pool task that runs until released; returns whether its thread
    was detached meanwhile (``detached`` is set by the test)."""

    def __init__(self):
        self.started = threading.Event()
        self.release = threading.Event()
        self.detached = False
        self.thread = None

    def __call__(self):
        self.thread = threading.current_thread()
        self.started.set()
        self.release.wait(PATIENCE)
        return self.detached


def test_threads_start_on_demand_up_to_max_workers():
    pool = WorkerPool(2)
    assert pool._threads == 0
    tasks = [Task(), Task()]
    try:
        assert pool.submit(tasks[0])
        assert pool.submit(tasks[1])
        for task in tasks:
            assert task.started.wait(PATIENCE)
        assert pool._threads == 2
        assert tasks[0].thread is not tasks[1].thread
        assert tasks[0].thread.daemon
        # Full: a task that need not run waits for nothing ...
        assert not pool.submit(Task())
    finally:
        for task in tasks:
            task.release.set()
    # ... and once a thread is free again, it is used, not a new one.
    wait_until(lambda: pool._idle == 2, "both threads idle")
    again = Task()
    again.release.set()
    assert pool.submit(again)
    assert again.started.wait(PATIENCE)
    assert again.thread in {t.thread for t in tasks}
    assert pool._threads == 2


def test_a_forced_task_waits_for_the_next_free_thread():
    pool = WorkerPool(1)
    busy, waiting = Task(), Task()
    try:
        assert pool.submit(busy)
        assert busy.started.wait(PATIENCE)
        assert pool.submit(waiting, force=True)
        assert pool._idle == -1  # one task waits for a thread
        busy.release.set()
        assert waiting.started.wait(PATIENCE)
        assert waiting.thread is busy.thread
    finally:
        busy.release.set()
        waiting.release.set()


def test_detaching_a_stuck_thread_gives_a_waiting_task_a_new_one():
    pool = WorkerPool(1)
    stuck, waiting = Task(), Task()
    try:
        assert pool.submit(stuck)
        assert stuck.started.wait(PATIENCE)
        assert pool.submit(waiting, force=True)
        stuck.detached = True
        pool.detach(1)
        assert waiting.started.wait(PATIENCE)
        assert waiting.thread is not stuck.thread
        assert pool._threads == 1
        # The detached thread ends once its task returns; it takes no more.
        stuck.release.set()
        stuck.thread.join(PATIENCE)
        assert not stuck.thread.is_alive()
        assert pool._threads == 1
    finally:
        stuck.release.set()
        waiting.release.set()


def test_detaching_without_waiting_tasks_starts_no_thread():
    pool = WorkerPool(2)
    stuck = Task()
    try:
        assert pool.submit(stuck)
        assert stuck.started.wait(PATIENCE)
        stuck.detached = True
        pool.detach(1)
        assert pool._threads == 0
    finally:
        stuck.release.set()
    stuck.thread.join(PATIENCE)
    assert pool._threads == 0
