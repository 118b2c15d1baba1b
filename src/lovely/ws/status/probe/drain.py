"""Drain before shutdown: on ``SIGTERM``, fail the probe, wait, then stop.

A load balancer notices a stopped instance only after some failed requests;
Kubernetes removes a pod from its endpoints while the pod is already
stopping. Draining closes that gap, as Kubernetes' ``preStop`` hooks and
Node's ``terminus`` do: on ``SIGTERM`` the process keeps serving, but
``/probe_status`` (and Dockerflow's ``/__lbheartbeat__``) answer 503 with the
drain text; after the configured number of seconds the signal takes its
usual course (the previous handler runs, or the process terminates).

The drain concerns this process only: it never writes to a shared store,
so stopping one worker or one host never takes the others out of rotation,
and a new process starts with the stored text. The :class:`Drainer` in
the signal table is therefore what knows whether this process drains; the
apps that configured it keep a reference and ask it.

Enable it with the setting ``probestatus.drain_seconds`` (done at
configuration commit). A second ``SIGTERM`` during the wait ends it at once.
"""
from __future__ import annotations

import logging
import os
import signal
import threading
from typing import Any, List, Optional

from ..settings import seconds as check_seconds
from .store import OK, checked_text

__all__: List[str] = []

log = logging.getLogger("lovely.ws.status.drain")

DEFAULT_TEXT = "DRAINING"


class Drainer:
    """The signal handler installed by :func:`install_sigterm_handler`.

    :ivar draining: whether the drain has started (the probe answers
        :attr:`text` with 503 from then on).
    :ivar previous: the handler it replaced, called (or the default action
        taken) when the drain is over.
    """

    def __init__(self, seconds: float, text: str, signum: int, previous: Any) -> None:
        self.seconds = seconds
        self.text = text
        self.signum = signum
        self.previous = previous
        self.draining = False
        self._timer: Optional[threading.Timer] = None

    def __call__(self, signum: int, frame: Any) -> None:
        if not self.draining:
            self.draining = True
            log.warning(
                "signal %s: answering %r on the probe for %s s before stopping",
                signum, self.text, self.seconds,
            )
            # Python runs signal handlers in the main thread; aim the second
            # signal there so that a select() or accept() wakes up at once.
            main = threading.main_thread().ident
            timer = threading.Timer(self.seconds, _signal_thread, (main, signum))
            timer.daemon = True
            self._timer = timer
            timer.start()
            return
        self._finish(signum, frame)

    def reinstall(self) -> bool:
        """Put this drainer back into the signal table (after a fork whose
        child reset the signal handlers); ``False`` if that cannot be done."""
        current = signal.getsignal(self.signum)
        if current is self:
            return True
        try:
            signal.signal(self.signum, self)
        except ValueError as exc:  # not the main thread of the main interpreter
            log.warning("cannot drain on signal %s: %s", self.signum, exc)
            return False
        self.previous = current
        return True

    def _finish(self, signum: int, frame: Any) -> None:
        if self._timer is not None:
            self._timer.cancel()
        previous = self.previous
        log.warning("signal %s: drain over, stopping", signum)
        if previous is signal.SIG_IGN:
            return
        if callable(previous):
            signal.signal(signum, previous)
            previous(signum, frame)
            return
        # SIG_DFL, or a handler installed outside Python: let the signal do
        # what it would have done without us (terminate the process).
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    def __repr__(self) -> str:
        return f"<Drainer {self.seconds} s {self.text!r} previous={self.previous!r}>"


def _signal_thread(ident: Optional[int], signum: int) -> None:
    if ident is not None and hasattr(signal, "pthread_kill"):
        signal.pthread_kill(ident, signum)
    else:
        os.kill(os.getpid(), signum)


def install_sigterm_handler(
    seconds: float, text: str = DEFAULT_TEXT, signum: int = signal.SIGTERM
) -> Optional[Drainer]:
    """Drain for ``seconds`` on ``signum`` (``SIGTERM``), then chain to the old handler.

    Installing again updates the installed handler instead of stacking a
    second one. Returns the handler, or ``None`` when it cannot be installed
    (signal handlers can only be set from the main thread; a warning is
    logged then).

    :param seconds: how long the probe answers ``text`` with 503 before the
        signal takes its course.
    :param text: the probe text while draining (not ``OK``).
    """
    seconds = check_seconds(seconds, "the drain's seconds")
    if checked_text(text) == OK:
        raise ValueError("the drain text must not be 'OK'")
    current = signal.getsignal(signum)
    if isinstance(current, Drainer):
        current.seconds = seconds
        current.text = text
        return current
    drainer = Drainer(seconds, text, signum, current)
    try:
        signal.signal(signum, drainer)
    except ValueError as exc:  # not the main thread of the main interpreter
        log.warning("cannot drain on signal %s: %s", signum, exc)
        return None
    return drainer


def uninstall_sigterm_handler(signum: int = signal.SIGTERM) -> bool:
    """Put back the handler that :func:`install_sigterm_handler` replaced.

    For processes that load the app but serve nothing (console scripts,
    task workers), where a delayed ``SIGTERM`` helps nobody. Returns whether
    a drain handler was removed; a drain in progress is not undone.
    """
    current = signal.getsignal(signum)
    if not isinstance(current, Drainer) or current.draining:
        return False
    previous = current.previous
    signal.signal(signum, signal.SIG_DFL if previous is None else previous)
    return True
