"""gunicorn server hooks, for ``gunicorn.conf.py``::

    from lovely.ws.status.gunicorn import post_worker_init

Needed with ``preload_app = True``: the apps are configured in the arbiter
before it forks, and each worker then resets its signal handlers, which
takes away the drain of ``probestatus.drain_seconds``. (If you have your
own ``post_worker_init``, call this one from it.)
"""
from __future__ import annotations

from typing import Any, List

from pyramid.config import global_registries

from .appstatus import IAppStatus
from .probe.drain import Drainer

__all__ = ["post_worker_init"]


def post_worker_init(worker: Any = None) -> List[Drainer]:
    """Install again the drain of every app made in this process.

    Returns the drainer now in place in a list, empty when no app drains.
    Harmless without preloading (it is already there).
    """
    apps = []
    for registry in list(global_registries):
        app = registry.queryUtility(IAppStatus)
        if app is not None and app.drainer is not None:
            apps.append(app)
    if not apps:
        return []
    # One drainer per process, the newest configuration winning, as
    # install_sigterm_handler() does: reinstalling each app's own would chain
    # them (after uninstall_sigterm_handler(), or with apps not yet garbage
    # collected), and one SIGTERM would drain once per drainer in turn.
    drainer = apps[-1].drainer
    if not drainer.reinstall():
        return []
    for app in apps:
        app.drainer = drainer
    return [drainer]
