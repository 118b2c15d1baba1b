""":class:`Calls`: code other than a handler (the text of what a handler
returned) run on a status thread under a deadline, a few at a time."""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable, List, Optional, TypeVar, cast

from .pool import WorkerPool

__all__: List[str] = []

log = logging.getLogger("lovely.ws.status")

T = TypeVar("T")

#: Most calls at once (see :meth:`Calls.call`).
MAX_CALLS = 4


class Calls:
    """The calls of one evaluator, on its pool's threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0
        self._stuck = 0  # of which running past their deadline

    def call(self, pool: WorkerPool, function: Callable[[], T],
             timeout: float) -> Optional[T]:
        """What ``function()`` returns, called on a thread of ``pool``:
        ``None`` if it did not return within ``timeout`` seconds (or raised).

        Returns ``None`` at once while :data:`MAX_CALLS` calls are running,
        or one is running past its deadline: code that hangs holds a few
        threads at most, not one per request.
        """
        with self._lock:
            if self._running >= MAX_CALLS or self._stuck:
                return None
            self._running += 1
        call = _Call(function, self._ended)
        if not pool.submit(call, force=True):
            call.end()
            return None
        if call.done.wait(timeout):
            return cast(Optional[T], call.value)
        with call.lock:
            if call.done.is_set():
                return cast(Optional[T], call.value)
            call.abandoned = True
            with self._lock:
                self._stuck += 1
        pool.detach(1)
        return None

    def _ended(self, abandoned: bool) -> None:
        with self._lock:
            self._running -= 1
            if abandoned:
                self._stuck -= 1


class _Call:
    """One call of :meth:`Calls.call`: a pool task."""

    __slots__ = ("function", "value", "done", "lock", "abandoned", "ended")

    def __init__(self, function: Callable[[], Any],
                 ended: Callable[[bool], None]) -> None:
        self.function = function
        self.value: Any = None
        self.done = threading.Event()
        self.lock = threading.Lock()
        self.abandoned = False  # the caller gave up: the thread was detached
        self.ended = ended  # told once, whether the caller gave up

    def __call__(self) -> bool:
        try:
            self.value = self.function()
        except BaseException:  # noqa: B036 - SystemExit from a __str__ is no reason to hang
            log.exception("lovely.ws.status: making text of a status failed")
        return self.end()

    def end(self) -> bool:
        with self.lock:
            self.done.set()
            abandoned = self.abandoned
        self.ended(abandoned)
        return abandoned
