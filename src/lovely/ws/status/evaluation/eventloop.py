"""The event loop that awaits async handlers: :class:`EventLoop`.

A handler that is a coroutine function, or returns any other awaitable, is
called on a pool thread like every handler; what it returns is handed to
one asyncio event loop on a daemon thread of its own, so that many slow
async handlers wait side by side on that one thread. At its deadline the
awaitable is cancelled for real: ``CancelledError`` is raised inside it and
its ``finally`` runs.
"""
from __future__ import annotations

import asyncio
import logging
import threading
import weakref
from concurrent.futures import Future
from typing import Any, Callable, List, Optional

__all__: List[str] = []

log = logging.getLogger("lovely.ws.status")

#: Called on the loop's thread with the awaitable's result, or ``None``
#: and the exception it raised (:class:`OverdueError` when it was cancelled at
#: its deadline).
Done = Callable[[Any, Optional[BaseException]], None]


class OverdueError(Exception):
    """The awaitable was cancelled at its deadline."""


async def _awaited(awaitable: Any, timeout: Optional[float]) -> Any:
    if timeout is None:
        return await awaitable
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    try:
        return await asyncio.wait_for(awaitable, timeout)
    except asyncio.TimeoutError:
        if loop.time() < end:  # the handler's own TimeoutError
            raise
        raise OverdueError() from None


class EventLoop:
    """One asyncio event loop on a daemon thread, started on first use.

    The thread ends when the loop's owner lets go of it. After a fork the
    child starts a loop of its own (:meth:`after_fork`): the parent's
    thread did not come along.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: Optional[asyncio.AbstractEventLoop] = None

    def after_fork(self) -> None:
        # The parent's loop is left as it is: it "runs" in a thread the
        # child does not have, so it can be neither stopped nor closed.
        self._lock = threading.Lock()
        self._loop = None

    def _running(self) -> asyncio.AbstractEventLoop:
        loop = self._loop
        if loop is not None:
            return loop
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                started = threading.Event()
                threading.Thread(target=_serve, args=(loop, started),
                                 name="lovely.ws.status asyncio", daemon=True).start()
                started.wait()
                weakref.finalize(self, _stop, loop)
                self._loop = loop
            return self._loop

    def submit(self, awaitable: Any, timeout: Optional[float], done: Done) -> None:
        """Await ``awaitable`` on the loop, cancelled after ``timeout``
        seconds (``None``: never); ``done`` gets the outcome.

        The awaitable runs in a copy of the caller's context variables.
        """
        try:
            future = asyncio.run_coroutine_threadsafe(
                _awaited(awaitable, timeout), self._running())
        except BaseException as exc:  # noqa: B036 - no loop, no thread: the handler failed
            _close(awaitable)
            done(None, exc)
            return
        future.add_done_callback(lambda f: _report(f, done))


def _report(future: Future[Any], done: Done) -> None:
    try:
        exc = future.exception()
    except BaseException as cancelled:  # noqa: B036 - CancelledError: the loop stopped
        exc = cancelled
    try:
        done(None if exc is not None else future.result(), exc)
    except BaseException:  # noqa: B036 - the loop's thread must go on
        log.exception("lovely.ws.status: reporting an async handler's result failed")


def _close(awaitable: Any) -> None:
    """Close a coroutine that will never be awaited (no "never awaited" warning)."""
    close = getattr(awaitable, "close", None)
    if asyncio.iscoroutine(awaitable) and close is not None:
        close()


def _serve(loop: asyncio.AbstractEventLoop, started: threading.Event) -> None:
    asyncio.set_event_loop(loop)
    loop.call_soon(started.set)
    try:
        loop.run_forever()
    finally:
        # What is still pending when the owner is gone: cancel it, let it
        # unwind, close the loop.
        tasks = asyncio.all_tasks(loop)
        for task in tasks:
            task.cancel()
        if tasks:
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        loop.close()


def _stop(loop: asyncio.AbstractEventLoop) -> None:
    try:
        loop.call_soon_threadsafe(loop.stop)
    except RuntimeError:  # closed already
        pass
